"""RFC 9234 BGP roles and the Only-to-Customer attribute (OTC) between the live herald daemon,
FRR 8 and BIRD 2, asserting on what the routers themselves report.

    far ns   BIRD 2 (AS 65100)  eth0 198.51.100.130 --- up ns eth1 198.51.100.129  FRR 8 (AS 65000)
             eth1 198.51.100.2 ---.                     up ns eth0 203.0.113.1
                                   \\                          |
    node ns  herald (AS 65053)  eth1 198.51.100.1        eth0 203.0.113.2

Roles: herald is the provider of FRR (non-strict) and of BIRD (strict, BIRD "require roles");
BIRD is also FRR's provider. BIRD originates 198.18.5.0/24.
1. Roles are negotiated; BIRD's route reaches FRR with OTC 65100 (BIRD's egress); FRR, a
   customer with a role towards herald, keeps that route from herald (egress rule 2), and
   herald counts BIRD's own copy (no OTC, from a customer).
2. FRR loses its role towards herald (a misconfigured customer) and leaks BIRD's route (OTC
   65100) and herald's own (OTC 65053) back up: herald logs each leak and counts neither
   (ingress rule 1), the session stays up. Without a role FRR adds no OTC itself, so the OTC
   65053 it holds on herald's route is the one herald sent (egress rule 1).
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

HERALD_AS, FRR_AS, BIRD_AS = 65053, 65000, 65100
NODE_V4, FRR_V4 = "203.0.113.2", "203.0.113.1"        # herald <-> FRR
NODE_B, BIRD_N = "198.51.100.1", "198.51.100.2"       # herald <-> BIRD
FRR_B, BIRD_F = "198.51.100.129", "198.51.100.130"    # FRR <-> BIRD
SERVICE = "192.0.2.53/32"
BIRD_ROUTE = "198.18.5.0/24"


def frr_config(role_towards_herald: str) -> str:
    return f"""frr defaults traditional
