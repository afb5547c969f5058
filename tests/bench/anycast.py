#!/usr/bin/python3
"""Anycast: client DNS queries lost per event at one site of two (issue #18).

The lab is anycast_lab.AnycastLab: a client, a router (BIRD 2 installing its best BGP routes in
the kernel, forwarding on) and sites A and B, each with unbound on 192.0.2.53 and 2001:db8:53::53
and its own speaker. The router prefers A while A announces. Per speaker a fresh lab; the client
runs dnsperf at a fixed rate (default 5,000 queries/s) through each round:

  1. dnsperf starts (one run per round: -Q RATE -t 1 -c 1 -T 1 -q 10000, stopped by SIGINT);
  2. after 0.3 s plus a random fraction of the check interval, the event happens at site A;
  3. events that move traffic: wait until the router's FIB sends 192.0.2.53 to B, then undo
     the event at A (DNS server started again, SIGCONT, undrain, speaker started again, link up);
  4. wait until the FIB sends both addresses to A again and A's session is up, then 1.2 s more
     (longer than dnsperf's 1 s timeout, so that every lost query has timed out), and stop dnsperf.

Lost queries = sent - NOERROR answers - queries still in flight when dnsperf was stopped
(timeouts and error answers, over the whole round). Beside it, from kernel-timestamped sources:
- the FIB switch: `ip -ts monitor route` in the router, first change of 192.0.2.53 to B's next hop;
- the signal out of A: tcpdump on the router's interface towards A, the first UPDATE naming the
  prefix, NOTIFICATION, FIN or RST from A after the event;
- the router's part (the floor no speaker can remove): signal in -> FIB change. The speaker's
  share of a loss is (signal out - event) / (FIB switch - event).

Events (at site A):
  crash            unbound gets SIGKILL; undo: a new unbound
  restart          unbound is stopped (SIGTERM, waited for) and started again, as `systemctl
                   restart` does it; nothing to undo
  restart-dropin   (herald only) the restart as systemd runs it with herald's drop-in
                   (packaging/dropins/unbound.service.d/herald.conf, its command lines parsed from
                   the file, %n = unbound.service): its ExecStop= (`heraldctl drain --unit
                   unbound.service --wait`: returns once withdrawn everywhere, after drain-period
                   and drain-settle); undo: unbound stopped and started, then its ExecStartPost=
                   (`heraldctl undrain --unit unbound.service`). systemd is not PID 1 here: the
                   bench runs those lines itself in systemd's order
  freeze           unbound gets SIGSTOP; undo: SIGCONT
  drain            the operator drains: `heraldctl drain dns` (herald), `birdc disable` of the
                   static routes (BIRD); undo: undrain / enable. ExaBGP with the dig script has
                   no drain command: n/a
  speaker-kill     the speaker daemon gets SIGKILL (ExaBGP's check loops with it); undo: start it
  speaker-restart  the speaker is stopped (SIGTERM, waited for) and started again at once, as a
                   package upgrade does it
  link-down        site A's link to the router goes down (`ip link set eth0 down` in A); undo: up
  none             nothing happens: the background loss of the lab itself

    anycast.py [--quick] [--rounds N] [--events crash,drain,...] [--speakers herald,herald-fast,...]
               [--rate Q] [--router bird|frr] [--json FILE]
Prints markdown tables on stdout; --json also writes every round's figures (lost, event->FIB...)
to FILE, to see how a loss follows the outage round by round. Exit status non-zero when the lab cannot run or the
measurement is broken (no answers, a round that never settled), never for a figure.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sys
import time
from typing import Callable, Optional

import anycast_lab as al
import benchlib as bl
import contenders as ct
from benchlib import harness
import dropins  # tests/integration, on the path through benchlib

ALL_EVENTS = ["crash", "restart", "restart-dropin", "freeze", "drain", "speaker-kill", "speaker-restart", "link-down", "none"]
QUICK_EVENTS = ["crash", "drain", "speaker-kill"]
ALL_SPEAKERS = ["herald", "herald-pidfd", "herald-fast", "exabgp", "bird"]
# Events that take site A out of service until they are undone.
MOVING = {"crash", "restart-dropin", "freeze", "drain", "speaker-kill", "link-down"}
# Events only herald has (the drop-ins call heraldctl): n/a for the other speakers.
HERALD_ONLY = {"restart-dropin"}
ROUTERS = {"bird": "BIRD 2 (kernel protocol, `check link`)", "frr": "FRR 8 (bgpd and zebra)"}


def settings_for(speaker: str) -> tuple[str, ct.Settings, Optional[int], bool]:
    """(contender kind, settings, herald's fast interval, whether herald watches the DNS
    server's process). The shared setting is issue #18's: 100 ms, rise 2, fall 2 (dig +time=1
    for the scripts, herald's timeout 80 ms); herald-pidfd adds a process check on unbound's
    pidfile to it; herald's fast setting is failover.py's: 10 ms, rise 2, fall 2, 20 ms timeout."""
    if speaker == "herald-fast":
        return "herald", ct.Settings(interval_ms=10, timeout_ms=20, rise=2, fall=2), 10, False
    settings = ct.Settings(interval_ms=100, timeout_ms=80, rise=2, fall=2, dig_time=1)
    if speaker == "herald-pidfd":
        return "herald", settings, None, True
    return speaker, settings, None, False


class DnsPerf:
    """One dnsperf run in the client namespace, stopped by SIGINT; its final statistics."""

    def __init__(self, lab: al.AnycastLab, qfile: str, rate: int, name: str, server: str = al.ANYCAST_V4):
        self.proc = lab.client.popen(["stdbuf", "-oL", "dnsperf", "-s", server, "-d", qfile, "-l", "300",
                                      "-Q", str(rate), "-t", "1", "-c", "1", "-T", "1", "-q", "10000"], name)
        harness.wait_for(lambda: "Sending queries" in self.proc.log() or not self.proc.alive(), 10, 0.01,
                         "dnsperf to start sending")
        if not self.proc.alive():
            raise RuntimeError("dnsperf exited at start: " + self.proc.log())

    def stop(self) -> dict:
        self.proc.signal(signal.SIGINT)
        try:
            self.proc.popen.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a hung dnsperf is a broken measurement
            self.proc.kill()
            return {}
        return parse_dnsperf(self.proc.log())


def parse_dnsperf(text: str) -> dict:
    """dnsperf 2.10's final statistics: sent, completed, lost (timed out), interrupted, run time,
    qps and the count of each response code."""
    out: dict = {"codes": {}}
    for key, label in (("sent", "Queries sent"), ("completed", "Queries completed"), ("lost", "Queries lost"),
                       ("interrupted", "Queries interrupted")):
        m = re.search(rf"{label}:\s+(\d+)", text)
        out[key] = int(m.group(1)) if m else 0
    m = re.search(r"Run time \(s\):\s+([\d.]+)", text)
    out["seconds"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        for code, n in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            out["codes"][code] = int(n)
    return out


def signals_from(pcap: str, src: str) -> list[tuple[float, str]]:
    """(kernel time, what) of each message from `src` that tells the router about the service:
    an UPDATE naming 192.0.2.53/32, a NOTIFICATION, and each FIN or RST (session gone)."""
    out = []
    for m in bl.bgp_messages(pcap):
        if m.src != src:
            continue
        if m.type == 2 and ("-" + al.PREFIX_V4 in m.prefixes or "+" + al.PREFIX_V4 in m.prefixes):
            out.append((m.ts, "update"))
        elif m.type == 3:
            out.append((m.ts, "notification"))
    for ts, frame in bl.read_pcap(pcap):
        p = bl.ip_payload(frame)
        if p and p[0] == 6 and p[1] == src and len(p[3]) >= 14 and p[3][13] & 0x05:
            out.append((ts, "fin/rst"))
    return sorted(out)


class Round:
    """One event's timestamps (wall clock, as the FIB monitor and tcpdump), dnsperf's statistics
    and, when the lab did not behave, why (then the measurement is broken)."""

    def __init__(self, event: str):
        self.event = event
        self.t_event = self.t_undo = self.t_end = 0.0
        self.stats: dict = {}
        self.problem: Optional[str] = None


def act(lab: al.AnycastLab, speaker: str, event: str) -> Optional[Callable[[], None]]:
    """Makes `event` happen at site A; returns how to undo it (None: nothing to undo)."""
    a = lab.a
    if event == "crash":
        a.topo.dns.proc.kill()
        a.topo.dns = None
        return lambda: a.start_dns()
    if event == "restart":
        a.topo.stop_dns()
        a.start_dns()
        return None
    if event == "restart-dropin":
        def unit(key: str) -> None:
            for argv in dropins.commands("unbound", key):
                harness.run(dropins.heraldctl_argv(argv, bl.herald_binary("heraldctl"), a.lab.path("herald.sock")),
                            timeout=90)

        unit("ExecStop")

        def start_again() -> None:
            a.topo.stop_dns()
            a.start_dns(wait=True)  # Type=notify: ExecStartPost runs once the server is ready
            unit("ExecStartPost")
        return start_again
    if event == "freeze":
        dns = a.topo.dns
        dns.proc.signal(signal.SIGSTOP)
        return lambda: dns.proc.signal(signal.SIGCONT)
    if event == "drain":
        if speaker.startswith("herald"):
            a.speaker.ctl("drain", "dns")
            return lambda: a.speaker.ctl("undrain", "dns")
        bird = a.speaker.bird
        bird.ctl('disable "dns_v*"')
        return lambda: bird.ctl('enable "dns_v*"')
    if event == "speaker-kill":
        a.kill_speaker(signal.SIGKILL)
        return a.restart_speaker
    if event == "speaker-restart":
        a.kill_speaker(signal.SIGTERM)
        a.restart_speaker()
        return None
    if event == "link-down":
        a.link(False)
        return lambda: a.link(True)
    if event == "none":
        return None
    raise ValueError(event)


def settled(lab: al.AnycastLab) -> bool:
    return (lab.via_site(al.ANYCAST_V4) == "a" and lab.via_site(al.ANYCAST_V6) == "a"
            and lab.session_up("a") and lab.session_up("b"))


def run_round(lab: al.AnycastLab, speaker: str, event: str, qfile: str, rate: int, interval_ms: int,
              index: int) -> Round:
    r = Round(event)
    dp = DnsPerf(lab, qfile, rate, f"dnsperf-{speaker}-{event}-{index}")
    try:
        time.sleep(0.3 + random.uniform(0, interval_ms / 1000))
        r.t_event = time.time()
        undo = act(lab, speaker, event)
        if event in MOVING:
            try:
                bl.wait_until(lambda: lab.via_site() == "b", 10, "the FIB to move to site B", 0.01)
            except TimeoutError:
                r.problem = "the FIB did not move to site B within 10 s"
            time.sleep(0.3)
        else:
            time.sleep(1.0)
        if undo:
            r.t_undo = time.time()
            undo()
        try:
            bl.wait_until(lambda: settled(lab), 30, "the FIB back at site A", 0.02)
        except TimeoutError:
            r.problem = r.problem or "the FIB did not settle at site A again within 30 s"
        time.sleep(1.2)
    finally:
        r.t_end = time.time()
        r.stats = dp.stop()
    return r


def run_speaker(speaker: str, events: list[str], rounds: int, rate: int, router: str) -> dict:
    kind, settings, fast, watch_process = settings_for(speaker)
    res: dict = {"speaker": speaker, "error": None, "rounds": []}
    with harness.Lab(f"ac{speaker[:3]}") as lab:
        alab = al.AnycastLab(lab, router=router)
        for site in alab.sites.values():
            site.start_speaker(kind, settings, fast, watch_dns_process=watch_process)
            site.start_dns()
        try:
            bl.wait_until(lambda: settled(alab) and alab.client_answers(), 40,
                          f"{speaker}: both sessions up, the FIB at site A and the client answered", 0.05)
        except TimeoutError as e:
            res["error"] = str(e)
            return res
        qfile = lab.write("queries.txt", f"{bl.QNAME} A\n")
        cap = bl.Capture(lab, alab.router, alab.a.addr.iface, "tcp port 179", f"ac-{speaker}")
        raw: list[Round] = []
        for event in events:
            if (event == "drain" and kind == "exabgp") or (event in HERALD_ONLY and kind != "herald"):
                continue
            for i in range(rounds):
                r = run_round(alab, speaker, event, qfile, rate, settings.interval_ms, i)
                raw.append(r)
                if r.problem:
                    res["error"] = f"{event} round {i}: {r.problem}"
                    break
            if res["error"]:
                break
        pcap = cap.stop()
        sig = signals_from(pcap, alab.a.addr.node_v4)
        to_b = alab.b.addr.iface
        for r in raw:
            s = r.stats
            fib = alab.fib.first_via(al.ANYCAST_V4, to_b, r.t_event)
            fib = fib if fib is not None and fib <= r.t_end else None
            fib6 = alab.fib.first_via(al.ANYCAST_V6, to_b, r.t_event)
            fib6 = fib6 if fib6 is not None and fib6 <= r.t_end else None
            # The signal that moved the traffic (none when the FIB never moved to B).
            out = None if fib is None else next((t for t, _ in sig if r.t_event <= t <= fib), None)
            noerror = s.get("codes", {}).get("NOERROR", 0)
            row = {
                "event": r.event,
                "sent": s.get("sent", 0),
                "noerror": noerror,
                "lost": s.get("sent", 0) - noerror - s.get("interrupted", 0),
                "interrupted": s.get("interrupted", 0),
                "qps": s.get("sent", 0) / s["seconds"] if s.get("seconds") else 0.0,
                "fib": None if fib is None else fib - r.t_event,
                "fib6_after_v4": None if (fib is None or fib6 is None) else fib6 - fib,
                "out": None if out is None else out - r.t_event,
                "router": None if (out is None or fib is None) else fib - out,
            }
            row["share"] = (row["out"] / row["fib"]) if (row["out"] is not None and row["fib"]) else None
            res["rounds"].append(row)
    return res


def pct(v: Optional[float]) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def render(results: list[dict], events: list[str], rate: int, rounds: int, router: str) -> str:
    rows = []
    floor: list[float] = []
    for event in events:
        for res in results:
            rs = [r for r in res["rounds"] if r["event"] == event]
            if not rs:
                if event == "drain" and res["speaker"] == "exabgp":
                    rows.append([event, res["speaker"], "n/a (no drain command)"] + ["-"] * 9)
                elif event in HERALD_ONLY and not res["speaker"].startswith("herald"):
                    rows.append([event, res["speaker"], "n/a (herald's drop-in)"] + ["-"] * 9)
                continue
            lost = bl.summary([float(r["lost"]) for r in rs])
            fib = bl.summary([r["fib"] for r in rs])
            out = bl.summary([r["out"] for r in rs])
            part = bl.summary([r["router"] for r in rs])
            share = bl.summary([r["share"] for r in rs])
            v6 = bl.summary([r["fib6_after_v4"] for r in rs])
            qps = min(r["qps"] for r in rs)
            floor += [r["router"] for r in rs if r["router"] is not None]
            rows.append([event, res["speaker"], len(rs), f"{lost['median']:.0f}", f"{lost['worst']:.0f}",
                         f"{bl.fmt_ms(fib['median'])} / {bl.fmt_ms(fib['worst'])}" + (f" ({fib['n']})" if fib["n"] != len(rs) else ""),
                         bl.fmt_ms(out["median"]), f"{bl.fmt_ms(part['median'], 2)} / {bl.fmt_ms(part['worst'], 2)}",
                         pct(share["median"]), bl.fmt_ms(v6["median"], 2), f"{qps:.0f}",
                         max(r["interrupted"] for r in rs)])
    f = bl.summary(floor)
    errors = [f"{r['speaker']}: {r['error']}" for r in results if r["error"]]
    text = (f"Router: {ROUTERS[router]}. dnsperf at {rate} queries/s from the client to 192.0.2.53, one run per round, {rounds} round(s) per "
            "event. lost: queries sent without a NOERROR answer (timed out after 1 s, or an error answer), per "
            "round; event->FIB: until the router's FIB sends 192.0.2.53 to site B (`ip -ts monitor route`; "
            "in brackets the rounds where it moved at all); event->signal: until the first UPDATE naming the "
            "prefix, NOTIFICATION, FIN or RST from A reached the router (tcpdump); router: that signal to the "
            "FIB change, the part no speaker removes; share: the speaker's part of event->FIB; v6 after v4: "
            "2001:db8:53::53's FIB change after 192.0.2.53's; q/s: the lowest rate dnsperf held in a round; "
            "in flight: the most queries still unanswered when a round's dnsperf was stopped.\n\n"
            + bl.table(["event", "speaker", "rounds", "lost median", "lost worst", "event->FIB median / worst ms",
                        "event->signal median ms", "router median / worst ms", "speaker's share", "v6 after v4 ms",
                        "q/s", "in flight"], rows, "ll" + "r" * 10))
    text += (f"\n\nThe floor: signal in -> FIB change at the router over all {f['n']} rounds with a signal: "
             f"median {bl.fmt_ms(f['median'], 2)} ms, p90 {bl.fmt_ms(f['p90'], 2)} ms, worst "
             f"{bl.fmt_ms(f['worst'], 2)} ms ({(f['median'] or 0) * rate:.1f} queries at {rate}/s)." if f["n"] else "")
    if errors:
        text += "\n\nErrors: " + "; ".join(errors) + "."
    return bl.section(f"Anycast: client queries lost per event at site A, {router.upper()} router (issue #18)", text)


def broken(res: dict, events: list[str], rounds: int, rate: int) -> Optional[str]:
    """Why a speaker's measurement cannot be trusted (None: it can)."""
    if res["error"]:
        return res["error"]
    for event in events:
        rs = [r for r in res["rounds"] if r["event"] == event]
        if event == "drain" and res["speaker"] == "exabgp":
            continue
        if event in HERALD_ONLY and not res["speaker"].startswith("herald"):
            continue
        if len(rs) != rounds:
            return f"{event}: {len(rs)} of {rounds} rounds"
        for r in rs:
            if r["noerror"] == 0 or r["sent"] == 0:
                return f"{event}: a round without answers (sent {r['sent']})"
            if r["interrupted"] > rate // 10:
                # More than 100 ms of queries unanswered 1.2 s after the lab settled: the client
                # no longer gets answers, and those queries were not counted as lost.
                return f"{event}: {r['interrupted']} queries still unanswered when the round ended"
            if event in MOVING and r["fib"] is None:
                return f"{event}: the FIB change to site B is missing from the monitor"
    return None


def main() -> int:
    harness.require_root()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--events")
    ap.add_argument("--speakers")
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--router", choices=sorted(ROUTERS), default="bird")
    ap.add_argument("--json", help="also write each round's figures to this file")
    a = ap.parse_args()
    if a.rate < 5000:
        ap.error("issue #18 measures at 5,000 queries/s or more")
    rounds = a.rounds or (2 if a.quick else 10)
    events = a.events.split(",") if a.events else (QUICK_EVENTS if a.quick else ALL_EVENTS)
    speakers = a.speakers.split(",") if a.speakers else (["herald-pidfd"] if a.quick else ALL_SPEAKERS)
    for e in events:
        if e not in ALL_EVENTS:
            ap.error(f"unknown event {e}")
    results, problems = [], []
    for sp in speakers:
        res = run_speaker(sp, events, rounds, a.rate, a.router)
        why = broken(res, events, rounds, a.rate)
        if why:
            problems.append(f"{sp}: {why}")
        results.append(res)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    print(render(results, events, a.rate, rounds, a.router), flush=True)
    for p in problems:
        print(f"anycast.py: broken measurement: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
