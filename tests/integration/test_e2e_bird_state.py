"""herald's persistent operator state against a real BIRD 2 upstream and a real unbound (#16):

- a drain whose drain-period is over stays withdrawn when the DNS service recovers while
  drained, and when herald restarts (operator drain and maintenance file): BIRD never sees the
  drained prefixes again;
- flap damping doubles a hold at most once per hold: flapping during a hold neither extends
  nor doubles it; the hold survives a restart (a healthy DNS server stays withdrawn), `heraldctl
  status` shows when it ends, `heraldctl clear-hold` ends it (and refuses an unknown service);
- a corrupt state file fails safe: herald starts with every service drained and withdrawn, logs
  an error naming the file, exports herald_state_file_fail_safe 1, keeps every corrupt copy
  under its own name, stays drained across a restart, and `undrain --all` announces again.

"BIRD never saw it" is read from BIRD's own per-session import counters ("Import updates:
received" of the ipv6 channel, which only the DNS service's 2001:db8:53::53/128 uses), taken
after a sync point: a steering change of the always-up service "ntp" (IPv4 only) that BIRD must
have received. herald sends UPDATEs in order on one session, so a wrong announcement of the DNS
prefixes made before the steering change would have reached BIRD before it. About 5 s.
"""
import glob
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

NTP_PREFIX = "198.51.100.123/32"
# Always up (no checks). Drained, it stays announced with one prepend (no drain-period), so it
# is still a sync point while every service is drained.
NTP_SERVICE = f"""
[[service]]
name = "ntp"
prefixes = ["{NTP_PREFIX}"]

[service.policy.drained]
action = "announce"
prepend = 1
drain-period = false
"""
HOLD_S = 40  # first flap hold: long enough to outlive a restart on a busy machine


def config(lab: harness.Lab, flap: bool = False) -> str:
    text = hl.herald_config(lab, drain_period="1s", extra_services=NTP_SERVICE, flap_max_changes=6)
    # The DNS service is also drained while lab/maintenance exists.
    dns_drained = '[service.policy.drained]\naction = "announce"\ncommunities = ["graceful-shutdown"]'
    assert dns_drained in text
    text = text.replace(dns_drained, f'[[service.check]]\ntype = "maintenance-file"\npath = "{lab.path("maintenance")}"\n\n'
                        + dns_drained, 1)
    if flap:
        text = text.replace("max-changes = 6\n",
                            f'max-changes = 2\nwindow = "5m"\nhold-down = "{HOLD_S}s"\nhold-down-max = "10m"\n')
        assert f'hold-down = "{HOLD_S}s"' in text
    return text


def v6_updates_received(site: hl.Site) -> int:
    """BIRD's count of IPv6 route announcements received on the current session."""
    text = site.bird.ctl("show protocols all herald").stdout
    m = re.search(r"Channel ipv6\n(?:.*\n)*?\s+Import updates:\s+(\d+)", text)
    assert m, text
    return int(m.group(1))


def sync(site: hl.Site, prepend: int) -> None:
    """Makes herald send one more UPDATE (ntp with `prepend` prepends) and waits until BIRD has
    it: everything herald sent before has reached BIRD too."""
    site.ctl("steer", "ntp", "--prepend", str(prepend))
    path = " ".join([str(hl.NODE_AS)] * (prepend + 1))
    harness.wait_for(lambda: f"BGP.as_path: {path}\n" in site.router_routes().get(NTP_PREFIX, "") + "\n",
                     timeout=10, what=f"ntp with {prepend} prepends at BIRD")


def service(site: hl.Site, name: str) -> dict:
    return next(s for s in site.status()["status"]["services"] if s["name"] == name)


def metrics(site: hl.Site) -> str:
    return site.node.run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout


def check_results(site: hl.Site, result: str) -> int:
    """herald_check_results_total of the DNS check (named "www" in herald_lab's config): completed
    check rounds with that result."""
    m = re.search(r'^herald_check_results_total\{service="dns",check="www",result="' + result + r'"\} (\d+)',
                  metrics(site), re.M)
    return int(m.group(1)) if m else 0


def wait_rounds(site: hl.Site, result: str, n: int) -> None:
    """Waits until the DNS check completed `n` more rounds with `result`."""
    start = check_results(site, result)
    harness.wait_for(lambda: check_results(site, result) >= start + n, timeout=15,
                     what=f"{n} more '{result}' rounds of the DNS check")


def restart(site: hl.Site, lab: harness.Lab, text: str = None) -> None:
    site.herald.stop(timeout=10)
    harness.wait_for(lambda: not site.session_up(), timeout=10, what="BIRD to see herald gone")
    if os.path.exists(lab.path("herald.sock")):
        os.unlink(lab.path("herald.sock"))
    site.start_herald(text)
    harness.wait_for(site.session_up, timeout=20, what="session after restart")


