#!/usr/bin/python3
"""Failover, side by side: the DNS server stops (or freezes) and each speaker must withdraw the
service prefixes from the upstream BIRD; the DNS server comes back and they must return.

Per contender a fresh lab (benchlib.Topology: upstream BIRD, node namespace, unbound on
192.0.2.53 and 2001:db8:53::53), the speaker under test, and tcpdump on the router's side of the
link. Each round:
  1. wait a random fraction of the check interval (so rounds do not lock to the check phase);
  2. t_stop: unbound gets SIGTERM (mode "stopped") or SIGSTOP (mode "frozen");
  3. the router's RIB is polled (birdc, every 10 ms) until both prefixes are gone;
  4. t_start: a new unbound starts (or SIGCONT), and the RIB is polled until both are back.
Afterwards the capture gives, per round, the kernel timestamp of the first UPDATE withdrawing
192.0.2.53/32 (and 2001:db8:53::53/128) after t_stop, and of the one announcing it after t_start.
The decision time is herald's JSON log line "service state change" (millisecond resolution) or
the check script's own decision log (microseconds).

    failover.py [--quick] [--rounds N] [--modes same,fast,frozen] [--contenders herald,exabgp,...]
Prints markdown tables on stdout.
"""
from __future__ import annotations

import argparse
import random
import signal
import sys
import time

import benchlib as bl
import contenders as ct
from benchlib import hl, harness

V4, V6 = hl.PREFIX_V4, hl.PREFIX_V6


def settings_for(mode: str) -> ct.Settings:
    """Check settings per mode. herald's fast mode is issue #9's: 10 ms interval, fall 2, 20 ms
    timeout (a probe outstanding at the next interval delays that round, never overlaps it)."""
    if mode == "same":
        return ct.Settings(interval_ms=100, timeout_ms=80, rise=2, fall=2, dig_time=1)
    if mode == "fast":
        return ct.Settings(interval_ms=10, timeout_ms=20, rise=2, fall=2)
    if mode == "frozen":
        return ct.Settings(interval_ms=100, timeout_ms=50, rise=2, fall=2, dig_time=1)
    raise ValueError(mode)


class Round:
    def __init__(self):
        self.t_stop = self.t_start = 0.0
        self.rib_gone = self.rib_back = None