hostname up
log stdout informational
!
router bgp {FRR_AS}
 bgp router-id {FRR_V4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 timers bgp 3 9
 neighbor {NODE_V4} remote-as {HERALD_AS}
 neighbor {NODE_V4} timers connect 1
 neighbor {NODE_V4} advertisement-interval 0
 neighbor {NODE_V4} disable-connected-check
{role_towards_herald} neighbor {BIRD_F} remote-as {BIRD_AS}
 neighbor {BIRD_F} timers connect 1
 neighbor {BIRD_F} disable-connected-check
 neighbor {BIRD_F} local-role customer strict-mode
 address-family ipv4 unicast
  neighbor {NODE_V4} activate
  neighbor {BIRD_F} activate
 exit-address-family
!
"""


BIRD_CONFIG = harness.bird_config(
    BIRD_N,
    harness.bird_bgp("frr", BIRD_F, BIRD_AS, FRR_B, FRR_AS, families=("ipv4",), import_filter="none",
                     export_filter="where source = RTS_STATIC", extra="  local role provider;\n  require roles;")
    + harness.bird_bgp("herald", BIRD_N, BIRD_AS, NODE_B, HERALD_AS, families=("ipv4",),
                       export_filter="where source = RTS_STATIC", extra="  local role customer;\n  require roles;"),
    extra=f"protocol static bird_prefix {{ ipv4; route {BIRD_ROUTE} blackhole; }}")


def herald_config(lab: harness.Lab) -> str:
    peers = (hl.herald_peer("frr", FRR_V4, FRR_AS, NODE_V4, families=["ipv4-unicast"], more='role = "provider"\n')
             + hl.herald_peer("bird", BIRD_N, BIRD_AS, NODE_B, families=["ipv4-unicast"],
                              more='role = "provider"\nstrict-role = true\n'))
    return hl.herald_global(lab, local_as=HERALD_AS, router_id=NODE_V4, more="metrics = false\n") + peers + f"""
[[service]]
name = "dns"
prefixes = ["{SERVICE}"]
"""


def frr_json(frr: harness.Frr, command: str) -> dict:
    try:
        return frr.json(command)
    except Exception:  # noqa: BLE001 - FRR answers nothing for a prefix it does not have
        return {}


def frr_path(frr: harness.Frr, prefix: str, peer: str):
    for p in frr_json(frr, f"show bgp ipv4 unicast {prefix} json").get("paths", []):
        if p.get("peer", {}).get("peerId") == peer:
            return p
    return None


def vtysh_config(frr: harness.Frr, *lines: str) -> None:
    cmd = ["vtysh", "--vty_socket", frr.vty_dir, "-d", "bgpd", "-c", "configure terminal",
           "-c", f"router bgp {FRR_AS}"]
    for line in lines:
        cmd += ["-c", line]
    harness.run(cmd)


def leak_lines(herald: harness.Proc) -> list:
    return [l for l in herald.log().splitlines() if "route leak detected" in l]


def herald_peer(lab: harness.Lab, name: str) -> dict:
    out = harness.run([harness.binary("heraldctl"), "--socket", lab.path("herald.sock"), "status", "--json"]).stdout
    for p in json.loads(out)["status"]["peers"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


def main() -> int:
    harness.require_root()
    with harness.Lab("roles") as lab:
        up, node, far = lab.netns("up"), lab.netns("node"), lab.netns("far")
        lab.link(up, f"{FRR_V4}/24", node, f"{NODE_V4}/24")
        lab.link(node, f"{NODE_B}/25", far, f"{BIRD_N}/25", name_a="eth1", name_b="eth1")
        lab.link(up, f"{FRR_B}/25", far, f"{BIRD_F}/25", name_a="eth1", name_b="eth0")
        frr = lab.frr(up, frr_config(f" neighbor {NODE_V4} local-role customer strict-mode\n"))
        bird = lab.bird(far, BIRD_CONFIG)
        cfg = lab.write("herald.toml", herald_config(lab))
        herald = node.popen([harness.binary("herald"), "-c", cfg], "herald")

        def frr_up(addr: str) -> bool:
            return frr.neighbor_state(addr) == "Established"
        harness.wait_for(lambda: frr_up(NODE_V4) and frr_up(BIRD_F), timeout=30, what="FRR's sessions")
        harness.wait_for(lambda: bird.established("herald") and bird.established("frr"), timeout=30,
                         what="BIRD's sessions")
        nb = frr_json(frr, f"show bgp neighbors {NODE_V4} json").get(NODE_V4, {})
        assert nb.get("localRole") == "customer" and nb.get("remoteRole") == "provider", \
            {k: nb.get(k) for k in ("localRole", "remoteRole")}
        print(f"ok: roles negotiated with FRR (localRole {nb['localRole']}, remoteRole {nb['remoteRole']}) "
              "and with BIRD (BIRD: require roles; herald: strict-role)")

        # BIRD, herald's customer, sends its own route without OTC: herald counts it. BIRD, also
        # FRR's provider, sends it to FRR with OTC = 65100 (egress rule 1).
        harness.wait_for(lambda: herald_peer(lab, "bird")["prefixes_received"] == 1, timeout=15,
                         what="herald counting BIRD's route")
        harness.wait_for(lambda: frr_path(frr, BIRD_ROUTE, BIRD_F), timeout=15, what=f"{BIRD_ROUTE} at FRR")
        assert frr_path(frr, BIRD_ROUTE, BIRD_F).get("otc") == BIRD_AS, frr_path(frr, BIRD_ROUTE, BIRD_F)
        # herald's route reaches both; BIRD (a customer with a role) marks what it got from its
        # provider with OTC itself (ingress rule 3), so its value proves nothing about herald.
        harness.wait_for(lambda: frr_path(frr, SERVICE, NODE_V4), timeout=15, what=f"{SERVICE} at FRR")
        harness.wait_for(lambda: SERVICE in bird.ctl("show route table master4 protocol herald").stdout,
                         timeout=15, what=f"{SERVICE} at BIRD")
        text = bird.ctl(f"show route {SERVICE} table master4 all").stdout
        assert re.search(rf"BGP\.otc:\s+{HERALD_AS}\b", text), text
        # FRR, a customer with a role towards herald, does not pass BIRD's route (it carries OTC)
        # up to herald, its other provider (egress rule 2).
        adv = frr_json(frr, f"show bgp ipv4 unicast neighbors {NODE_V4} advertised-routes json")
        assert adv.get("totalPrefixCounter", 0) == 0, adv
        assert herald_peer(lab, "frr")["prefixes_received"] == 0, herald_peer(lab, "frr")
        assert "route leak" not in herald.log(), herald.log()
        print(f"ok: FRR holds {BIRD_ROUTE} with otc {BIRD_AS} and keeps it from herald; herald counts "
              "BIRD's own copy; BIRD shows herald's route with BGP.otc 65053")

        # FRR without its role towards herald (a misconfigured customer) leaks everything to herald:
        # BIRD's route (OTC 65100) and herald's own (OTC 65053, as herald sent it).
        vtysh_config(frr, f"no neighbor {NODE_V4} local-role customer strict-mode")
        harness.wait_for(lambda: len(leak_lines(herald)) >= 2, timeout=30, what="herald's route-leak log lines")
        lines = leak_lines(herald)
        for asn in (BIRD_AS, HERALD_AS):
            assert any(f"OTC {asn} on a route from a customer" in l and "peer=frr" in l for l in lines), lines
        adv = frr_json(frr, f"show bgp ipv4 unicast neighbors {NODE_V4} advertised-routes json")
        assert adv.get("totalPrefixCounter") == 2, adv  # the same query that said 0 before
        st = herald_peer(lab, "frr")
        assert st["state"] == "Established", st
        assert st["prefixes_received"] == 0, st
        print(f"ok: the routes FRR leaks are ineligible at herald, session kept: {lines[0].split(' warning ', 1)[-1]}")
        # Without a role FRR adds no OTC of its own: the one it holds on herald's route is herald's.
        nb = frr_json(frr, f"show bgp neighbors {NODE_V4} json").get(NODE_V4, {})
        assert nb.get("localRole") == "undefined", nb.get("localRole")
        p = frr_path(frr, SERVICE, NODE_V4)
        assert p and p.get("otc") == HERALD_AS, p
        print(f"ok: FRR, without a role, holds {SERVICE} from herald with otc {p['otc']}: herald's egress OTC")
        herald.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