def assert_dns_never_announced(site: hl.Site, prepend: int, what: str) -> None:
    sync(site, prepend)
    routes = site.router_routes()
    assert hl.PREFIX_V4 not in routes and hl.PREFIX_V6 not in routes, (what, routes)
    n = v6_updates_received(site)
    assert n == 0, f"{what}: BIRD received {n} announcements of the DNS prefix on this session"


def main() -> int:
    harness.require_root()
    with harness.Lab("e2estate") as lab:
        site = hl.Site(lab, "bird")
        site.start_herald(config(lab))
        site.start_dns().wait_ready()
        harness.wait_for(site.session_up, timeout=20, what="BGP session with BIRD")
        site.wait_route(hl.PREFIX_V6, True, timeout=15)
        site.wait_route(NTP_PREFIX, True, timeout=5)

        # Drain (drain-period 1s): GRACEFUL_SHUTDOWN, then withdrawn.
        site.ctl("drain", "dns", "--reason", "state test")
        harness.wait_for(lambda: "(65535,0)" in site.router_routes().get(hl.PREFIX_V6, ""), timeout=5,
                         what="graceful-shutdown community")
        site.wait_route(hl.PREFIX_V4, False, timeout=10)
        site.wait_route(hl.PREFIX_V6, False, timeout=5)
        print("ok: drain -> graceful-shutdown, withdrawn after the drain-period")

        # DNS fails and recovers while drained past the period: no new drained announcement.
        before = v6_updates_received(site)
        site.stop_dns()
        harness.wait_for(lambda: service(site, "dns")["state"] == "Down", timeout=10, what="dns Down")
        site.start_dns().wait_ready()
        harness.wait_for(lambda: service(site, "dns")["state"] == "Drained", timeout=15,
                         what="dns Drained again once healthy")
        sync(site, 1)
        assert hl.PREFIX_V6 not in site.router_routes() and hl.PREFIX_V4 not in site.router_routes()
        assert v6_updates_received(site) == before, (before, v6_updates_received(site))
        assert not service(site, "dns")["announced"], service(site, "dns")
        print("ok: DNS recovery while drained past the period -> BIRD got no announcement")

        # Restart while drained past the period: BIRD never sees the route on the new session.
        restart(site, lab)
        harness.wait_for(lambda: service(site, "dns")["state"] == "Drained", timeout=15,
                         what="dns Drained after restart once healthy")
        assert_dns_never_announced(site, 2, "restart while drained past the period")
        assert not service(site, "dns")["announced"], service(site, "dns")
        assert "drain period already over" in site.herald.log(), site.herald.log()[-2000:]
        site.ctl("undrain", "dns")
        site.wait_route(hl.PREFIX_V6, True, timeout=10)
        assert "(65535,0)" not in site.router_routes()[hl.PREFIX_V6]
        print("ok: restart while drained past the period -> BIRD never saw the route; undrain -> back")

        # The same for a maintenance-file drain (its start is persisted too).
        with open(lab.path("maintenance"), "w") as f:
            f.write("kernel upgrade\n")
        harness.wait_for(lambda: "(65535,0)" in site.router_routes().get(hl.PREFIX_V6, ""), timeout=5,
                         what="graceful-shutdown community (maintenance file)")
        site.wait_route(hl.PREFIX_V6, False, timeout=10)
        restart(site, lab)
        harness.wait_for(lambda: service(site, "dns")["state"] == "Drained", timeout=15,
                         what="dns Drained by the maintenance file after restart")
        assert_dns_never_announced(site, 1, "restart with a maintenance file past the drain-period")
        os.unlink(lab.path("maintenance"))
        site.wait_route(hl.PREFIX_V6, True, timeout=10)
        print("ok: restart with a maintenance-file drain past the period -> BIRD never saw the route")

        # Flap damping: first hold after 3 changes in the window (max-changes 2).
        restart(site, lab, config(lab, flap=True))
        site.wait_route(hl.PREFIX_V6, True, timeout=15)     # change 1: Up
        site.stop_dns()
        site.wait_route(hl.PREFIX_V6, False, timeout=10)    # change 2: Down
        site.start_dns().wait_ready()
        harness.wait_for(lambda: "flap_hold_until" in service(site, "dns"), timeout=15,
                         what="flap hold after the third change")  # change 3: held
        held = service(site, "dns")
        until = held["flap_hold_until"]
        assert held["state"] == "Down" and held["flap_next_hold_s"] == 2 * HOLD_S, held
        # Flap on during the hold: Down, Up, Down, Up (each seen by the check counters).
        for _ in range(2):
            site.stop_dns()
            wait_rounds(site, "fail", 3)
            site.start_dns().wait_ready()
            wait_rounds(site, "pass", 3)
        held = service(site, "dns")
        assert held.get("flap_hold_until") == until, (until, held)
        assert held["flap_next_hold_s"] == 2 * HOLD_S, held
        print(f"ok: flapping during a {HOLD_S}s hold neither extended nor doubled it (next hold "
              f"{held['flap_next_hold_s']:g}s)")

        # The hold survives a restart; status shows when it ends.
        restart(site, lab)
        wait_rounds(site, "pass", 3)  # the DNS server is healthy ...
        held = service(site, "dns")
        assert held["state"] == "Down" and "flap_hold_until" in held, held
        assert abs(parse_ts(held["flap_hold_until"]) - parse_ts(until)) <= 1.0, (until, held)
        assert_dns_never_announced(site, 3, "restart during a flap hold")  # ... and stays withdrawn
        text = site.ctl("status").stdout
        assert re.search(r"flap hold until \S+ \(in \d+", text), text
        print("ok: restart during a flap hold -> still held, BIRD never saw the route; status shows its end")

        # clear-hold: an unknown service is refused; the real one is announced again.
        r = site.ctl("clear-hold", "nosuch", check=False)
        assert r.returncode == 1 and 'clear-hold: unknown service "nosuch"' in r.stderr, (r.returncode, r.stderr)
        r = site.ctl("clear-hold", "dns")
        assert "flap hold of dns cleared" in r.stdout, r.stdout
        site.wait_route(hl.PREFIX_V6, True, timeout=10)
        assert "flap_hold_until" not in service(site, "dns")
        with open(lab.path("state/herald.state")) as f:
            assert "flap_holds" not in json.load(f)
        print("ok: clear-hold nosuch refused; clear-hold dns -> announced, hold gone from the state file")

        # A corrupt state file fails safe.
        bad = '{"version":1,"drained":'
        site.herald.stop(timeout=10)
        with open(lab.path("state/herald.state"), "w") as f:
            f.write(bad)
        restart(site, lab)
        log = site.herald.log()
        err = [l for l in log.splitlines() if "state file unusable" in l]
        assert err and lab.path("state/herald.state") in err[0] and "undrain --all" in err[0], log[-3000:]
        assert re.search(r"^\S+ error state file unusable", err[0]), err[0]  # logged as an error
        st = site.status()["status"]
        assert st["drain_all"] and st["drain_all"]["fail_safe"], st["drain_all"]
        assert 'herald_state_file_fail_safe 1' in metrics(site)
        harness.wait_for(lambda: service(site, "dns")["state"] == "Drained", timeout=15,
                         what="dns Drained (fail-safe) once healthy")
        assert_dns_never_announced(site, 2, "corrupt state file")
        assert "ALL SERVICES DRAINED (FAIL-SAFE)" in site.ctl("status").stdout
        kept = glob.glob(lab.path("state/herald.state.corrupt-*"))
        assert len(kept) == 1 and open(kept[0]).read() == bad, kept
        print("ok: corrupt state file -> error logged with the file, metric 1, every service drained, "
              "BIRD never saw the DNS route, bad copy kept")

        # A restart keeps the fail-safe drain; a second corruption keeps a second copy.
        restart(site, lab)
        assert site.status()["status"]["drain_all"]["fail_safe"]
        assert "fail-safe drain still in force" in site.herald.log(), site.herald.log()[-2000:]
        site.herald.stop(timeout=10)
        with open(lab.path("state/herald.state"), "w") as f:
            f.write("")
        restart(site, lab)
        assert site.status()["status"]["drain_all"]["fail_safe"]
        kept = sorted(glob.glob(lab.path("state/herald.state.corrupt-*")))
        assert len(kept) == 2 and open(kept[0]).read() == bad and open(kept[1]).read() == "", kept
        print("ok: restart stays fail-safe; an empty state file is a second corruption, both copies kept")

        site.ctl("undrain", "--all")
        site.wait_route(hl.PREFIX_V6, True, timeout=15)
        assert 'herald_state_file_fail_safe 0' in metrics(site)
        print("ok: undrain --all -> announced again, metric 0")
    print("e2e BIRD state: all passed")
    return 0


def parse_ts(ts: str) -> float:
    """Seconds since the epoch of an RFC 3339 UTC timestamp as herald prints it."""
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(\.\d+)?Z$", ts)
    assert m, ts
    import calendar
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]) + (0, 0, 0))
    return secs + float(m.group(7) or 0)


if __name__ == "__main__":
    sys.exit(main())
