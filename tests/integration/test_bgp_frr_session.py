#!/usr/bin/python3
"""herald-speak against FRR 8 (bgpd) over an IPv4 and an IPv6 session at once, both families on
each (IPv6 prefixes over the IPv4 session with a configured IPv6 next hop, and vice versa).

Asserts on what FRR reports (vtysh JSON): both sessions Established with both families
negotiated, the prefixes in FRR's tables with the expected AS path, next hop, MED, communities
and large communities; then an added prefix, a changed attribute and a withdrawal each reach FRR,
and FRR's UPDATE-received counter shows one UPDATE per change.
"""
import sys

import bgp_interop as bi
import harness
from bgp_interop import H4, H6, HERALD_AS, R4, R6

V4 = "203.0.113.53/32"
V4_NEW = "203.0.113.54/32"
V6 = "2001:db8:53::1/128"


def path_from(frr: harness.Frr, family: str, prefix: str, peer: str):
    """The path FRR holds for `prefix` from `peer`, or None."""
    j = frr.json(f"show bgp {family} unicast {prefix} json")
    for p in j.get("paths", []):
        if p.get("peer", {}).get("peerId") == peer:
            return p
    return None


def updates_received(frr: harness.Frr, peer: str) -> int:
    return bi.frr_neighbor(frr, peer).get("messageStats", {}).get("updatesRecv", -1)


def main() -> None:
    harness.require_root()
    t = bi.Timer("frr_session")
    with harness.Lab("bgpfrr") as lab:
        r, h = bi.topology(lab)
        frr = lab.frr(r, bi.frr_config([(H4, HERALD_AS), (H6, HERALD_AS)]))
        speak = bi.start_speaker(
            lab, h,
            peers=[bi.peer_spec("r4", R4, H4, nexthop6=H6), bi.peer_spec("r6", R6, H6, nexthop4=H4)],
            announce=[f"{V4},med=10,communities=65001:1 65001:2,large=65001:1:2,prepend=2",
                      f"{V6},med=20,communities=65001:3,large=65001:3:4"])
        for peer in (H4, H6):
            bi.wait_until(lambda: frr.neighbor_state(peer) == "Established", 15, f"FRR neighbor {peer} Established")
            caps = bi.frr_neighbor(frr, peer)["neighborCapabilities"]["multiprotocolExtensions"]
            for fam in ("ipv4Unicast", "ipv6Unicast"):
                assert caps.get(fam, {}).get("advertisedAndReceived"), f"{peer}: {fam} not negotiated: {caps}"
        t.mark("both sessions Established, both families negotiated")

        bi.wait_until(lambda: all(path_from(frr, f, p, peer) for peer in (H4, H6)
                                  for f, p in (("ipv4", V4), ("ipv6", V6))), 10, "prefixes in FRR's tables")
        for peer in (H4, H6):
            p4 = path_from(frr, "ipv4", V4, peer)
            assert p4["aspath"]["string"] == f"{HERALD_AS} {HERALD_AS} {HERALD_AS}", p4
            assert [n["ip"] for n in p4["nexthops"]] == [H4], p4
            assert p4["metric"] == 10, p4
            assert p4["community"]["string"] == "65001:1 65001:2", p4
            assert p4["largeCommunity"]["string"] == "65001:1:2", p4
            assert p4["origin"] == "IGP", p4
            p6 = path_from(frr, "ipv6", V6, peer)
            assert p6["aspath"]["string"] == f"{HERALD_AS}", p6
            assert p6["nexthops"][0]["ip"] == H6, p6
            assert p6["metric"] == 20, p6
            assert p6["community"]["string"] == "65001:3", p6
            assert p6["largeCommunity"]["string"] == "65001:3:4", p6
        t.mark("attributes as announced on both sessions")

        base = updates_received(frr, H4)
        speak.send(f"announce {V4_NEW},med=5")
        bi.wait_until(lambda: path_from(frr, "ipv4", V4_NEW, H4), 10, "added prefix at FRR")
        assert path_from(frr, "ipv4", V4_NEW, H4)["metric"] == 5
        speak.send(f"announce {V4},med=11,communities=65001:1 65001:2,large=65001:1:2,prepend=2")
        bi.wait_until(lambda: path_from(frr, "ipv4", V4, H4)["metric"] == 11, 10, "changed MED at FRR")
        speak.send(f"withdraw {V6}")
        bi.wait_until(lambda: path_from(frr, "ipv6", V6, H4) is None and path_from(frr, "ipv6", V6, H6) is None,
                      10, "withdrawn prefix gone at FRR")
        # One UPDATE per change: add, change, withdraw (keepalives are not counted here).
        assert updates_received(frr, H4) == base + 3, (base, updates_received(frr, H4))
        st = bi.peer_status(speak, "r4")
        assert st["state"] == "Established", st
        t.mark("add / change / withdraw: one UPDATE each")

        speak.send("stop maintenance window")
        bi.wait_until(lambda: bi.frr_neighbor(frr, H4).get("lastShutdownDescription") == "maintenance window", 10,
                      "FRR to show the shutdown communication")
        assert bi.frr_neighbor(frr, H4)["lastErrorCodeSubcode"] == "0602"
        assert speak.popen.wait(timeout=10) == 0
        t.mark("stop sent Cease with the shutdown text")
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
