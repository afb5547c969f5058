#!/usr/bin/python3
"""Bulk announce and withdraw: 100,000 host prefixes (198.18.0.0/15, /32s) from the node to
the same upstream BIRD, first by the herald daemon, then by BIRD as the speaker, in one run.

herald is the daemon itself, as an operator runs it: one service whose prefixes come from a
prefixes-file of 100,000 lines (no health checks, addresses not bound: BIRD's static routes are
not on an interface either), its "drained" policy set to withdraw. Withdraw is
`heraldctl drain bulk`, announce `heraldctl undrain bulk`. BIRD carries the same prefixes as a
static protocol exported over BGP, toggled with `birdc disable/enable`. A cycle starts just before
the command and ends when the upstream's `show route count` reports all (or none) of them from
the session, polled every 50 ms; the capture on the router's side gives the first and last
UPDATE of each burst. CPU is the speaker's own run time over the cycle (the daemon's, not
heraldctl's or birdc's); RSS is sampled right after it. herald's start-up is measured once too:
from starting the process to all prefixes at the upstream, with its CPU (reading the file
included) and the number of log lines it wrote.

    bulk.py [--quick] [--count N] [--rounds N]
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import time

import benchlib as bl
from benchlib import hl, harness

BASE = int(ipaddress.IPv4Address("198.18.0.0"))


def prefixes(count: int) -> list[str]:
    assert count <= 131072, "only 131072 /32s fit in 198.18.0.0/15"
    return [f"{ipaddress.IPv4Address(BASE + i)}/32" for i in range(count)]


def herald_bulk_config(lab: harness.Lab, prefixes_file: str) -> str:
    return hl.herald_global(lab) + hl.herald_peer("upstream", hl.ROUTER_V4, hl.ROUTER_AS, hl.NODE_V4) + f"""
[[service]]
name = "bulk"
prefixes-file = "{prefixes_file}"

[service.address]
bind = false

[service.policy.drained]
action = "withdraw"
"""


def start_herald(lab: harness.Lab, topo: bl.Topology, n: int) -> tuple[harness.Proc, dict]:
    """The herald daemon announcing n prefixes from a file; returns it and its start-up figures."""
    path = lab.write("bulk-prefixes.txt", "".join(p + "\n" for p in prefixes(n)))
    conf = lab.write("herald.toml", herald_bulk_config(lab, path))
    t0 = time.time()
    h = topo.node.popen([bl.herald_binary(), "-c", conf], "herald")
    harness.wait_for(lambda: os.path.exists(lab.path("herald.sock")) or not h.alive(), 20, 0.01,
                     "herald's control socket")
    if not h.alive():
        raise RuntimeError("herald exited at start:\n" + h.log())
    bl.wait_until(lambda: topo.route_count() == n, 120, f"herald's {n} prefixes at the upstream", 0.05)
    start = {"seconds": time.time() - t0, "cpu": bl.cpu_seconds(h.pid), "rss": bl.memory_kib(h.pid)[0],
             "log_lines": len(h.log().splitlines())}
    return h, start


def heraldctl(lab: harness.Lab, *args: str) -> None:
    harness.run([bl.herald_binary("heraldctl"), "--socket", lab.path("herald.sock"), *args], timeout=30)


def bird_bulk_config(count: int) -> str:
    routes = "\n".join(f"  route {p} blackhole;" for p in prefixes(count))
    return f"""log stderr {{ warning, error, fatal }};
