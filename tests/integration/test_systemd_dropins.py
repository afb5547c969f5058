"""The systemd drop-ins herald ships for unbound, knot, nsd, bind9 (named) and pdns (#18).

1. `systemd-analyze verify` of each drop-in against a copy of the real Debian 12 unit (from
   /tmp/units or HERALD_UNITS_DIR; skipped per unit when the copy is absent), in a temporary
   unit directory (SYSTEMD_UNIT_PATH): any warning naming the drop-in fails. A deliberately bad
   drop-in shows the check can fail.
2. Against the live daemon, a real BIRD 2 upstream and a real unbound: the unbound drop-in's
   ExecStop= and ExecStartPost= lines, parsed from the shipped file with %n substituted, run
   exactly in the order systemd runs them around a stop and a start of unbound:
   - ExecStop ("drain --unit unbound.service --wait") returns only once BIRD no longer has the
     prefixes: checked the moment it returns, before unbound is stopped; the unit's drain
     survives a restart of herald (state file);
   - after unbound starts again, ExecStartPost ("undrain --unit") brings the route back;
   - an operator's drain held across the restart stays: after the unit's undrain the service
     is still drained (holders ["operator"]) and BIRD still has no route for it, checked after
     a sync point (a steering change of an always-up service that BIRD must have received,
     sent after any wrong announcement would have been).
   systemd is not PID 1 here (namespaces, no init): the test runs the drop-in's command lines
   itself, in systemd's order, instead of `systemctl restart`.
About 15 s.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dropins  # noqa: E402
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

UNITS_DIR = os.environ.get("HERALD_UNITS_DIR", "/tmp/units/x/lib/systemd/system")
NTP_PREFIX = "198.51.100.123/32"
NTP_SERVICE = f"""
[[service]]
name = "ntp"
prefixes = ["{NTP_PREFIX}"]
"""


def verify(unit_file: str, dropin_text) -> set:
    """systemd-analyze verify's complaints about the unit, with the drop-in (None: without)."""
    with tempfile.TemporaryDirectory() as d:
        name = os.path.basename(unit_file)
        shutil.copy(unit_file, os.path.join(d, name))
        if dropin_text is not None:
            os.makedirs(os.path.join(d, name + ".d"))
            with open(os.path.join(d, name + ".d", "herald.conf"), "w") as f:
                f.write(dropin_text)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(d, name)], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, SYSTEMD_UNIT_PATH=d + ":"))
        return {line.replace(d, "DIR") for line in (r.stdout + r.stderr).splitlines() if line.strip()}


def dropin_problems(unit_file: str, dropin_text: str) -> set:
    """What the drop-in adds to the unit's own complaints (the unit's binaries are not installed
    here, which verify reports for the unit alone already)."""
    return verify(unit_file, dropin_text) - verify(unit_file, None)


def test_verify() -> None:
    if not shutil.which("systemd-analyze"):
        print("skip: no systemd-analyze")
        return
    checked = 0
    for unit in dropins.UNITS:
        unit_file = os.path.join(UNITS_DIR, f"{unit}.service")
        if not os.path.exists(unit_file):
            print(f"skip: {unit_file} absent")
            continue
        text = open(dropins.path(unit)).read()
        problems = dropin_problems(unit_file, text)
        assert not problems, f"{unit}: {problems}"
        stops = dropins.commands(unit, "ExecStop")
        assert stops[0][1:] == ["--timeout", "80", "drain", "--unit", f"{unit}.service", "--wait"], stops
        if unit == "named":  # its own stop stays, after herald's
            assert stops[1] == ["/usr/sbin/rndc", "stop"], stops
        assert dropins.commands(unit, "ExecStartPost") == [["/usr/bin/heraldctl", "undrain", "--unit",
                                                            f"{unit}.service"]]
        checked += 1
        print(f"ok: systemd-analyze verify {unit}.service with its drop-in")
    if checked:
        bad = dropin_problems(os.path.join(UNITS_DIR, "unbound.service"),
                              "[Service]\nExecStop=-+/usr/bin/heraldctl\nExecStarPost=x\n")
        assert any("herald.conf" in line for line in bad), bad
        print("ok: a bad drop-in is reported")


