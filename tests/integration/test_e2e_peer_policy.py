"""Which peers get which service, and per-peer attributes, end to end against a real BIRD 2 and a
real FRR 8 at once: herald (AS 65053) has two peers, BIRD ("bird", AS 65000) and FRR ("frr",
AS 65001), each in its own namespace on its own link.

    bird ns  eth0 203.0.113.1/24  ---  node ns eth0 203.0.113.2/24   herald
    frr ns   eth0 198.51.100.1/24 ---  node ns eth1 198.51.100.2/24

Services (no checks: always up): "dns" 192.0.2.53/32 with peers = ["bird"], "ntp" 192.0.2.123/32
to every peer. Each [[peer]] adds communities, a large community, an extended community (RFC 4360),
MED and prepend of its own; a third peer, "ibgp", is an iBGP session with BIRD (second addresses
on the same link) with local-pref. Asserted on the routers' own RIBs (birdc, vtysh JSON):
- BIRD has both prefixes, FRR only ntp (dns is never sent to it);
- each router sees its own peer's attributes on top of the service's (the service's up policy
  adds community 65053:53 and rt:65053:53), and heraldctl routes lists the extended communities
  as sent; the iBGP route carries LOCAL_PREF 250;
- a reload moving dns from bird to frr, and changing bird's MED, withdraws dns at BIRD, announces it
  at FRR and changes the MED BIRD sees, with neither session reset (BIRD's protocol "since"
  unchanged, FRR's established-connection count unchanged); heraldctl status shows each
  service's peers (JSON and the text's PEERS column).
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bgp_interop as bi  # noqa: E402
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

BIRD_IP, NODE_IP_B = "203.0.113.1", "203.0.113.2"
# A second session with BIRD, iBGP (BIRD's protocol "herald_i" in herald's own AS), between
# second addresses of both ends: BIRD tells its sessions apart by the neighbor's address.
BIRD_IBGP_IP, NODE_IBGP_IP = "203.0.113.3", "203.0.113.4"
FRR_IP, NODE_IP_F = "198.51.100.1", "198.51.100.2"
NODE_AS, BIRD_AS, FRR_AS = 65053, 65000, 65001
DNS, NTP = "192.0.2.53/32", "192.0.2.123/32"


def herald_config(lab: harness.Lab, dns_peers: str, bird_med: int) -> str:
    return hl.herald_global(lab, router_id=NODE_IP_B) + hl.herald_peer(
        "bird", BIRD_IP, BIRD_AS, NODE_IP_B,
        more=f"""communities = ["65053:1"]
large-communities = ["65053:1:1"]
extended-communities = ["rt:65053:100"]
med = {bird_med}
prepend = 1
""") + hl.herald_peer(
        "frr", FRR_IP, FRR_AS, NODE_IP_F,
        more="""communities = ["65053:2"]
extended-communities = ["soo:192.0.2.1:7", "rt:4200000000:9"]
med = 70
prepend = 2
""") + hl.herald_peer("ibgp", BIRD_IBGP_IP, NODE_AS, NODE_IBGP_IP, more="local-pref = 250\nmed = 5\n") + f"""
[[service]]
name = "dns"
prefixes = ["{DNS}"]
peers = {dns_peers}
[service.address]
bind = false
[service.policy.up]
communities = ["65053:53"]
extended-communities = ["rt:65053:53"]

