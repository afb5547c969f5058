"""The process check following a systemd unit, against a real systemd (PID 1 of a sandbox, see
systemd_lab.py) with its own system bus, a unit running unbound, herald inside the sandbox and a
real BIRD upstream. herald checks every 100 ms (rise 2, fall 2) with a DNS check and
`type = "process"`, `unit = "dnstest.service"`:

- `systemctl stop`: the unit's ExecStop holds it in "deactivating" until the test lets it go;
  herald must take the service Down because of that state while unbound still runs (its first
  health change names "deactivating", the old MainPID still lives, the unit is still
  deactivating) and BIRD must lose the route;
- `systemctl start`: a new MainPID, picked up: the service comes back after rise rounds, the
  check names the new PID;
- SIGKILL of the main PID: Down at once, naming that PID (no failed DNS probe needed);
- `systemctl start` again: Up with the newest MainPID;
- herald-check (the driver) as user nobody (herald drops to `user`: systemd's bus policy lets
  any user read a unit and subscribe), on a unit systemd does not know, and on a bus that is not
  there: the precise reasons.
Every wait is bounded; times are printed, not asserted.
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402
import systemd_lab  # noqa: E402

UNIT = "dnstest.service"


def service(site: hl.Site) -> dict:
    return next(s for s in site.status()["status"]["services"] if s["name"] == "dns")


def health_changes(site: hl.Site) -> list[str]:
    return [line for line in site.herald.log().splitlines() if "health change" in line and "dns" in line]


def unit_file(lab: harness.Lab) -> str:
    conf = lab.path("unbound/unbound.conf")
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""server:
    interface: {hl.SERVICE_V4}@53
    interface: {hl.SERVICE_V6}@53
    ip-freebind: yes
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{lab.path('unbound')}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    do-ip6: yes
    access-control: 0.0.0.0/0 allow
    access-control: ::/0 allow
    num-threads: 1
    local-zone: "example." static
    local-data: "www.example. A 192.0.2.80"
remote-control:
    control-enable: no
""")
    release = lab.path("release-stop")
    # ExecStop waits (at most 60 s) for the test to let the stop go on: while it runs the unit is
    # "deactivating" and unbound still answers.
    return f"""[Unit]
Description=unbound for herald's process check test
DefaultDependencies=no
[Service]
ExecStart=/usr/sbin/unbound -d -c {conf}
ExecStop=/bin/sh -c 'for i in $(seq 600); do [ -e {release} ] && exit 0; sleep 0.1; done'
StandardOutput=append:{lab.path('dnstest.log')}
StandardError=inherit
"""


def wait_change(site: hl.Site, seen: int, what: str) -> str:
    harness.wait_for(lambda: len(health_changes(site)) > seen, timeout=10, what=what)
    return health_changes(site)[seen]


def check_reason(site: hl.Site) -> str:
    """The process check's last reason in herald's status."""
    svc = service(site)
    for c in svc.get("checks", []):
        if c.get("kind") == "process":
            return c.get("detail", "")
    return ""