def sync(site: hl.Site, prepend: int) -> None:
    """Returns once BIRD has the ntp route with `prepend` extra copies of herald's AS."""
    site.ctl("steer", "ntp", "--prepend", str(prepend))
    path = " ".join([str(hl.NODE_AS)] * (prepend + 1))
    harness.wait_for(lambda: f"BGP.as_path: {path}\n" in site.router_routes().get(NTP_PREFIX, "") + "\n",
                     timeout=10, what=f"ntp route with as_path {path}")


def test_live() -> None:
    with harness.Lab("dropins") as lab:
        site = hl.Site(lab, "bird")
        site.start_dns()
        text = hl.herald_config(lab, drain_period="2s", extra_services=NTP_SERVICE)
        svc = f'prefixes = ["{hl.PREFIX_V4}", "{hl.PREFIX_V6}"]\n'
        assert svc in text
        text = text.replace(svc, svc + 'units = ["unbound.service"]\n', 1)
        text = text.replace("[[peer]]", 'drain-settle = "300ms"\n\n[[peer]]', 1)
        site.start_herald(text)
        site.wait_route(hl.PREFIX_V4, True, timeout=20)
        heraldctl = harness.binary("heraldctl")

        def run(key: str) -> None:
            for argv in dropins.commands("unbound", key):
                r = harness.run(dropins.heraldctl_argv(argv, heraldctl, site.socket), check=False, timeout=90)
                assert r.returncode == 0, (argv, r.stdout, r.stderr)
                print(f"  {key}: {' '.join(argv)} -> {r.stdout.strip()}")

        # systemctl restart unbound: ExecStop, stop (SIGTERM), start, READY, ExecStartPost.
        run("ExecStop")
        routes = site.router_routes()
        assert hl.PREFIX_V4 not in routes and hl.PREFIX_V6 not in routes, routes
        st = site.status()["status"]["services"][0]
        assert st["state"] == "Drained" and st["drain_holders"] == ["unit:unbound.service"], st
        print("ok: ExecStop returned with the prefixes already gone from BIRD (unbound still running)")
        # The unit's drain is in the state file: a herald restart meanwhile keeps it.
        site.herald.stop(timeout=10)
        site.start_herald()
        harness.wait_for(site.session_up, timeout=20, what="session after herald's restart")
        # Down while its checks rise after the start, then Drained (not Up) with the unit's hold.
        harness.wait_for(lambda: site.status()["status"]["services"][0]["state"] != "Down", timeout=20,
                         what="dns decided after herald's restart")
        sync(site, 1)
        routes = site.router_routes()
        assert hl.PREFIX_V4 not in routes and hl.PREFIX_V6 not in routes, routes
        st = site.status()["status"]["services"][0]
        assert st["state"] == "Drained" and st["drain_holders"] == ["unit:unbound.service"], st
        print("ok: the unit's drain survives a restart of herald")
        site.stop_dns()
        site.start_dns()
        run("ExecStartPost")
        site.wait_route(hl.PREFIX_V4, True, timeout=20)
        site.wait_route(hl.PREFIX_V6, True, timeout=20)
        print("ok: ExecStartPost after unbound's start -> announced again")

        # The operator's own drain survives the unit's restart.
        site.ctl("drain", "dns", "--reason", "kernel upgrade")
        site.wait_route(hl.PREFIX_V4, False, timeout=20)
        run("ExecStop")  # already withdrawn: answers at once
        site.stop_dns()
        site.start_dns()
        run("ExecStartPost")
        sync(site, 2)
        routes = site.router_routes()
        assert hl.PREFIX_V4 not in routes and hl.PREFIX_V6 not in routes, routes
        st = site.status()["status"]["services"][0]
        assert st["state"] == "Drained" and st["drain_holders"] == ["operator"], st
        print("ok: the operator's drain stays across the unit's restart (still withdrawn after its undrain)")
        site.ctl("undrain", "dns")
        site.wait_route(hl.PREFIX_V4, True, timeout=20)
        print("ok: the operator's undrain announces again")


def main() -> int:
    test_verify()
    if os.geteuid() != 0:
        print("skip: the live part needs root")
        return 77
    test_live()
    print("systemd drop-ins: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