def run_contender(kind: str, mode: str, rounds: int, cpu_window: float) -> dict:
    settings = settings_for(mode)
    result = {"kind": kind, "rounds": [], "error": None, "cpu_share": None}
    with harness.Lab(f"fo{kind[:3]}") as lab:
        topo = bl.Topology(lab)
        c = ct.ALL[kind](topo, settings)
        c.start()
        topo.start_dns(wait=False)
        try:
            bl.wait_until(lambda: topo.session_up() and topo.route_present(V4) and topo.route_present(V6), 30,
                          f"{kind}: session up and both prefixes at the router", 0.05)
        except TimeoutError as e:
            result["error"] = str(e)
            return result
        time.sleep(0.5)
        if cpu_window > 0:
            w = bl.CpuWindow(c.roots()).start()
            time.sleep(cpu_window)
            result["cpu_share"] = w.stop().share
        cap = bl.Capture(lab, topo.up, "eth0", "tcp port 179", f"fo-{kind}")
        # The node's lo carries the checks: with the server stopped, each failing query gets an
        # ICMP port unreachable, the last evidence a speaker gets before it withdraws; once the
        # server is back, its first answer is the first evidence for the way back.
        lo = bl.Capture(lab, topo.node, "lo", "icmp or (udp and src port 53)", f"fo-{kind}-lo", snaplen=96)
        rs: list[Round] = []
        for _ in range(rounds):
            r = Round()
            time.sleep(0.15 + random.uniform(0, settings.interval_ms / 1000))
            r.t_stop = time.time()
            if mode == "frozen":
                topo.dns.proc.signal(signal.SIGSTOP)
            else:
                topo.stop_dns()
            r.rib_gone = topo.wait_route(V4, False, 15)
            topo.wait_route(V6, False, 5)
            time.sleep(0.1)
            r.t_start = time.time()
            if mode == "frozen":
                topo.dns.proc.signal(signal.SIGCONT)
            else:
                topo.start_dns(wait=False)
            r.rib_back = topo.wait_route(V4, True, 15)
            topo.wait_route(V6, True, 5)
            rs.append(r)
            if r.rib_gone is None or r.rib_back is None:
                break
        time.sleep(0.3)
        msgs = [m for m in bl.bgp_messages(cap.stop()) if m.type == 2 and m.src == hl.NODE_V4]
        icmp, answers = [], []
        for ts, frame in bl.read_pcap(lo.stop()):
            ip = bl.ip_payload(frame)
            if ip and ip[0] in (1, 58):
                icmp.append(ts)
            elif ip and ip[0] == 17:
                answers.append(ts)
        decisions = c.decisions()
        alive = c.alive()
        for r in rs:
            def first(t0: float, key: str):
                return next((m.ts for m in msgs if m.ts >= t0 and key in m.prefixes), None)

            def decided(t0: float, what: str):
                return next((d[0] for d in decisions if d[0] >= t0 and d[1] == what), None)
            w4, w6 = first(r.t_stop, "-" + V4), first(r.t_stop, "-" + V6)
            a4 = first(r.t_start, "+" + V4)
            d_down = decided(r.t_stop, "down")
            evidence = [t for t in icmp if w4 is not None and r.t_stop <= t <= w4]
            alive_again = [t for t in answers if a4 is not None and r.t_start <= t <= a4]
            result["rounds"].append({
                "wire_withdraw": None if w4 is None else w4 - r.t_stop,
                "rib_gone": None if r.rib_gone is None else r.rib_gone - r.t_stop,
                "v6_gap": None if (w4 is None or w6 is None) else w6 - w4,
                "decision_to_wire": None if (w4 is None or d_down is None) else w4 - d_down,
                "evidence_to_wire": w4 - evidence[-1] if evidence else None,
                "first_failure_to_wire": w4 - evidence[0] if evidence else None,
                "wire_announce": None if a4 is None else a4 - r.t_start,
                "first_answer_to_wire": a4 - alive_again[0] if alive_again else None,
                "rib_back": None if r.rib_back is None else r.rib_back - r.t_start,
            })
        if not alive:
            result["error"] = f"{kind} exited during the run"
    return result


def column(res: dict, key: str) -> list:
    return [r[key] for r in res["rounds"]]