[[service]]
name = "ntp"
prefixes = ["{NTP}"]
[service.address]
bind = false
[service.policy.up]
communities = ["65053:53"]
extended-communities = ["rt:65053:53"]
"""


def bird_ext(bird: harness.Bird, prefix: str) -> str:
    """The BGP.ext_community line of `prefix` from protocol herald ("" when none)."""
    text = bird.ctl(f"show route {prefix} protocol herald all", check=False).stdout
    for line in text.splitlines():
        if line.strip().startswith("BGP.ext_community:"):
            return line.strip()
    return ""


def frr_path(frr: harness.Frr, prefix: str) -> dict:
    j = frr.json(f"show bgp ipv4 unicast {prefix} json")
    paths = j.get("paths", [])
    return paths[0] if paths else {}


def frr_established_count(frr: harness.Frr) -> int:
    return int(bi.frr_neighbor(frr, NODE_IP_F).get("connectionsEstablished", -1))


def main() -> int:
    harness.require_root()
    with harness.Lab("peerpol") as lab:
        up_b = lab.netns("bird")
        up_f = lab.netns("frr")
        node = lab.netns("node")
        lab.link(up_b, f"{BIRD_IP}/24", node, f"{NODE_IP_B}/24")
        lab.link(up_f, f"{FRR_IP}/24", node, f"{NODE_IP_F}/24", name_b="eth1")
        up_b.run("ip", "addr", "add", f"{BIRD_IBGP_IP}/24", "dev", "eth0")
        node.run("ip", "addr", "add", f"{NODE_IBGP_IP}/24", "dev", "eth0")
        # `direct`: the iBGP neighbor is on the link, its next hop needs no IGP to resolve.
        bird = lab.bird(up_b, harness.bird_config(
            BIRD_IP, harness.bird_bgp("herald", BIRD_IP, BIRD_AS, NODE_IP_B, NODE_AS, families=("ipv4",)) +
            harness.bird_bgp("herald_i", BIRD_IBGP_IP, NODE_AS, NODE_IBGP_IP, NODE_AS, families=("ipv4",),
                             extra="  direct;")))
        frr = lab.frr(up_f, f"""frr defaults traditional
router bgp {FRR_AS}
 bgp router-id {FRR_IP}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor {NODE_IP_F} remote-as {NODE_AS}
 neighbor {NODE_IP_F} timers 3 9
 neighbor {NODE_IP_F} timers connect 2
 neighbor {NODE_IP_F} disable-connected-check
 address-family ipv4 unicast
  neighbor {NODE_IP_F} activate
 exit-address-family
