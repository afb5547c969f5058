#!/usr/bin/python3
"""Full table received: the upstream BIRD sends herald 1,000,000 IPv4 routes.

Only about 262,000 distinct prefixes fit in 198.18.0.0/15 (all lengths /15../32), so the
million routes are 250,000 distinct prefixes (/28../32, nested, all inside 198.18.0.0/15) sent
over 4 sessions: BIRD exports one static protocol to each. herald (the daemon, one service,
`log-level = "info"`) keeps a per-session Adj-RIB-In count, so it holds 4 x 250,000 routes.

Sessions use four subnets of the link: 203.0.113.0/24, 198.51.100.0/24, 192.0.2.128/26 and
192.0.2.192/26. Measured: herald's RSS before and after, its CPU from `enable full` until every
session reports 250,000 received prefixes (heraldctl status, every 0.5 s), the same for the
withdrawal, and whether every session stayed Established throughout.

    fulltable.py [--quick] [--per-session N]
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time

import benchlib as bl
import contenders as ct
from benchlib import hl, harness

SESSIONS = [("up1", "203.0.113.1", "203.0.113.2", 24), ("up2", "198.51.100.1", "198.51.100.2", 24),
            ("up3", "192.0.2.129", "192.0.2.130", 26), ("up4", "192.0.2.193", "192.0.2.194", 26)]


def mixed_prefixes(count: int) -> list[str]:
    """`count` distinct prefixes inside 198.18.0.0/15: every /32, then every /31, ... ."""
    out, base = [], int(ipaddress.IPv4Address("198.18.0.0"))
    for plen in range(32, 14, -1):
        step = 1 << (32 - plen)
        for i in range(1 << (plen - 15)):
            if len(out) == count:
                return out
            out.append(f"{ipaddress.IPv4Address(base + i * step)}/{plen}")
    raise ValueError(f"{count} prefixes do not fit in 198.18.0.0/15")


def upstream_config(count: int) -> str:
    routes = "\n".join(f"  route {p} blackhole;" for p in mixed_prefixes(count))
    protos = "".join(harness.bird_bgp(name, r, hl.ROUTER_AS, n, hl.NODE_AS, families=("ipv4",), import_filter="none",
                                      export_filter="where source = RTS_STATIC")
                     for name, r, n, _ in SESSIONS)
    return harness.bird_config(hl.ROUTER_V4, protos, log="{ warning, error, fatal }", scan=10, extra=f"""
protocol static full {{
  disabled;
  ipv4;
{routes}
}}""")


def herald_config(lab: harness.Lab) -> str:
    peers = "".join(hl.herald_peer(name, r, hl.ROUTER_AS, n, families=["ipv4-unicast"]) for name, r, n, _ in SESSIONS)
    return hl.herald_global(lab, more='log-format = "json"\n') + peers + f"""
[[service]]
name = "dns"
prefixes = ["{hl.PREFIX_V4}"]

[service.health]
interval = "1s"
timeout = "500ms"

[[service.check]]
type = "dns"
qname = "{bl.QNAME}"
expect = ["{bl.ANSWER}"]
"""


def main() -> int:
    harness.require_root()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--per-session", type=int)
    a = ap.parse_args()
    per = a.per_session or (50_000 if a.quick else 250_000)
    total = per * len(SESSIONS)
    with harness.Lab("full") as lab:
        up, node = lab.netns("up"), lab.netns("node")
        lab.link(up, f"{SESSIONS[0][1]}/24", node, f"{SESSIONS[0][2]}/24")
        for _, r, n, plen in SESSIONS[1:]:
            up.run("ip", "addr", "add", f"{r}/{plen}", "dev", "eth0")
            node.run("ip", "addr", "add", f"{n}/{plen}", "dev", "eth0")
        t = time.monotonic()
        bird = lab.bird(up, upstream_config(per), name="upstream")
        bird_load = time.monotonic() - t
        topo = bl.Topology.attach(lab, up, node, bird)
        h = ct.Herald(topo, ct.Settings())
        h.start(herald_config(lab))
        topo.start_dns(wait=False)

        def status() -> dict:
            return json.loads(h.ctl("status", "--json").stdout)["status"]

        def received() -> list[int]:
            return [p.get("prefixes_received", 0) for p in status()["peers"]]

        def all_established() -> bool:
            return all(bird.established(name) for name, *_ in SESSIONS)
        bl.wait_until(all_established, 30, "4 sessions up", 0.2)
        time.sleep(2)
        rss0 = bl.memory_kib(h.speaker_pid())[0]
        w = bl.CpuWindow([h.speaker_pid()]).start()
        t0 = time.time()
        bird.ctl("enable full")
        bl.wait_until(lambda: received() == [per] * len(SESSIONS), 300, f"herald to hold {total} routes", 0.5)
        t_in = time.time() - t0
        w.stop()
        rss1 = bl.memory_kib(h.speaker_pid())[0]
        w2 = bl.CpuWindow([h.speaker_pid()]).start()
        t1 = time.time()
        bird.ctl("disable full")
        bl.wait_until(lambda: received() == [0] * len(SESSIONS), 300, "herald to see every withdrawal", 0.5)
        t_out = time.time() - t1
        w2.stop()
        rss2 = bl.memory_kib(h.speaker_pid())[0]
        stable = all_established() and h.alive()
        bird_up = all(f"up{i}" in bird.protocol_state(f"up{i}") and "Established" in bird.protocol_state(f"up{i}")
                      for i in range(1, 5))
        opens = status()["peers"]
        bird_rss = bl.memory_kib(bird.proc.pid)[0]
    rows = [["routes received (sessions x prefixes)", f"{total:,} ({len(SESSIONS)} x {per:,})"],
            ["upstream BIRD config load (static routes)", f"{bird_load:.1f} s"],
            ["all received at herald (status polled every 0.5 s)", f"{t_in:.2f} s"],
            ["herald CPU while receiving", f"{w.cpu:.3f} s"],
            ["herald RSS before / after / growth", f"{bl.mib(rss0)} / {bl.mib(rss1)} / {bl.mib(rss1 - rss0)} MiB"],
            ["all withdrawn at herald", f"{t_out:.2f} s"],
            ["herald CPU while withdrawing", f"{w2.cpu:.3f} s"],
            ["herald RSS after the withdrawal", f"{bl.mib(rss2)} MiB"],
            ["upstream BIRD RSS (for scale)", f"{bl.mib(bird_rss)} MiB"],
            ["every session stayed Established", "yes" if (stable and bird_up) else "NO"]]
    text = (f"herald receives {total:,} IPv4 routes from BIRD over {len(SESSIONS)} sessions; CPU is herald's "
            f"own run time over each phase (including answering the status polls).\n\n"
            + bl.table(["figure", "value"], rows, "lr"))
    if not (stable and bird_up):
        text += "\n\nPeers at the end: " + json.dumps(opens)
    print(bl.section("Full table received", text), flush=True)
    return 0 if (stable and bird_up) else 1


if __name__ == "__main__":
    sys.exit(main())
