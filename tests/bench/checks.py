#!/usr/bin/python3
"""Many checks: herald with 200 services, each with its own DNS check every 250 ms (rise 2,
fall 2, splay on), one upstream session, all against one unbound on 192.0.2.53 that answers
s1.example. ... s200.example. Each service announces one /32 of 198.51.100.0/24 (addresses not
bound).

Measured over two windows (30 s each, 8 s with --quick) once all 200 prefixes are at the upstream:
- herald's CPU (share of a core) in the first, with no capture running; the second window, with
  the captures, reports it again (a capture on lo adds a copy of every packet herald sends);
- check start jitter: the DNS queries are captured on the node's lo (kernel timestamps); for each
  service the start-to-start intervals are compared with 250 ms, giving |interval - 250 ms|
  over every interval of every service (p50, p99, worst);
- keepalives: the largest gap between two BGP messages herald sent during the window (keepalive
  time 3 s with hold time 9 s), and whether the session stayed Established with no flap.

    checks.py [--quick] [--services N] [--seconds S]
"""
from __future__ import annotations

import argparse
import sys
import time

import benchlib as bl
import contenders as ct
from benchlib import hl, harness

INTERVAL = 0.25


def config(lab: harness.Lab, n: int) -> str:
    base = ct.herald_config(lab, ct.Settings(peers=1), [])
    svcs = ""
    for i in range(1, n + 1):
        svcs += f"""
[[service]]
name = "s{i}"
prefixes = ["198.51.100.{i}/32"]
[service.address]
bind = false
[service.health]
interval = "250ms"
fast-interval = "250ms"
timeout = "200ms"
[service.flap]
max-changes = 0
[[service.check]]
type = "dns"
server = "{hl.SERVICE_V4}"
qname = "s{i}.example."
expect = ["{bl.ANSWER}"]
"""
    return base + svcs


def main() -> int:
    harness.require_root()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--seconds", type=float)
    a = ap.parse_args()
    n = a.services
    assert n <= 254
    seconds = a.seconds or (8.0 if a.quick else 30.0)
    with harness.Lab("checks") as lab:
        topo = bl.Topology(lab)
        topo.add_service_addresses()
        topo.start_dns(local_data=[f"s{i}.example. A {bl.ANSWER}" for i in range(1, n + 1)], wait=False)
        topo.dns.wait_ready(name="s1.example.")
        h = ct.Herald(topo, ct.Settings())
        h.start(config(lab, n))
        bl.wait_until(lambda: topo.route_count() == n, 60, f"{n} prefixes at the upstream", 0.2)
        time.sleep(1)
        # CPU first, with nothing of the benchmark's attached: a packet capture on lo makes every
        # send of herald copy the packet to it (tpacket_rcv, charged to herald: about a sixth of its
        # CPU here), so the jitter window that follows reports its CPU separately.
        quiet = bl.CpuWindow([h.speaker_pid()]).start()
        time.sleep(seconds)
        quiet.stop()
        lo = bl.Capture(lab, topo.node, "lo", f"udp and dst host {hl.SERVICE_V4} and dst port 53", "checks-lo",
                        snaplen=200)
        wire = bl.Capture(lab, topo.up, "eth0", "tcp port 179", "checks-bgp")
        t0 = time.time()
        w = bl.CpuWindow([h.speaker_pid()]).start()
        time.sleep(seconds)
        w.stop()
        t1 = time.time()
        still = topo.session_up() and topo.route_count() == n and h.alive()
        proto = bl.harness.run(["birdc", "-s", topo.bird.sock, "show", "protocols", "herald"], check=False).stdout
        queries = bl.dns_queries(lo.stop(), hl.SERVICE_V4)
        msgs = [m for m in bl.bgp_messages(wire.stop()) if m.src == hl.NODE_V4 and t0 <= m.ts <= t1]
        rss = bl.memory_kib(h.speaker_pid())[0]
    per: dict[str, list[float]] = {}
    for ts, name in queries:
        per.setdefault(name, []).append(ts)
    dev = []
    for times in per.values():
        dev += [abs((b - a) - INTERVAL) for a, b in zip(times, times[1:])]
    gaps = [b.ts - a.ts for a, b in zip(msgs, msgs[1:])]
    if msgs:
        gaps += [msgs[0].ts - t0, t1 - msgs[-1].ts]
    expected = int(seconds / INTERVAL) * n
    rows = [["services / checks started in the window", f"{len(per)} / {len(queries)} (expected about {expected})"],
            ["herald CPU", f"{quiet.share * 100:.2f}% of a core ({quiet.cpu:.3f} s in {quiet.seconds:.1f} s)"],
            ["herald CPU while the capture on lo runs (jitter window)",
             f"{w.share * 100:.2f}% of a core ({w.cpu:.3f} s in {w.seconds:.1f} s)"],
            ["check start jitter p50 / p99 / worst",
             (f"{bl.fmt_ms(bl.quantile(dev, 0.5), 2)} / {bl.fmt_ms(bl.quantile(dev, 0.99), 2)} / "
              f"{bl.fmt_ms(max(dev), 2)} ms") if dev else "-"],
            ["BGP messages herald sent in the window / largest gap",
             f"{len(msgs)} / {max(gaps):.2f} s" if gaps else "0 / -"],
            ["session stayed Established, all prefixes announced", "yes" if still else "NO"],
            ["herald RSS", f"{bl.mib(rss)} MiB"]]
    missed = (not gaps) or max(gaps) > 3.5
    rows.append(["missed keepalive (a gap above 3.5 s)", "YES" if missed else "no"])
    text = (f"{n} services, one DNS check each every 250 ms, two {seconds:.0f} s windows (CPU, then jitter with captures); jitter is "
            f"|start-to-start - 250 ms| per service from the captured queries.\n\n"
            + bl.table(["figure", "value"], rows, "lr"))
    if not still:
        text += "\n\nupstream: " + proto.strip()
    print(bl.section("Many checks: 200 services every 250 ms", text), flush=True)
    return 0 if (still and dev and not missed) else 1


if __name__ == "__main__":
    sys.exit(main())