def render(mode: str, results: list[dict], settings_text: str) -> str:
    ref = next((r for r in results if r["kind"] == "herald"), None)
    ref_w = bl.summary(column(ref, "wire_withdraw"))["median"] if ref else None
    ref_a = bl.summary(column(ref, "wire_announce"))["median"] if ref else None
    rows_w, rows_a = [], []
    for res in results:
        if res["error"] and not res["rounds"]:
            rows_w.append([res["kind"], f"error: {res['error']}"] + ["-"] * 11)
            continue
        w = bl.summary(column(res, "wire_withdraw"))
        g = bl.summary(column(res, "rib_gone"))
        d = bl.summary(column(res, "decision_to_wire"))
        e = bl.summary(column(res, "evidence_to_wire"))
        f = bl.summary(column(res, "first_failure_to_wire"))
        v6 = bl.summary(column(res, "v6_gap"))
        rows_w.append([res["kind"], w["n"], bl.fmt_ms(w["median"]), bl.fmt_ms(w["p90"]), bl.fmt_ms(w["worst"]),
                       bl.ratio(w["median"], ref_w), bl.fmt_ms(g["median"]), bl.fmt_ms(g["worst"]),
                       bl.fmt_ms(f["median"]), bl.fmt_ms(f["worst"]),
                       bl.fmt_ms(d["median"], 2), bl.fmt_ms(e["median"], 2),
                       f"{bl.fmt_ms(v6['median'], 2)} / {bl.fmt_ms(v6['worst'], 2)}"])
        a = bl.summary(column(res, "wire_announce"))
        b = bl.summary(column(res, "rib_back"))
        fa = bl.summary(column(res, "first_answer_to_wire"))
        rows_a.append([res["kind"], a["n"], bl.fmt_ms(a["median"]), bl.fmt_ms(a["p90"]), bl.fmt_ms(a["worst"]),
                       bl.ratio(a["median"], ref_a), bl.fmt_ms(b["median"]), bl.fmt_ms(b["worst"]),
                       bl.fmt_ms(fa["median"]), bl.fmt_ms(fa["worst"])])
    cpu = [f"{r['kind']} {r['cpu_share'] * 100:.2f}% of a core" for r in results if r["cpu_share"] is not None]
    errors = [f"{r['kind']}: {r['error']}" for r in results if r["error"]]
    what = {"same": "DNS server stopped (SIGTERM)", "fast": "DNS server stopped (SIGTERM), herald fast setting",
            "frozen": "DNS server frozen (SIGSTOP)"}[mode]
    text = (f"Settings: {settings_text}. Times in ms from the event; ratio = median / herald's median. "
            "decision->wire: the speaker's decision (herald's log line, millisecond resolution, or the "
            "script's decision log) to the first withdrawal on the wire; last failed probe->wire: the last "
            "ICMP port unreachable on the node's lo (kernel timestamp) before that withdrawal; first failed "
            "probe->wire: from the first one after the event, which takes out where in its check cycle the "
            "event fell (luck of the phase that moves a 20-round median by 10-30 ms between runs).\n\n"
            + bl.table(["speaker", "rounds", "withdraw on wire median", "p90", "worst", "ratio",
                        "RIB gone median", "RIB gone worst", "first failed probe->wire median", "worst",
                        "decision->wire median", "last failed probe->wire median",
                        "v6 after v4 median / worst"],
                       rows_w)
            + "\n\nDNS back: the first UPDATE announcing the prefix again, and the router's RIB; first "
            "answer->wire: from the server's first answer on lo after the restart (to whichever query) "
            "to that UPDATE.\n\n"
            + bl.table(["speaker", "rounds", "announce on wire median", "p90", "worst", "ratio",
                        "RIB back median", "RIB back worst", "first answer->wire median", "worst"], rows_a))
    if cpu:
        text += "\n\nCPU while checking (DNS up, before the rounds): " + "; ".join(cpu) + "."
    if errors:
        text += "\n\nErrors: " + "; ".join(errors) + "."
    return bl.section(f"Failover: {what}", text)


def main() -> int:
    harness.require_root()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--modes", default="same,fast,frozen")
    ap.add_argument("--contenders", default="herald,exabgp,gobgp,bird")
    a = ap.parse_args()
    rounds = a.rounds or (3 if a.quick else 20)
    kinds = a.contenders.split(",")
    ok = True
    for mode in a.modes.split(","):
        who = ["herald"] if mode == "fast" else kinds
        results = []
        for kind in who:
            cpu_window = (2.0 if a.quick else 10.0) if mode == "fast" else 0.0
            res = run_contender(kind, mode, rounds, cpu_window)
            needed = ("wire_withdraw", "rib_gone", "wire_announce", "rib_back")
            ok = ok and not res["error"] and len(res["rounds"]) == rounds \
                and all(r[k] is not None for r in res["rounds"] for k in needed)
            results.append(res)
        s = settings_for(mode)
        desc = s.describe() if mode != "fast" else "herald only: interval 10 ms, fast-interval 10 ms, rise 2, fall 2, timeout 20 ms"
        print(render(mode, results, desc), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