""")
        config_path = lab.path("herald.toml")
        socket = lab.path("herald.sock")
        with open(config_path, "w") as f:
            f.write(herald_config(lab, '["bird"]', 50))
        herald = node.popen([harness.binary("herald"), "-c", config_path], "herald")
        harness.wait_for(lambda: os.path.exists(socket) or not herald.alive(), timeout=10, what="herald's socket")
        assert herald.alive(), herald.log()

        def ctl(*args: str):
            return harness.run([harness.binary("heraldctl"), "--socket", socket, *args], check=False, timeout=10)

        harness.wait_for(lambda: bird.established("herald"), timeout=30, what="BGP session with BIRD")
        harness.wait_for(lambda: frr.neighbor_state(NODE_IP_F) == "Established", timeout=30,
                         what="BGP session with FRR")

        # --- which peer gets which service ---
        def both_at_bird():
            r = bi.bird_routes(bird, "master4", "herald")
            return r if DNS in r and NTP in r else None
        routes_b = harness.wait_for(both_at_bird, timeout=15, what="dns and ntp at BIRD")
        frr_ntp = harness.wait_for(lambda: frr_path(frr, NTP), timeout=15, interval=0.2, what="ntp at FRR")
        assert not frr_path(frr, DNS), "dns (peers = [\"bird\"]) reached FRR: " + json.dumps(frr.json("show bgp ipv4 unicast json"))
        print("ok: dns (peers = [\"bird\"]) at BIRD only; ntp (no peers key) at BIRD and FRR")

        # --- BIRD sees bird's own attributes on top of the service's ---
        for prefix in (DNS, NTP):
            r = routes_b[prefix]
            assert r.get("as_path") == [NODE_AS, NODE_AS], r           # prepend = 1
            assert r.get("med") == 50, r                                # peer med
            assert sorted(r.get("communities", [])) == [(65053, 1), (65053, 53)], r
            assert r.get("large_communities") == [(65053, 1, 1)], r
            ext = bird_ext(bird, prefix)
            assert "(rt, 65053, 53)" in ext and "(rt, 65053, 100)" in ext, ext
        # heraldctl routes lists the extended communities as sent, like every other attribute.
        groups = json.loads(ctl("routes", "bird", "--json").stdout)["peers"][0]["groups"]
        v4 = [g for g in groups if g["family"] == "ipv4-unicast"]
        assert v4 and all(sorted(g["extended_communities"]) == ["rt:65053:100", "rt:65053:53"] for g in v4), groups
        assert re.search(r"^192\.0\.2\.53/32\s.*\srt:65053:(100 rt:65053:53|53 rt:65053:100)\s", ctl("routes", "bird").stdout,
                         re.M), ctl("routes", "bird").stdout
        print("ok: BIRD sees prepend 1, MED 50, communities 65053:1 + 65053:53, large 65053:1:1, "
              "ext rt 65053:100 + rt 65053:53; heraldctl routes shows the same extended communities")

        # --- iBGP: LOCAL_PREF from the peer's local-pref (eBGP peers refuse the key) ---
        def ibgp_ntp():
            r = bi.bird_routes(bird, "master4", "herald_i").get(NTP)
            return r if r and r.get("local_pref") is not None else None
        r = harness.wait_for(ibgp_ntp, timeout=15, what="ntp with a local preference from the iBGP session")
        assert r["local_pref"] == 250 and r.get("med") == 5 and r.get("as_path", []) == [], r
        print("ok: the iBGP peer's route carries LOCAL_PREF 250 and MED 5, no AS prepended")

        # --- FRR sees frr's attributes ---
        p = frr_ntp
        assert p.get("aspath", {}).get("string") == "65053 65053 65053", json.dumps(p)  # prepend = 2
        assert p.get("metric") == 70, json.dumps(p)
        comms = p.get("community", {}).get("string", "")
        assert comms.split() == ["65053:2", "65053:53"], json.dumps(p)
        ext = p.get("extendedCommunity", {}).get("string", "")
        for want in ("RT:65053:53", "SoO:192.0.2.1:7", "RT:4200000000:9"):
            assert want in ext, (want, json.dumps(p))
        print(f"ok: FRR sees path 65053 65053 65053, MED 70, communities {comms!r}, extended {ext!r}")

        # --- reload: dns moves from bird to frr, bird's MED changes; no session reset ---
        since_b = bird.protocol_since("herald")
        conns_f = frr_established_count(frr)
        assert conns_f >= 1, conns_f
        with open(config_path, "w") as f:
            f.write(herald_config(lab, '["frr"]', 60))
        r = ctl("reload")
        assert r.returncode == 0, r.stdout + r.stderr
        harness.wait_for(lambda: DNS not in bi.bird_routes(bird, "master4", "herald"), timeout=10,
                         what="dns withdrawn at BIRD")
        p = harness.wait_for(lambda: frr_path(frr, DNS), timeout=10, interval=0.2, what="dns announced at FRR")
        assert p.get("metric") == 70 and "65053:2" in p.get("community", {}).get("string", ""), json.dumps(p)
        harness.wait_for(lambda: bi.bird_routes(bird, "master4", "herald").get(NTP, {}).get("med") == 60,
                         timeout=10, what="BIRD to see bird's new MED 60 on ntp")
        assert bird.established("herald") and harness.same_since(since_b, bird.protocol_since("herald")), \
            bird.protocol_state("herald")
        assert frr.neighbor_state(NODE_IP_F) == "Established" and frr_established_count(frr) == conns_f, \
            (frr_established_count(frr), conns_f)
        services = {s["name"]: s for s in json.loads(ctl("status", "--json").stdout)["status"]["services"]}
        assert services["dns"]["peers"] == ["frr"] and services["ntp"]["peers"] == ["bird", "frr", "ibgp"], services
        # The text status says the same in its PEERS column (dns names its peers, ntp goes to all).
        text = ctl("status").stdout
        assert re.search(r"^dns\s+Up\s.*\s192\.0\.2\.53/32\s+frr\s", text, re.M), text
        assert re.search(r"^ntp\s+Up\s.*\s192\.0\.2\.123/32\s+all\s", text, re.M), text
        print("ok: reload moved dns from BIRD to FRR and changed BIRD's MED to 60, no session reset on either")

        # The reload's log line names the changed key and says the session was kept.
        harness.wait_for(lambda: any("peer changed, session kept" in l and "peer=bird" in l and "changed=med" in l
                                     for l in herald.log().splitlines()),
                         timeout=5, what="herald's log line for bird's retune")
        assert "session restarts" not in herald.log(), herald.log()[-3000:]
        assert "service peers changed service=dns removed_peers=bird added_peers=frr reason=reload" in herald.log(), \
            herald.log()[-3000:]
        herald.stop(timeout=10)
    print("peer policy e2e (BIRD + FRR): all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
