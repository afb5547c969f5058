"""herald --dry-run against BIRD and a real unbound: every check runs and the service policy
decides as usual, but nothing leaves the host and nothing changes on it.

- BIRD, configured for herald and trying to connect to it, never gets a session: its protocol
  never reaches Established and no TCP connection on port 179 exists in either namespace
  (herald neither listens nor connects);
- the service address never appears on the node's interfaces (no netlink write);
- no state file is written, not even for an operator's drain;
- `heraldctl status` says DRY RUN (text and "dry_run": true in JSON), shows the service Up with
  its reason and, per peer, the route with the attributes it would carry; the log has the
  decision lines, marked "dry run: not sent";
- `heraldctl routes` (text and JSON) shows what would be sent to each peer, the same as the
  status's would_send, marked as a dry run;
- unbound stopped -> the service goes Down in the dry-run status and nothing would be sent;
  unbound back -> Up again.
Every wait is bounded.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402


def config(lab: harness.Lab) -> str:
    # The check asks unbound on the node's loopback: the service address is never bound in a dry
    # run, so a check aimed at it would fail (docs/configuration.md says so).
    return hl.herald_global(lab) + hl.herald_peer("upstream", hl.ROUTER_V4, hl.ROUTER_AS, hl.NODE_V4) + f"""
[[service]]
name = "dns"
prefixes = ["{hl.PREFIX_V4}"]

[service.health]
interval = "100ms"
fast-interval = "100ms"
rise = 2
fall = 2
splay = false

[[service.check]]
type = "dns"
name = "www"
server = "127.0.0.1"
qname = "www.example."
expect = ["192.0.2.80"]

[service.policy.up]
med = 20
communities = ["65000:53"]
"""


def tcp_179(ns: harness.Netns, established_only: bool = False) -> str:
    """TCP sockets of the namespace on port 179 (listening ones too unless `established_only`);
    the closing states of BIRD's refused attempts are left out."""
    state = ["state", "established"] if established_only else []
    out = ns.run("ss", "-Htan", *state, "( sport = :179 or dport = :179 )").stdout
    return "\n".join(line for line in out.splitlines() if "TIME-WAIT" not in line and "SYN-SENT" not in line)


