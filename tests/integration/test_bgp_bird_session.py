#!/usr/bin/python3
"""herald-speak against BIRD 2 over an IPv4 and an IPv6 session at once, both families on each
(IPv6 prefixes over the IPv4 session with a configured IPv6 next hop, and vice versa).

Asserts on what BIRD reports: sessions Established with both channels up, the announced prefixes
in BIRD's tables with the expected AS path, next hop, MED, communities and large communities; then
an added prefix, a changed attribute and a withdrawal each reach BIRD, and BIRD's per-route
import counters show that only the changed prefix was sent.
"""
import sys

import bgp_interop as bi
import harness
from bgp_interop import H4, H6, HERALD_AS, R4, R6

V4 = "203.0.113.53/32"
V4_NEW = "203.0.113.54/32"
V6 = "2001:db8:53::1/128"


def main() -> None:
    harness.require_root()
    t = bi.Timer("bird_session")
    with harness.Lab("bgpbird") as lab:
        r, h = bi.topology(lab)
        bird = lab.bird(r, harness.bird_config(bi.R4, bi.bird_protocol("herald4", H4, R4)
                                               + bi.bird_protocol("herald6", H6, R6)))
        speak = bi.start_speaker(
            lab, h,
            peers=[bi.peer_spec("r4", R4, H4, nexthop6=H6), bi.peer_spec("r6", R6, H6, nexthop4=H4)],
            announce=[f"{V4},med=10,communities=65001:1 65001:2,large=65001:1:2,prepend=2",
                      f"{V6},med=20,communities=65001:3,large=65001:3:4"])
        for proto in ("herald4", "herald6"):
            bi.wait_until(lambda: bird.established(proto), 15, f"BIRD {proto} Established")
            for ch in ("ipv4", "ipv6"):
                assert bi.bird_channel_up(bird, proto, ch), f"{proto} channel {ch} not up:\n{bi.bird_proto_all(bird, proto)}"
        t.mark("both sessions Established, both channels up")

        def both_present():
            ok = True
            for proto in ("herald4", "herald6"):
                ok = ok and V4 in bi.bird_routes(bird, "master4", proto) and V6 in bi.bird_routes(bird, "master6", proto)
            return ok
        bi.wait_until(both_present, 10, "prefixes in BIRD's tables")
        for proto in ("herald4", "herald6"):
            r4 = bi.bird_routes(bird, "master4", proto)[V4]
            assert r4["as_path"] == [HERALD_AS] * 3, r4
            assert r4["next_hop"] == [H4], r4
            assert r4["med"] == 10, r4
            assert r4["communities"] == [(65001, 1), (65001, 2)], r4
            assert r4["large_communities"] == [(65001, 1, 2)], r4
            assert r4["origin"] == "IGP", r4
            r6 = bi.bird_routes(bird, "master6", proto)[V6]
            assert r6["as_path"] == [HERALD_AS], r6
            assert r6["next_hop"][0] == H6, r6
            assert r6["med"] == 20, r6
            assert r6["communities"] == [(65001, 3)], r6
            assert r6["large_communities"] == [(65001, 3, 4)], r6
        t.mark("attributes as announced on both sessions")

        before4 = bi.bird_import_stats(bird, "herald4", "ipv4")
        before6 = bi.bird_import_stats(bird, "herald4", "ipv6")
        # Add one prefix: exactly one more route update on the IPv4 channel, none on IPv6.
        speak.send(f"announce {V4_NEW},med=5")
        bi.wait_until(lambda: V4_NEW in bi.bird_routes(bird, "master4", "herald4"), 10, "added prefix at BIRD")
        assert bi.bird_routes(bird, "master4", "herald4")[V4_NEW]["med"] == 5
        bi.wait_until(lambda: bi.bird_import_stats(bird, "herald4", "ipv4")[0] == before4[0] + 1, 5,
                      "one import update for the added prefix")
        # Change one attribute of one prefix.
        speak.send(f"announce {V4},med=11,communities=65001:1 65001:2,large=65001:1:2,prepend=2")
        bi.wait_until(lambda: bi.bird_routes(bird, "master4", "herald4")[V4]["med"] == 11, 10, "changed MED at BIRD")
        bi.wait_until(lambda: bi.bird_import_stats(bird, "herald4", "ipv4")[0] == before4[0] + 2, 5,
                      "one import update for the changed prefix")
        # Withdraw the IPv6 prefix.
        speak.send(f"withdraw {V6}")
        bi.wait_until(lambda: V6 not in bi.bird_routes(bird, "master6", "herald4")
                      and V6 not in bi.bird_routes(bird, "master6", "herald6"), 10, "withdrawn prefix gone at BIRD")
        after4 = bi.bird_import_stats(bird, "herald4", "ipv4")
        after6 = bi.bird_import_stats(bird, "herald4", "ipv6")
        assert after4 == (before4[0] + 2, before4[1]), (before4, after4)
        assert after6 == (before6[0], before6[1] + 1), (before6, after6)
        st = bi.peer_status(speak, "r4")
        assert st["state"] == "Established", st
        t.mark("add / change / withdraw: only changed prefixes sent")

        # A clean stop: BIRD hears Cease/Administrative Shutdown with the text (RFC 9003).
        speak.send("stop maintenance window")
        bi.wait_until(lambda: "maintenance window" in bi.bird_proto_all(bird, "herald4"), 10,
                      "BIRD to show the shutdown communication")
        assert speak.popen.wait(timeout=10) == 0
        t.mark("stop sent Cease with the shutdown text")
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