router id {hl.NODE_V4};
protocol device {{ scan time 10; }}
protocol static bulk {{
  ipv4;
{routes}
}}
protocol bgp upstream {{
  local {hl.NODE_V4} as {hl.NODE_AS};
  neighbor {hl.ROUTER_V4} as {hl.ROUTER_AS};
  hold time 9; keepalive time 3;
  connect delay time 1; connect retry time 2; error wait time 1, 2;
  ipv4 {{ import none; export where source = RTS_STATIC; }};
}}
"""


def cycle(topo: bl.Topology, pid: int, command, want: int, timeout: float) -> dict:
    """Runs `command`, waits for the upstream to hold `want` routes from the session."""
    w = bl.CpuWindow([pid]).start()
    t0 = time.time()
    command()
    t_end = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if topo.route_count() == want:
            t_end = time.time()
            break
        time.sleep(0.05)
    w.stop()
    return {"t0": t0, "seconds": None if t_end is None else t_end - t0, "cpu": w.cpu,
            "rss": bl.memory_kib(pid)[0]}


def wire_spans(msgs: list, results: list[dict]) -> None:
    """Adds to each result the first and last UPDATE of its burst (relative to its start)."""
    ups = [m for m in msgs if m.type == 2 and m.src == hl.NODE_V4]
    for i, r in enumerate(results):
        end = results[i + 1]["t0"] if i + 1 < len(results) else float("inf")
        burst = [m.ts for m in ups if r["t0"] <= m.ts < end]
        r["first"] = burst[0] - r["t0"] if burst else None
        r["last"] = burst[-1] - r["t0"] if burst else None


def main() -> int:
    harness.require_root()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--rounds", type=int)
    a = ap.parse_args()
    rounds = a.rounds or (1 if a.quick else 3)
    n = a.count
    out: dict[str, dict] = {}
    ok = True
    with harness.Lab("bulk") as lab:
        topo = bl.Topology(lab)
        # herald: the daemon, prefixes from a file, drained (withdrawn) and undrained (announced)
        h, start = start_herald(lab, topo, n)
        time.sleep(0.5)
        cap = bl.Capture(lab, topo.up, "eth0", "tcp port 179", "bulk-herald", snaplen=0)
        res = {"announce": [], "withdraw": []}
        for _ in range(rounds):
            res["withdraw"].append(cycle(topo, h.pid, lambda: heraldctl(lab, "drain", "bulk"), 0, 60))
            res["announce"].append(cycle(topo, h.pid, lambda: heraldctl(lab, "undrain", "bulk"), n, 60))
        msgs = bl.bgp_messages(cap.stop())
        allr = sorted(res["withdraw"] + res["announce"], key=lambda r: r["t0"])
        wire_spans(msgs, allr)
        res["peak_rss"] = max([r["rss"] for r in allr] + [start["rss"]])
        res["start"] = start
        out["herald"] = res
        ok = ok and h.alive()
        h.stop()
        # BIRD as the speaker
        bl.wait_until(lambda: topo.route_count() == 0, 30, "herald's routes gone", 0.2)
        b = lab.bird(topo.node, bird_bulk_config(n), name="bird-speaker")
        bl.wait_until(lambda: topo.session_up() and topo.route_count() == n, 120,
                      f"BIRD's {n} prefixes at the upstream", 0.2)
        cap = bl.Capture(lab, topo.up, "eth0", "tcp port 179", "bulk-bird", snaplen=0)
        res = {"announce": [], "withdraw": []}
        b.ctl("disable bulk")
        bl.wait_until(lambda: topo.route_count() == 0, 60, "BIRD's prefixes withdrawn before the rounds", 0.2)
        for _ in range(rounds):
            res["announce"].append(cycle(topo, b.proc.pid, lambda: b.ctl("enable bulk"), n, 60))
            res["withdraw"].append(cycle(topo, b.proc.pid, lambda: b.ctl("disable bulk"), 0, 60))
        msgs = bl.bgp_messages(cap.stop())
        allr = sorted(res["withdraw"] + res["announce"], key=lambda r: r["t0"])
        wire_spans(msgs, allr)
        res["peak_rss"] = max(r["rss"] for r in allr)
        out["bird"] = res
    rows = []
    for kind in ("herald", "bird"):
        for what in ("announce", "withdraw"):
            rs = out[kind][what]
            secs = bl.summary([r["seconds"] for r in rs])
            cpu = bl.summary([r["cpu"] for r in rs])
            last = bl.summary([r["last"] for r in rs])
            ok = ok and secs["fail"] == 0
            ref = bl.summary([r["seconds"] for r in out["herald"][what]])["median"]
            rows.append([kind, what, len(rs), f"{secs['median']:.3f}" if secs["median"] is not None else "-",
                         f"{secs['worst']:.3f}" if secs["worst"] is not None else "-",
                         bl.ratio(secs["median"], ref),
                         f"{last['median']:.3f}" if last["median"] is not None else "-",
                         f"{cpu['median']:.3f}", bl.mib(out[kind]["peak_rss"])])
    text = (f"{n} IPv4 /32s from 198.18.0.0/15 to one upstream BIRD, herald = the daemon with a "
            f"prefixes-file (heraldctl drain/undrain); seconds from the command to the "
            f"upstream's route count reaching {n} (or 0), polled every 50 ms; ratio = median / herald's.\n\n"
            + bl.table(["speaker", "what", "rounds", "all at upstream median (s)", "worst (s)", "ratio",
                        "last UPDATE on wire median (s)", "speaker CPU median (s)", "speaker RSS (MiB)"], rows))
    st = out["herald"]["start"]
    text += (f"\nherald daemon start-up with the {n}-line prefixes-file: all at the upstream "
             f"{st['seconds']:.3f} s after the process started (session set-up included), "
             f"CPU {st['cpu']:.3f} s, RSS {bl.mib(st['rss'])} MiB, {st['log_lines']} log lines.\n")
    print(bl.section("Bulk: 100,000 prefixes announced and withdrawn", text), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
