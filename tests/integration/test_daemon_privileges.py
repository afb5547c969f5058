"""herald started as root with `user = "nobody"`: after set-up it runs as nobody with exactly
CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, and still does its job: announces to BIRD, re-adds a
service address removed by another program (netlink needs CAP_NET_ADMIN), saves a drain, and
removes its control socket at exit (issue #16 item 9): herald gives the socket's directory to
its user when the directory is the socket's own, whether herald created it or it was there
with a stale socket in it; in a directory shared with other files it warns that the socket
will be left behind. Its exec checks get none of its capabilities: a check reports its own
/proc/self/status. Started as root with `user = ""` it keeps root, and warns naming the
capabilities it keeps."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

CAP_NET_BIND_SERVICE, CAP_NET_ADMIN = 10, 12

# A second service whose only check prints the capability lines of its own process (grep reads
# /proc/self/status as itself); the output is the check's detail in `heraldctl status`.
CAPS_SERVICE = """
[[service]]
name = "caps"
prefixes = ["198.51.100.77/32"]

[[service.check]]
type = "exec"
command = ["grep", "-E", "^(Uid|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):", "/proc/self/status"]
timeout = "5s"
"""


def proc_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def with_socket(cfg: str, path: str) -> str:
    lines = [f'control-socket = "{path}"' if l.startswith("control-socket = ") else l for l in cfg.splitlines()]
    return "\n".join(lines) + "\n"


def stop_and_check_removed(site: hl.Site, directory: str, what: str) -> None:
    """SIGTERM; herald must exit 0 and leave no socket; the directory is nobody's."""
    assert site.herald.stop(timeout=10) == 0, site.herald.log()[-2000:]
    assert not os.path.exists(site.socket), (
        f"control socket left behind in {what}: {os.listdir(directory)}\n" + site.herald.log()[-1500:])
    assert os.stat(directory).st_uid == 65534, os.stat(directory)
    print(f"ok: herald running as nobody removed its control socket at exit ({what}, now nobody's)")


def main() -> int:
    harness.require_root()
    with harness.Lab("privs") as lab:
        site = hl.Site(lab, "bird")
        os.chmod(lab.dir, 0o755)  # nobody must reach its state directory inside the lab
        # The socket in a directory herald creates, as /run/herald is when started by hand.
        run_dir = lab.path("run")
        site.socket = os.path.join(run_dir, "control.sock")
        cfg = with_socket(hl.herald_config(lab, extra_services=CAPS_SERVICE).replace('user = ""', 'user = "nobody"'),
                          site.socket)
        site.start_herald(cfg)
        site.start_dns().wait_ready()
        site.wait_route(hl.PREFIX_V4, True, timeout=20)
        st = proc_status(site.herald.pid)
        uid = int(st["Uid"].split()[0])
        eff = int(st["CapEff"], 16)
        assert uid == 65534, st["Uid"]
        assert eff == (1 << CAP_NET_ADMIN) | (1 << CAP_NET_BIND_SERVICE), hex(eff)
        assert "dropped privileges to user nobody" in site.herald.log(), site.herald.log()
        print(f"ok: herald runs as uid {uid} with CapEff {eff:#x} (CAP_NET_ADMIN, CAP_NET_BIND_SERVICE)")

        def caps_detail():
            for svc in site.status()["status"]["services"]:
                if svc["name"] == "caps":
                    for c in svc.get("checks") or []:
                        if c.get("detail") and "NoNewPrivs" in c["detail"]:
                            return c["detail"]
            return None
        detail = harness.wait_for(caps_detail, timeout=20, what="the exec check's result")
        assert detail.startswith("exit 0: "), detail
        seen = dict(l.split(":", 1) for l in detail[len("exit 0: "):].splitlines())
        seen = {k.strip(): v.split()[0] for k, v in seen.items()}
        assert seen["Uid"] == "65534", detail
        for k in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            assert int(seen[k], 16) == 0, (k, detail)
        assert seen["NoNewPrivs"] == "1", detail
        print(f"ok: an exec check run by herald as nobody has no capabilities and no_new_privs: {seen}")

        site.node.run("ip", "addr", "del", hl.PREFIX_V4, "dev", "lo")
        harness.wait_for(lambda: hl.SERVICE_V4 in site.node.run("ip", "-br", "addr", "show", "dev", "lo").stdout,
                         timeout=5, what="herald to re-add the removed address")
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        print("ok: after the drop herald re-added a removed service address through netlink")

        r = site.ctl("drain", "dns", check=False)
        assert r.returncode == 0 and "warning" not in (r.stdout + r.stderr).lower(), (r.stdout, r.stderr)
        assert os.path.exists(lab.path("state/herald.state"))
        print("ok: a drain is saved to the state directory by the unprivileged daemon")

        stop_and_check_removed(site, run_dir, "a directory herald created")

        # A root-owned directory left from an earlier run, with that run's stale socket in it.
        old_dir = lab.path("run-old")
        os.mkdir(old_dir, 0o755)
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(os.path.join(old_dir, "control.sock"))
        stale.close()
        site.socket = os.path.join(old_dir, "control.sock")
        site.start_herald(with_socket(cfg, site.socket))
        harness.wait_for(lambda: "privileges" in site.herald.log(), timeout=10, what="herald to drop privileges")
        stop_and_check_removed(site, old_dir, "a root-owned directory holding only a stale socket")

        # A directory with other files in it is not given away: herald says so.
        site.socket = lab.path("herald.sock")
        site.start_herald(with_socket(cfg, site.socket))
        harness.wait_for(lambda: "privileges" in site.herald.log(), timeout=10, what="herald to drop privileges")
        log = site.herald.log()
        assert "control socket will be left behind at exit" in log and "holds other files" in log, log[-2000:]
        assert os.stat(lab.dir).st_uid == 0
        assert site.herald.stop(timeout=10) == 0, site.herald.log()[-2000:]
        print("ok: in a shared directory (the lab's) herald warns that its socket stays behind "
              "and leaves the directory to root")

        # Root with no user: herald keeps root's capabilities; the log says so as a warning.
        root_herald = site.start_herald(hl.herald_config(lab))
        line = harness.wait_for(lambda: next((l for l in root_herald.log().splitlines() if "privileges" in l), None),
                                timeout=10, what="herald's privileges log line")
        held = int(proc_status(root_herald.pid)["CapPrm"], 16)
        assert "warning" in line.lower() and "herald keeps uid 0" in line, line
        assert f"{bin(held).count('1')} capabilities: CAP_CHOWN, " in line, (hex(held), line)
        for name in ("CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SETUID"):
            assert name in line, (name, line)
        print(f"ok: as root with no user herald warns: {line[:160]}...")
    print("privileges: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
