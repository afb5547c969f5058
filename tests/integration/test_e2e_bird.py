"""End to end with a real BIRD 2 upstream and a real unbound: herald started from its config file.

Asserts on BIRD's own RIB and protocol state (birdc), never on herald's view alone:
/metrics passes promtool and every family it shows is in docs/metrics.md; DNS stop -> withdrawn;
DNS back -> re-announced after rise; steer -> prepends and MED; drain -> GRACEFUL_SHUTDOWN then
withdrawal; undrain; reload adding a service -> announced without a session reset; reload of a
broken file -> refused, nothing changes; SIGTERM -> Cease with the shutdown text, route gone;
restart with a persisted drain -> stays drained.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

EXTRA_SERVICE = """
[[service]]
name = "ntp"
prefixes = ["198.51.100.123/32"]
"""


def read_metrics_doc() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "docs", "metrics.md"), encoding="utf-8") as f:
        return f.read()


def session_since(site: hl.Site) -> float:
    return site.bird.protocol_since("herald")


def main() -> int:
    harness.require_root()
    with harness.Lab("e2ebird") as lab:
        site = hl.Site(lab, "bird")
        site.start_herald(hl.herald_config(lab, drain_period="2s", max_prefix=1000))
        site.start_dns().wait_ready()
        harness.wait_for(site.session_up, timeout=20, what="BGP session with BIRD")
        site.wait_route(hl.PREFIX_V4, True, timeout=15)
        site.wait_route(hl.PREFIX_V6, True, timeout=5)
        routes = site.router_routes()
        assert "BGP.as_path: 65053" in routes[hl.PREFIX_V4], routes
        assert "BGP.next_hop: 203.0.113.2" in routes[hl.PREFIX_V4], routes
        assert "BGP.next_hop: 2001:db8:ffff::2" in routes[hl.PREFIX_V6], routes
        print("ok: both prefixes announced with AS path 65053 and the right next hops")

        # Metrics: scraped with a real HTTP client, validated by promtool.
        text = site.node.run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout
        lint = harness.run(["promtool", "check", "metrics"], check=False, input=text)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        for want in ('herald_peer_up{peer="upstream"} 1', 'herald_peer_state{peer="upstream",state="Established"} 1',
                     'herald_service_state{service="dns",state="Up"} 1',
                     'herald_peer_prefixes_announced{peer="upstream"} 2', 'herald_check_latency_seconds_count{service="dns"}',
                     'herald_build_info{version=', 'herald_peer_max_prefix{peer="upstream"} 1000'):
            assert want in text, (want, text[:3000])
        print("ok: /metrics scraped with curl passes promtool check metrics and shows peer, service and checks")
        # Every family the live daemon exports is in docs/metrics.md, with the same type.
        documented = dict(re.findall(r"^\| `(herald_\w+)` \| (\w+) \|", read_metrics_doc(), re.M))
        scraped = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        wrong = {n: (t, documented.get(n)) for n, t in scraped.items() if documented.get(n) != t}
        assert not wrong, f"scraped families missing from docs/metrics.md or with another type: {wrong}"
        # The check's series carry its configured name (name = "www"), not a description.
        assert re.search(r'^herald_check_stale_replies_total\{service="dns",check="www"\} \d+$', text, re.M), \
            text[:3000]
        assert re.search(r'^herald_check_up\{service="dns",check="www"\} 1$', text, re.M), text[:3000]
        print(f"ok: all {len(scraped)} scraped families are in docs/metrics.md, the DNS check's stale replies too")

        # DNS down -> withdrawn (fall 2 at 100 ms), DNS back -> announced (rise 2); the operator's
        # event stream reports both.
        events = lab.popen([harness.binary("heraldctl"), "--socket", lab.path("herald.sock"), "events", "--json"],
                           "events")
        time.sleep(0.3)
        t0 = time.monotonic()
        site.stop_dns()
        site.wait_route(hl.PREFIX_V4, False, timeout=10, interval=0.01)
        site.wait_route(hl.PREFIX_V6, False, timeout=5)
        print(f"ok: DNS stopped -> withdrawn at BIRD after {1000 * (time.monotonic() - t0):.0f} ms")
        st = site.status()["status"]["services"][0]
        assert st["state"] == "Down" and not st["announced"], st
        # The reason and the status name the check as configured.
        assert 'check "www": ' in st["reason"], st
        assert [(c["name"], c["kind"]) for c in st["checks"]] == [("www", "dns")], st["checks"]
        assert st["checks"][0]["target"].startswith("dns 192.0.2.53:53 www.example. A"), st["checks"]
        text = site.ctl("status").stdout
        assert re.search(r"^dns\s+www\s+dns\s", text, re.M), text
        print("ok: the reason, status (JSON and text) and metrics call the check \"www\"")
        site.start_dns()
        site.wait_route(hl.PREFIX_V4, True, timeout=15)
        site.wait_route(hl.PREFIX_V6, True, timeout=5)
        print("ok: DNS back -> re-announced")
        def seen_events() -> bool:
            lines = [json.loads(l) for l in events.log().splitlines() if l.startswith("{")]
            kinds = {(e.get("event"), e.get("new")) for e in lines}
            return {("service", "Down"), ("announce", "withdrawn"), ("service", "Up"), ("announce", "announced")} <= kinds
        harness.wait_for(seen_events, timeout=5, what="service and announce events on heraldctl events")
        events.stop()
        print("ok: heraldctl events streamed the service and announce changes")

        # Steering: prepends and MED reach the router; clear restores.
        site.ctl("steer", "dns", "--prepend", "2", "--med", "50")
        harness.wait_for(lambda: "BGP.as_path: 65053 65053 65053" in site.router_routes().get(hl.PREFIX_V4, ""),
                         timeout=5, what="prepended path at BIRD")
        assert "BGP.med: 50" in site.router_routes()[hl.PREFIX_V4]
        site.ctl("steer", "dns", "--clear")
        harness.wait_for(lambda: "BGP.as_path: 65053\n" in site.router_routes().get(hl.PREFIX_V4, "") + "\n",
                         timeout=5, what="plain path at BIRD")
        print("ok: steer --prepend 2 --med 50 seen by BIRD, --clear undone")

        # Bad control commands change nothing.
        r = site.ctl("drain", "nosuchservice", check=False)
        assert r.returncode != 0 and "unknown service" in r.stderr, (r.returncode, r.stdout, r.stderr)
        assert site.has_route(hl.PREFIX_V4)
        print("ok: drain of an unknown service refused, nothing changed")

        # Drain: GRACEFUL_SHUTDOWN first (BIRD's filter sets local-pref 0), then withdrawal.
        site.ctl("drain", "dns", "--reason", "e2e maintenance")
        harness.wait_for(lambda: "(65535,0)" in site.router_routes().get(hl.PREFIX_V4, ""), timeout=5,
                         what="graceful-shutdown community")
        assert "BGP.local_pref: 0" in site.router_routes()[hl.PREFIX_V4]
        site.wait_route(hl.PREFIX_V4, False, timeout=6)
        site.ctl("undrain", "dns")
        site.wait_route(hl.PREFIX_V4, True, timeout=5)
        assert "(65535,0)" not in site.router_routes()[hl.PREFIX_V4]
        print("ok: drain -> graceful-shutdown then withdrawn after drain-period; undrain -> back")

        # Reload adding a service: announced, session not reset.
        since = session_since(site)
        site.write_config(hl.herald_config(lab, drain_period="2s", extra_services=EXTRA_SERVICE, max_prefix=1000))
        r = site.ctl("reload", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        site.wait_route("198.51.100.123/32", True, timeout=10)
        assert harness.same_since(session_since(site), since), (since, site.bird.protocol_state("herald"))
        assert site.has_route(hl.PREFIX_V4)
        print("ok: reload added service ntp, announced without resetting the session")

        # Reload changing only what a running session can take (description, max-prefix, the
        # IPv4 next hop): applied in place. BIRD sees the route again with the new next hop, the
        # session stays, the metric shows the new limit.
        site.write_config(hl.herald_config(lab, drain_period="2s", extra_services=EXTRA_SERVICE, max_prefix=500,
                                           peer_extra='description = "transit A"\nnext-hop-v4 = "203.0.113.3"\n'))
        r = site.ctl("reload", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        harness.wait_for(lambda: "BGP.next_hop: 203.0.113.3" in site.router_routes().get(hl.PREFIX_V4, ""),
                         timeout=5, what="new next hop at BIRD")
        assert "BGP.next_hop: 203.0.113.3" in site.router_routes().get("198.51.100.123/32", "")
        assert harness.same_since(session_since(site), since), (since, site.bird.protocol_state("herald"))
        text = site.node.run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout
        assert 'herald_peer_max_prefix{peer="upstream"} 500' in text, [l for l in text.splitlines() if "max_prefix" in l]
        peers = site.status()["status"]["peers"]
        assert peers[0].get("description") == "transit A", peers[0]
        kept = [l for l in site.herald.log().splitlines() if "peer changed, session kept" in l]
        assert kept and "description,next-hop-v4,max-prefix" in kept[-1], kept
        print("ok: reload of description, max-prefix and next hop applied without resetting the session")

        # Reload of a broken file: refused with file:line:col, nothing changes.
        site.write_config("[global]\nlocal-as = 65053\nbogus-key = 1\n[[peer]\n")
        r = site.ctl("reload", check=False)
        assert r.returncode != 0 and re.search(r"herald\.toml:\d+:\d+", r.stderr), (r.stdout, r.stderr)
        time.sleep(0.5)
        assert site.has_route("198.51.100.123/32") and site.has_route(hl.PREFIX_V4)
        assert harness.same_since(session_since(site), since), (since, site.bird.protocol_state("herald"))
        assert site.herald.alive()
        print("ok: broken config refused with file:line:col; routes and session untouched")
        # SIGHUP with the broken file: same.
        site.herald.signal(2 - 1)  # SIGHUP
        time.sleep(0.5)
        assert site.herald.alive() and site.has_route(hl.PREFIX_V4)
        print("ok: SIGHUP with a broken file keeps the running config")

        # Persisted drain survives a restart.
        site.write_config(hl.herald_config(lab, drain_period="30s", max_prefix=1000))
        site.ctl("drain", "dns", "--reason", "persist me")
        site.herald.stop(timeout=10)
        harness.wait_for(lambda: "Administrative shutdown" in site.bird.ctl("show protocols all herald").stdout,
                         timeout=10, what="BIRD to see Cease/Administrative Shutdown")
        detail = site.bird.ctl("show protocols all herald").stdout
        assert "herald shutting down" in detail, detail
        site.wait_route(hl.PREFIX_V4, False, timeout=5)
        print("ok: SIGTERM -> BIRD saw Cease/Administrative shutdown with herald's text; route gone")
        os.unlink(lab.path("herald.sock")) if os.path.exists(lab.path("herald.sock")) else None
        site.start_herald()
        harness.wait_for(site.session_up, timeout=20, what="session after restart")
        harness.wait_for(lambda: site.status()["status"]["services"][0]["state"] == "Drained", timeout=10,
                         what="service drained after restart")
        harness.wait_for(lambda: "(65535,0)" in site.router_routes().get(hl.PREFIX_V4, ""), timeout=10,
                         what="drained announcement after restart")
        print("ok: restart with a persisted drain -> still drained (graceful-shutdown community)")
    print("e2e BIRD: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
