#!/usr/bin/python3
"""BIRD 2 sends herald 100,000 routes (198.18.0.0/15 host routes from a generated static
protocol) over two sessions:
    192.0.2.1 <-> 192.0.2.2   no limit: the session stays up, herald counts every prefix, and its
                              resident memory stays flat across two full feed/withdraw cycles;
    192.0.2.3 <-> 192.0.2.4   max-prefix 50,000: herald tears the session down with Cease 1
                              (Maximum Number of Prefixes Reached, RFC 4486), which BIRD reports.
"""
import ipaddress
import re
import sys

import bgp_interop as bi
import harness
from bgp_interop import H4, R4

R4B, H4B = "192.0.2.3", "192.0.2.4"
COUNT = 100_000
RSS_GROWTH_LIMIT_KIB = 8 * 1024


def bulk_static() -> str:
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    lines = [f"    route {ipaddress.IPv4Address(base + i)}/32 blackhole;" for i in range(COUNT)]
    return "protocol static bulk {\n    disabled;\n    ipv4;\n" + "\n".join(lines) + "\n}\n"


def main() -> None:
    harness.require_root()
    t = bi.Timer("many_routes")
    with harness.Lab("bgpbulk") as lab:
        r, h = bi.topology(lab)
        r.run("ip", "addr", "add", f"{R4B}/24", "dev", "eth0")
        h.run("ip", "addr", "add", f"{H4B}/24", "dev", "eth0")
        export = "where source = RTS_STATIC"
        protos = (bi.bird_protocol("full", H4, R4, export_filter=export)
                  + bi.bird_protocol("limited", H4B, R4B, export_filter=export))
        bird = lab.bird(r, harness.bird_config(bi.R4, protos, extra=bulk_static()))
        speak = bi.start_speaker(lab, h, announce=[],
                                 peers=[bi.peer_spec("full", R4, H4),
                                        bi.peer_spec("limited", R4B, H4B, maxprefix=50000)])
        bi.wait_until(lambda: bird.established("full") and bird.established("limited"), 15, "both sessions up")
        rss_before = harness.rss_kib(speak.pid)
        t.mark(f"sessions up, herald RSS {rss_before} KiB")

        def received() -> int:
            return bi.peer_status(speak, "full")["received"].get("ipv4-unicast", 0)

        rss_peak = rss_before
        for cycle in (1, 2):
            bird.ctl("enable bulk")
            bi.wait_until(lambda: received() == COUNT, 60, f"herald to count {COUNT} prefixes (cycle {cycle})")
            rss_peak = max(rss_peak, harness.rss_kib(speak.pid))
            t.mark(f"cycle {cycle}: {COUNT} prefixes received, herald RSS {harness.rss_kib(speak.pid)} KiB")
            if cycle == 1:
                bi.wait_until(lambda: re.search(r"Last error:\s+Received: Maximum number of prefixes reached",
                                                bi.bird_proto_all(bird, "limited")), 15,
                              "BIRD to report Cease 1 from the limited session")
                st = bi.peer_status(speak, "limited")
                assert st["notifications_sent"].get("6/1", 0) >= 1, st
                t.mark("limited session: Cease 1 seen by BIRD")
            bird.ctl("disable bulk")
            bi.wait_until(lambda: received() == 0, 60, f"herald to see the withdrawals (cycle {cycle})")
        st = bi.peer_status(speak, "full")
        assert st["state"] == "Established" and st["sent"]["open"] == 1, f"session was not stable: {st}"
        assert bird.established("full")
        growth = rss_peak - rss_before
        print(f"herald RSS before {rss_before} KiB, peak {rss_peak} KiB, growth {growth} KiB")
        assert growth < RSS_GROWTH_LIMIT_KIB, f"RSS grew by {growth} KiB"
        t.mark("session stable, memory flat")
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