def main() -> int:
    harness.require_root()
    with harness.Lab("dryrun") as lab:
        site = hl.Site(lab, "bird")
        dns = lab.unbound(site.node, "127.0.0.1", ["www.example. A 192.0.2.80"], name="unbound-a")
        dns.wait_ready()
        site.write_config(config(lab))
        site.herald = site.node.popen([harness.binary("herald"), "--dry-run", "-c", site.config_path], "herald")
        harness.wait_for(lambda: os.path.exists(site.socket) or not site.herald.alive(), timeout=10,
                         what="herald's control socket")
        assert site.herald.alive(), site.herald.log()

        def service() -> dict:
            return next(s for s in site.status()["status"]["services"] if s["name"] == "dns")

        harness.wait_for(lambda: service()["state"] == "Up", timeout=15, what="dns Up in the dry run")
        st = site.status()["status"]
        assert st["dry_run"] is True, st
        svc = service()
        assert 'check "www": ' in svc["reason"], svc
        sends = {w["peer"]: w for w in svc["would_send"]}
        assert list(sends) == ["upstream"] and sends["upstream"]["count"] == 1, svc["would_send"]
        route = sends["upstream"]["routes"][0]
        assert route["prefix"] == hl.PREFIX_V4 and route["as_path"] == [hl.NODE_AS], route
        assert route["next_hop"] == hl.NODE_V4 and route["med"] == 20, route
        assert route["communities"] == ["65000:53"] and route["local_pref"] is None, route
        text = site.ctl("status").stdout
        assert "\nDRY RUN: nothing is announced" in text, text
        assert "WOULD SEND (dry run)" in text and f"{hl.PREFIX_V4}" in text and "65000:53" in text, text
        print(f"ok: status says DRY RUN; dns Up ({svc['reason'][:50]!r}); would send {route}")

        # heraldctl routes shows the same, marked as a dry run (no session: nothing was sent).
        reply = json.loads(site.ctl("routes", "--json").stdout)
        assert reply["dry_run"] is True, reply
        (peer,) = reply["peers"]
        assert peer["name"] == "upstream" and peer["prefix_count"] == 1, peer
        (group,) = peer["groups"]
        assert group["prefixes"] == [hl.PREFIX_V4] and group["next_hop"] == route["next_hop"], group
        assert group["as_path"] == route["as_path"] and group["med"] == route["med"], group
        assert group["communities"] == route["communities"] and group["local_pref"] is None, group
        text = site.ctl("routes").stdout
        assert text.startswith("DRY RUN: no BGP session is opened"), text
        assert "PEER upstream 203.0.113.1 (no session): 1 prefixes would be sent" in text, text
        assert re.search(rf"^{re.escape(hl.PREFIX_V4)}\s+{re.escape(hl.NODE_V4)}\s+{hl.NODE_AS}\s+IGP\s+20\s+-\s+65000:53\s",
                         text, re.M), text
        print("ok: heraldctl routes (text and --json) shows what would be sent, marked DRY RUN")

        # BIRD keeps trying (it is configured to connect to herald); give it a few of its connect
        # retries, then look: never Established, no TCP connection on port 179 at all.
        harness.wait_for(lambda: "Connect" in site.bird.protocol_state("herald") or
                         "Active" in site.bird.protocol_state("herald"),
                         timeout=10, what="BIRD trying to reach herald")
        for _ in range(3):
            assert not site.bird.established("herald"), site.bird.protocol_state("herald")
            # Nothing of herald's on port 179 (no listener, no connection); BIRD only listens.
            assert tcp_179(site.node) == "" and tcp_179(site.up, True) == "", (tcp_179(site.node), tcp_179(site.up))
            harness.wait_for(lambda: service()["state"] == "Up", timeout=2, what="still Up")
        assert hl.PREFIX_V4 not in site.router_routes(), site.router_routes()
        addrs = site.node.run("ip", "-o", "addr", "show").stdout
        assert hl.SERVICE_V4 not in addrs, addrs
        print(f"ok: BIRD {site.bird.protocol_state('herald')!r}, never Established; no TCP on port 179; "
              f"{hl.SERVICE_V4} on no interface")

        log = site.herald.log()
        assert "dry run" in log and "prefix announced (dry run: not sent)" in log, log[-2000:]
        print("ok: the log says dry run and logs the decision as not sent")

        # A reload keeps the dry run (the option holds for every file read): the new MED shows
        # in what would be sent, and still no session. Turning dry-run off needs a restart.
        site.write_config(config(lab).replace("med = 20", "med = 30"))
        site.ctl("reload")
        harness.wait_for(lambda: service()["would_send"][0]["routes"][0]["med"] == 30, timeout=5,
                         what="the reloaded MED in would_send")
        assert site.status()["status"]["dry_run"] is True
        site.write_config(config(lab).replace("[global]", "[global]\ndry-run = true", 1))
        site.ctl("reload")  # the file now says what the option says: nothing to refuse
        assert site.status()["status"]["dry_run"] is True
        assert not site.bird.established("herald") and tcp_179(site.node) == ""
        print("ok: reloads keep the dry run; the new MED is what would be sent")

        # An operator's drain decides as usual and writes no state file.
        site.ctl("drain", "dns", "--reason", "dry-run drain")
        harness.wait_for(lambda: service()["state"] == "Drained", timeout=5, what="dns Drained")
        site.ctl("undrain", "dns")
        harness.wait_for(lambda: service()["state"] == "Up", timeout=10, what="dns Up after undrain")
        state_dir = lab.path("state")
        assert not os.path.exists(state_dir) or not os.listdir(state_dir), os.listdir(state_dir)
        print("ok: drain/undrain decided in the dry run; no state file written")

        # unbound stopped: the dry-run status shows the service Down and nothing to send.
        dns.proc.stop()
        harness.wait_for(lambda: service()["state"] == "Down", timeout=15, what="dns Down with unbound stopped")
        svc = service()
        assert [w["count"] for w in svc["would_send"]] == [0], svc["would_send"]
        assert 'check "www": ' in svc["reason"], svc
        text = site.ctl("status").stdout
        assert "(nothing: no service would be announced)" in text, text
        assert "prefix withdrawn (dry run: not sent)" in site.herald.log()
        assert json.loads(site.ctl("routes", "--json").stdout)["peers"][0]["prefix_count"] == 0
        assert "upstream 203.0.113.1 (no session): 0 prefixes would be sent\n(nothing announced)" in site.ctl("routes").stdout
        print(f"ok: unbound stopped -> Down in the dry run ({svc['reason'][:60]!r}), nothing would be sent")

        dns = lab.unbound(site.node, "127.0.0.1", ["www.example. A 192.0.2.80"], name="unbound-b")
        harness.wait_for(lambda: service()["state"] == "Up", timeout=15, what="dns Up again")
        assert not site.bird.established("herald") and tcp_179(site.node) == ""
        assert site.herald.stop(timeout=10) == 0, site.herald.log()[-2000:]
        assert not os.path.exists(state_dir) or not os.listdir(state_dir)
        print("ok: unbound back -> Up; herald exits cleanly, still without a session or a state file")
        print("dry run: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