def main() -> int:
    harness.require_root()
    why = systemd_lab.available()
    if why:
        print(f"SKIP: {why}")
        return 77
    with harness.Lab("procunit") as lab:
        site = hl.Site(lab, "bird")
        sd = systemd_lab.SystemdSandbox(lab, {UNIT: unit_file(lab)}, netns=site.node)
        try:
            release = lab.path("release-stop")
            sd.systemctl("start", UNIT)
            check = f'\n[[service.check]]\ntype = "process"\nunit = "{UNIT}"\n'
            site.write_config(hl.herald_config(lab, interval="100ms", timeout="80ms", rise=2, fall=2,
                                               flap_max_changes=0, extra_services=check))
            site.herald = sd.popen([harness.binary("herald"), "-c", site.config_path], "herald")
            harness.wait_for(lambda: os.path.exists(site.socket) or not site.herald.alive(),
                             timeout=10, what="herald's control socket")
            harness.wait_for(lambda: service(site)["state"] == "Up", timeout=20, what="dns Up")
            site.wait_route(hl.PREFIX_V4, True, timeout=10)
            pid = int(sd.show(UNIT, "MainPID"))
            assert pid > 0
            harness.wait_for(lambda: check_reason(site) == f"unit {UNIT} main PID {pid} running",
                             timeout=10, what="the check naming the unit's MainPID")

            # 1. systemctl stop: Down while the unit is deactivating and unbound still runs.
            seen = len(health_changes(site))
            sd.systemctl("stop", "--no-block", UNIT)
            first = wait_change(site, seen, "a health change after systemctl stop")
            state_then = sd.show(UNIT, "ActiveState")
            alive_then = sd.run("kill", "-0", str(pid), check=False).returncode == 0
            gone = site.wait_route(hl.PREFIX_V4, False, timeout=10, interval=0.002)
            print(f"  stop: {first}; unit {state_then}, unbound alive: {alive_then}; "
                  f"route gone from BIRD {1000 * gone:.1f} ms later")
            assert "new=Down" in first, first
            assert f"unit {UNIT} deactivating (main PID {pid}): a stop in progress" in first, first
            assert "down at once" in first, first
            assert state_then == "deactivating", state_then
            assert alive_then, "unbound had exited before herald went down"
            with open(release, "w"):
                pass
            harness.wait_for(lambda: sd.show(UNIT, "ActiveState") == "inactive", timeout=30,
                             what="the unit stopped")
            os.unlink(release)

            # 2. systemctl start: the new MainPID is picked up.
            sd.systemctl("start", UNIT)
            new_pid = int(sd.show(UNIT, "MainPID"))
            assert new_pid > 0 and new_pid != pid, (pid, new_pid)
            back = site.wait_route(hl.PREFIX_V4, True, timeout=10)
            up = service(site)
            print(f"  start: route back {1000 * back:.1f} ms later: {up['reason']}")
            assert up["state"] == "Up", up
            harness.wait_for(lambda: check_reason(site) == f"unit {UNIT} main PID {new_pid} running",
                             timeout=10, what="the check naming the new MainPID")

            # 3. SIGKILL of the main PID: Down at once.
            seen = len(health_changes(site))
            sd.run("kill", "-KILL", str(new_pid))
            first = wait_change(site, seen, "a health change after the SIGKILL")
            gone = site.wait_route(hl.PREFIX_V4, False, timeout=10, interval=0.002)
            print(f"  SIGKILL: {first}; route gone from BIRD {1000 * gone:.1f} ms later")
            assert "new=Down" in first, first
            assert f"main PID {new_pid}" in first, first
            assert "down at once" in first, first

            # 4. Started again: Up with the newest MainPID.
            harness.wait_for(lambda: sd.show(UNIT, "ActiveState") in ("failed", "inactive"), timeout=10,
                             what="the killed unit stopped")
            sd.systemctl("reset-failed", UNIT, check=False)
            sd.systemctl("start", UNIT)
            third = int(sd.show(UNIT, "MainPID"))
            site.wait_route(hl.PREFIX_V4, True, timeout=10)
            harness.wait_for(lambda: check_reason(site) == f"unit {UNIT} main PID {third} running",
                             timeout=10, what="the check naming the third MainPID")

            # 5. The driver's one-off check: as an unprivileged user (herald runs as `user`), on an
            # unknown unit, and on a bus that is not there.
            driver = harness.binary("herald-check")
            out = sd.run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", driver, "process",
                         "--unit", UNIT, check=False).stdout
            r = json.loads(out.splitlines()[0])
            print(f"  as nobody: {r['reason']}")
            assert r["pass"] and r["reason"] == f"unit {UNIT} main PID {third} running", r
            out = sd.run(driver, "process", "--unit", "nosuch.service", check=False).stdout
            r = json.loads(out.splitlines()[0])
            print(f"  unknown unit: {r['reason']}")
            assert not r["pass"] and r["reason"] == "unit nosuch.service does not exist (LoadState=not-found)", r
            nobus = lab.path("no-bus-here")
            out = sd.run("env", f"DBUS_SYSTEM_BUS_ADDRESS=unix:path={nobus}", driver, "process",
                         "--unit", UNIT, check=False).stdout
            r = json.loads(out.splitlines()[0])
            print(f"  no bus: {r['reason']}")
            assert not r["pass"], r
            assert r["reason"] == (f"unit {UNIT}: cannot connect to systemd's bus unix:path={nobus}: "
                                   "No such file or directory"), r
            assert site.herald.alive()
        finally:
            sd.close()
    print("process check on a systemd unit: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
