"""End to end with a real FRR 8 (bgpd) upstream and a real unbound, herald started from its config.

Asserts on FRR's own RIB and neighbor state (vtysh JSON): both prefixes announced with herald's
AS path; DNS stop -> withdrawn; DNS back -> announced; steer -> prepends and MED at FRR; drain ->
GRACEFUL_SHUTDOWN community (FRR lowers local-pref to 0 itself, RFC 8326), then withdrawal;
SIGTERM -> FRR records Cease/Administrative Shutdown with herald's text, routes gone.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402


def path_of(site: hl.Site, prefix: str) -> dict:
    fam = "ipv6" if ":" in prefix else "ipv4"
    j = site.frr.json(f"show bgp {fam} unicast {prefix} json")
    paths = j.get("paths", [])
    return paths[0] if paths else {}


def main() -> int:
    harness.require_root()
    with harness.Lab("e2efrr") as lab:
        site = hl.Site(lab, "frr")
        site.start_herald(hl.herald_config(lab, drain_period="2s"))
        site.start_dns().wait_ready()
        harness.wait_for(site.session_up, timeout=30, what="BGP session with FRR")
        site.wait_route(hl.PREFIX_V4, True, timeout=15, interval=0.1)
        site.wait_route(hl.PREFIX_V6, True, timeout=5, interval=0.1)
        p = path_of(site, hl.PREFIX_V4)
        assert p.get("aspath", {}).get("string") == "65053", json.dumps(p)
        p6 = path_of(site, hl.PREFIX_V6)
        nh6 = [n.get("ip") for n in p6.get("nexthops", [])]
        assert hl.NODE_V6 in nh6, json.dumps(p6)
        print("ok: FRR has both prefixes from AS 65053, IPv6 next hop", hl.NODE_V6)

        t0 = time.monotonic()
        site.stop_dns()
        site.wait_route(hl.PREFIX_V4, False, timeout=10, interval=0.05)
        site.wait_route(hl.PREFIX_V6, False, timeout=5, interval=0.1)
        print(f"ok: DNS stopped -> withdrawn at FRR after {1000 * (time.monotonic() - t0):.0f} ms")
        site.start_dns()
        site.wait_route(hl.PREFIX_V4, True, timeout=15, interval=0.1)
        print("ok: DNS back -> re-announced at FRR")

        site.ctl("steer", "dns", "--prepend", "1", "--med", "77")
        harness.wait_for(lambda: path_of(site, hl.PREFIX_V4).get("aspath", {}).get("string") == "65053 65053",
                         timeout=5, what="prepended path at FRR")
        assert path_of(site, hl.PREFIX_V4).get("metric") == 77, json.dumps(path_of(site, hl.PREFIX_V4))
        site.ctl("steer", "dns", "--clear")
        print("ok: steer seen by FRR (path 65053 65053, MED 77)")

        site.ctl("drain", "dns", "--reason", "frr e2e")
        def gshut() -> bool:
            p = path_of(site, hl.PREFIX_V4)
            return "graceful-shutdown" in json.dumps(p.get("community", {})) and p.get("locPrf") == 0
        harness.wait_for(gshut, timeout=5, what="graceful-shutdown community and local-pref 0 at FRR")
        site.wait_route(hl.PREFIX_V4, False, timeout=6, interval=0.1)
        site.ctl("undrain", "dns")
        site.wait_route(hl.PREFIX_V4, True, timeout=5, interval=0.1)
        print("ok: drain -> FRR applied graceful-shutdown (local-pref 0), then withdrawn; undrain -> back")

        site.herald.stop(timeout=10)
        def ceased() -> dict:
            j = site.frr.json(f"show bgp neighbors {hl.NODE_V4} json").get(hl.NODE_V4, {})
            return j if "Administrative Shutdown" in json.dumps(j) else {}
        nb = harness.wait_for(ceased, timeout=10, what="FRR to record Cease/Administrative Shutdown")
        assert "herald shutting down" in json.dumps(nb), json.dumps(nb)[:2000]
        site.wait_route(hl.PREFIX_V4, False, timeout=5, interval=0.1)
        print("ok: SIGTERM -> FRR recorded Cease/Administrative Shutdown with herald's text; routes gone")
    print("e2e FRR: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
