#!/usr/bin/python3
"""Bulk announce and withdraw: 100,000 host prefixes (198.18.0.0/15, /32s) from the node to
the same upstream BIRD, first by herald, then by BIRD as the speaker, in one run.

herald's daemon reads at most 1 MiB of configuration, too little to list 100,000 prefixes, so
herald here is its speaker alone (tests/integration/herald-speak: the Speaker class the daemon
uses, with its Adj-RIB-Out and UPDATE packing), told "announce-block 198.18.0.0/32 100000" and
"withdraw-all" on stdin; each command is one set_routes() call, as a daemon reload would be. BIRD carries them as a static protocol exported over
BGP, toggled with `birdc disable/enable`. A cycle starts just before the command and ends when
the upstream's `show route count` reports all (or none) of them from the session, polled every
50 ms; the capture on the router's side gives the first and last UPDATE of each burst.
CPU is the speaker's own run time over the cycle; RSS is sampled right after it.

    bulk.py [--quick] [--count N] [--rounds N]
"""
from __future__ import annotations

import argparse
import ipaddress
import sys
import time

import benchlib as bl
from benchlib import hl, harness

BASE = int(ipaddress.IPv4Address("198.18.0.0"))


def prefixes(count: int) -> list[str]:
    assert count <= 131072, "only 131072 /32s fit in 198.18.0.0/15"
    return [f"{ipaddress.IPv4Address(BASE + i)}/32" for i in range(count)]


def start_herald_speak(topo: bl.Topology) -> harness.LineProc:
    """herald's speaker (the daemon's Speaker class, driven by tests/integration/herald-speak)
    with one session to the upstream and nothing announced yet."""
    peer = f"name=upstream,address={hl.ROUTER_V4},as={hl.ROUTER_AS},local={hl.NODE_V4},hold=9,connect_retry=1"
    return topo.node.popen_lines([bl.herald_binary("herald-speak"), "--local-as", str(hl.NODE_AS),
                                  "--router-id", hl.NODE_V4, "--peer", peer], "herald-speak")


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
        # herald
        h = start_herald_speak(topo)
        bl.wait_until(topo.session_up, 30, "herald-speak's session", 0.1)
        time.sleep(0.5)
        cap = bl.Capture(lab, topo.up, "eth0", "tcp port 179", "bulk-herald", snaplen=0)
        res = {"announce": [], "withdraw": []}
        for _ in range(rounds):
            res["announce"].append(cycle(topo, h.pid, lambda: h.send(f"announce-block 198.18.0.0/32 {n}"), n, 60))
            res["withdraw"].append(cycle(topo, h.pid, lambda: h.send("withdraw-all"), 0, 60))
        msgs = bl.bgp_messages(cap.stop())
        allr = sorted(res["withdraw"] + res["announce"], key=lambda r: r["t0"])
        wire_spans(msgs, allr)
        res["peak_rss"] = max(r["rss"] for r in allr)
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
    text = (f"{n} IPv4 /32s from 198.18.0.0/15 to one upstream BIRD; seconds from the command to the "
            f"upstream's route count reaching {n} (or 0), polled every 50 ms; ratio = median / herald's.\n\n"
            + bl.table(["speaker", "what", "rounds", "all at upstream median (s)", "worst (s)", "ratio",
                        "last UPDATE on wire median (s)", "speaker CPU median (s)", "speaker RSS (MiB)"], rows))
    print(bl.section("Bulk: 100,000 prefixes announced and withdrawn", text), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
