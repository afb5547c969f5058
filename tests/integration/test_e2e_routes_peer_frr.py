"""heraldctl routes and peer reset|disable|enable against a real FRR 8 (bgpd) upstream (#20 item 2).

routes: `heraldctl routes --json` equals what FRR holds for each prefix (`show bgp ... PREFIX
json`: origin, AS path, next hop, MED, communities, large communities), before and after a
steer. peer: reset -> FRR logs NOTIFICATION 6/4 (Cease/Administrative Reset) with herald's text
and the session comes back; disable -> FRR records 6/2 with the shutdown communication, the
session stays down and the routes go; enable -> back.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

UP_POLICY = """
[service.policy.up]
communities = ["65053:100"]
large-communities = ["65053:1:2"]
"""


def frr_attrs(site: hl.Site, prefix: str) -> dict:
    """FRR's path for `prefix` in the words of heraldctl routes --json (what FRR received)."""
    fam = "ipv6" if ":" in prefix else "ipv4"
    paths = site.frr.json(f"show bgp {fam} unicast {prefix} json").get("paths", [])
    if not paths:
        return {}
    p = paths[0]
    path = []
    for seg in p.get("aspath", {}).get("segments", []):
        path += seg["list"] if seg["type"] == "as-sequence" else [seg["list"]]
    nh = [n["ip"] for n in p.get("nexthops", []) if n.get("scope", "global") == "global"]
    return {"origin": p.get("origin"), "as_path": path, "next_hop": nh[0] if nh else None,
            "med": p.get("metric"), "communities": p.get("community", {}).get("list", []),
            "large_communities": p.get("largeCommunity", {}).get("list", [])}


def herald_attrs(site: hl.Site) -> dict:
    """prefix -> the attributes heraldctl routes upstream --json says were sent."""
    reply = json.loads(site.ctl("routes", "upstream", "--json").stdout)
    out = {}
    for g in reply["peers"][0]["groups"]:
        for prefix in g["prefixes"]:
            out[prefix] = {k: g[k] for k in ("origin", "as_path", "next_hop", "med", "communities",
                                             "large_communities")}
    return out


def check_same(site: hl.Site, what: str) -> None:
    mine = herald_attrs(site)
    assert set(mine) == {hl.PREFIX_V4, hl.PREFIX_V6}, mine
    for prefix in (hl.PREFIX_V4, hl.PREFIX_V6):
        assert mine[prefix] == frr_attrs(site, prefix), (what, prefix, mine[prefix], frr_attrs(site, prefix))
    print(f"ok: {what}: heraldctl routes = what FRR holds for both prefixes: {mine[hl.PREFIX_V4]}")


def neighbor(site: hl.Site) -> dict:
    return site.frr.json(f"show bgp neighbors {hl.NODE_V4} json").get(hl.NODE_V4, {})


def main() -> int:
    harness.require_root()
    with harness.Lab("rtpeerfrr") as lab:
        site = hl.Site(lab, "frr")
        # FRR logs received NOTIFICATIONs only with log-neighbor-changes.
        harness.run(["vtysh", "--vty_socket", site.frr.vty_dir, "-d", "bgpd", "-c", "configure terminal",
                     "-c", f"router bgp {hl.ROUTER_AS}", "-c", "bgp log-neighbor-changes"], timeout=10)
        site.start_herald(hl.herald_config(lab, drain_period="30s", extra_services=UP_POLICY))
        site.start_dns().wait_ready()
        harness.wait_for(site.session_up, timeout=30, what="BGP session with FRR")
        site.wait_route(hl.PREFIX_V4, True, timeout=15, interval=0.1)
        site.wait_route(hl.PREFIX_V6, True, timeout=10, interval=0.1)
        harness.wait_for(lambda: frr_attrs(site, hl.PREFIX_V6).get("large_communities"), timeout=5,
                         what="the up policy's large community at FRR")
        check_same(site, "up")

        site.ctl("steer", "dns", "--prepend", "1", "--med", "77")
        harness.wait_for(lambda: frr_attrs(site, hl.PREFIX_V4).get("as_path") == [65053, 65053] and
                         frr_attrs(site, hl.PREFIX_V6).get("med") == 77, timeout=5, what="the steered path at FRR")
        check_same(site, "steered (prepend 1, MED 77)")

        log_before = len(site.frr.proc.log())
        site.ctl("peer", "reset", "upstream", "--reason", "reset by e2e")
        harness.wait_for(lambda: re.search(r"received from neighbor 203\.0\.113\.2 6/4 \(Cease/Administrative Reset\)"
                                           r".*reset by e2e", site.frr.proc.log()),
                         timeout=10, what="FRR to log NOTIFICATION 6/4 with herald's text")
        harness.wait_for(lambda: re.search(r"neighbor 203\.0\.113\.2\S* in vrf default Up", site.frr.proc.log()[log_before:]),
                         timeout=20, what="FRR to log the session Up again after the reset")
        harness.wait_for(site.session_up, timeout=20, what="the session after the reset")
        site.wait_route(hl.PREFIX_V4, True, timeout=10, interval=0.1)
        # The first connection after the reset is the one that comes up: FRR, still clearing the
        # old session when its NOTIFICATION arrives, answers an immediate OPEN with 6/7.
        after = site.frr.proc.log()[log_before:]
        assert "OPEN receipt failed" not in after and "6/7 (Cease/Connection Collision Resolution)" not in after, after
        print("ok: peer reset -> FRR received 6/4 (Cease/Administrative Reset) with the text; session back on "
              "herald's first connection (no 6/7, no failed OPEN at FRR)")

        site.ctl("peer", "disable", "upstream", "--reason", "maintenance window")
        def shut_down() -> dict:
            n = neighbor(site)
            return n if n.get("lastErrorCodeSubcode") == "0602" else {}
        n = harness.wait_for(shut_down, timeout=10, what="FRR to record NOTIFICATION 6/2")
        assert n.get("lastNotificationReason") == "Cease/Administrative Shutdown", n
        assert n.get("lastShutdownDescription") == "maintenance window", n
        site.wait_route(hl.PREFIX_V4, False, timeout=10, interval=0.1)
        site.wait_route(hl.PREFIX_V6, False, timeout=5, interval=0.1)
        assert neighbor(site).get("bgpState") != "Established"
        assert site.status()["status"]["peers"][0]["disabled"]["reason"] == "maintenance window"
        print("ok: peer disable -> FRR recorded 6/2 Cease/Administrative Shutdown, 'maintenance window'; routes gone")

        site.ctl("peer", "enable", "upstream")
        harness.wait_for(site.session_up, timeout=30, what="the session after enable")
        site.wait_route(hl.PREFIX_V4, True, timeout=15, interval=0.1)
        site.wait_route(hl.PREFIX_V6, True, timeout=10, interval=0.1)
        check_same(site, "after enable")
    print("routes/peer with FRR: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
