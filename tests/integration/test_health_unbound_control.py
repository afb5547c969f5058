"""An exec check that asks unbound itself (`unbound-control -c CONF status`), run the way the
packaged unit runs herald: as an unprivileged user that is not root and not unbound, with the
unbound group as a supplementary group (the unit's SupplementaryGroups=unbound) and nothing
else. unbound has its remote control on a Unix socket, as Debian's
/etc/unbound/unbound.conf.d/remote-control.conf sets it (control-interface: /run/unbound.ctl),
and runs as its own user, so the socket is unbound:unbound, mode 0660.

Shown here against the live daemon and BIRD:
- without the group the same command is refused (the socket's permissions are what the group is
  for), with it the command answers;
- herald, started as that user with that group, runs the check: the service comes up and BIRD
  gets the route; unbound stopped -> the check fails, the service goes Down and BIRD loses the
  route; unbound started again -> Up and announced again.
Every wait is bounded.
"""
import grp
import os
import pwd
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

UNBOUND_CONTROL = "/usr/sbin/unbound-control"
HERALD_UID = HERALD_GID = 65534  # nobody/nogroup: stands for the package's herald user


def unbound_config(lab: harness.Lab, d: str, socket_path: str) -> str:
    """unbound answering on the node's loopback, dropping to its own user, with its remote control
    on a Unix socket (no TLS keys: a local socket is protected by its file permissions)."""
    return lab.write("unbound/unbound.conf", f"""server:
    interface: 127.0.0.1@53
    do-daemonize: no
    chroot: ""
    username: "unbound"
    directory: "{d}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    local-zone: "example." static
    local-data: "www.example. A 192.0.2.80"
remote-control:
    control-enable: yes
    control-interface: {socket_path}
""")


def as_herald_user(*argv: str, groups: list[int]) -> list[str]:
    """argv run as the herald stand-in with exactly `groups` as supplementary groups, no
    capability (what systemd does for User=, SupplementaryGroups= and NoNewPrivileges=)."""
    g = ["--groups", ",".join(map(str, groups))] if groups else ["--clear-groups"]
    return ["setpriv", f"--reuid={HERALD_UID}", f"--regid={HERALD_GID}", *g, "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", *argv]


def main() -> int:
    harness.require_root()
    for tool in (UNBOUND_CONTROL, "/usr/bin/setpriv"):
        if not os.path.exists(tool):
            print(f"SKIP: {tool} missing")
            return 77
    try:
        unbound_gid = grp.getgrnam("unbound").gr_gid
        pwd.getpwnam("unbound")
    except KeyError:
        print("SKIP: no unbound user and group (the unbound package creates them)")
        return 77

    with harness.Lab("uctl") as lab:
        os.chmod(lab.dir, 0o755)  # herald's user reads unbound's config and reaches its socket
        d = lab.path("unbound")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        ctl_socket = os.path.join(d, "unbound.ctl")
        conf = unbound_config(lab, d, ctl_socket)
        os.chmod(conf, 0o644)
        # herald's own writable places, as the unit's RuntimeDirectory= and StateDirectory=.
        for sub in ("run", "state"):
            os.makedirs(lab.path(sub), exist_ok=True)
            os.chown(lab.path(sub), HERALD_UID, HERALD_GID)

        site = hl.Site(lab, "bird")
        site.socket = lab.path("run/herald.sock")

        def start_unbound() -> harness.Proc:
            proc = site.node.popen(["unbound", "-d", "-c", conf], f"unbound-{len(lab.procs)}")
            harness.wait_for(lambda: os.path.exists(ctl_socket) or not proc.alive(), timeout=10,
                             what="unbound's control socket")
            assert proc.alive(), proc.log()
            return proc

        unbound = start_unbound()
        st = os.stat(ctl_socket)
        assert (st.st_gid, st.st_mode & 0o777) == (unbound_gid, 0o660), (st.st_gid, oct(st.st_mode))
        print("ok: unbound's control socket is group unbound, mode 0660")

        status = [UNBOUND_CONTROL, "-c", conf, "status"]
        denied = site.node.run(*as_herald_user(*status, groups=[]), check=False)
        assert denied.returncode != 0 and "Permission denied" in denied.stdout + denied.stderr, denied
        allowed = site.node.run(*as_herald_user(*status, groups=[unbound_gid]), check=False)
        assert allowed.returncode == 0 and "is running" in allowed.stdout, allowed
        print("ok: unbound-control status is refused without the unbound group, answers with it")

        cfg = hl.herald_global(lab).replace(f'control-socket = "{lab.path("herald.sock")}"',
                                            f'control-socket = "{site.socket}"')
        cfg += hl.herald_peer("upstream", hl.ROUTER_V4, hl.ROUTER_AS, hl.NODE_V4) + f"""
[[service]]
name = "dns"
prefixes = ["{hl.PREFIX_V4}"]

[service.address]
bind = false

[service.health]
interval = "200ms"
fast-interval = "100ms"
timeout = "2s"
rise = 2
fall = 2
splay = false

[[service.check]]
type = "exec"
name = "unbound-control"
command = ["{UNBOUND_CONTROL}", "-c", "{conf}", "status"]
"""
        assert f'control-socket = "{site.socket}"' in cfg, cfg
        site.write_config(cfg)
        site.herald = site.node.popen(
            as_herald_user(harness.binary("herald"), "-c", site.config_path, groups=[unbound_gid]), "herald")
        harness.wait_for(lambda: os.path.exists(site.socket) or not site.herald.alive(), timeout=10,
                         what="herald's control socket")
        assert site.herald.alive(), site.herald.log()
        assert os.stat(f"/proc/{site.herald.pid}").st_uid == HERALD_UID

        def service() -> dict:
            return next(s for s in site.status()["status"]["services"] if s["name"] == "dns")

        harness.wait_for(site.session_up, timeout=20, what="BGP session with BIRD")
        harness.wait_for(lambda: service()["state"] == "Up", timeout=15, what="dns Up by unbound-control")
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        check = service()["checks"][0]
        assert check["name"] == "unbound-control" and check["ok"], check
        print(f"ok: herald as uid {HERALD_UID} with the unbound group: check passes, route at BIRD "
              f"({check['detail'][:60]!r})")

        unbound.stop()
        harness.wait_for(lambda: service()["state"] == "Down", timeout=15, what="dns Down with unbound stopped")
        site.wait_route(hl.PREFIX_V4, False, timeout=10)
        st = service()
        # "exit 3: ... unbound is stopped" once the socket is gone; a timeout while it shuts down.
        assert st["reason"].startswith('check "unbound-control": ') and \
            ("exit 3" in st["reason"] or "timeout" in st["reason"]), st["reason"]
        print(f"ok: unbound stopped -> Down, withdrawn at BIRD ({st['reason'][:90]!r})")

        unbound = start_unbound()
        harness.wait_for(lambda: service()["state"] == "Up", timeout=15, what="dns Up again")
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        print("ok: unbound started again -> Up, announced again")
        print("unbound-control exec check: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
