"""herald that cannot finish starting leaves nothing behind. Service addresses are bound before
the control socket and the metrics listener are opened; when a later step fails, the daemon must
remove the addresses it added (keep-on-exit is for a daemon that ran, not one that never did)
and its control socket file, then exit non-zero.

Three failures after the addresses are on lo: the metrics port taken by another process (after
the control socket exists), a control socket whose directory cannot be created, and a state
directory that cannot be handed to the configured user (privileges are dropped last)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

SQUAT = ("import socket, sys, time\n"
         "s = socket.socket(); s.bind(('127.0.0.1', 9179)); s.listen()\n"
         "print('listening', flush=True)\n"
         "time.sleep(600)\n")


def lo_addresses(site: hl.Site) -> str:
    return site.node.run("ip", "-br", "addr", "show", "dev", "lo").stdout


def run_failing(site: hl.Site, config: str) -> harness.Proc:
    """Starts herald on `config` and waits (bounded) for it to exit."""
    site.write_config(config)
    proc = site.lab.popen(site.node.cmd(harness.binary("herald"), "-c", site.config_path),
                          f"herald-{len(site.lab.procs)}")
    harness.wait_for(lambda: not proc.alive(), timeout=20, what="herald to give up starting")
    return proc


def check_undone(site: hl.Site, proc: harness.Proc, cause: str) -> None:
    log = proc.log()
    assert proc.popen.returncode == 1, (proc.popen.returncode, log)
    assert cause in log, log
    # It did get as far as binding: the addresses were added, then removed.
    assert "address bound" in log and "origin=added" in log.replace('"', ""), log
    assert "start-up undone" in log, log
    addrs = lo_addresses(site)
    assert hl.SERVICE_V4 not in addrs and hl.SERVICE_V6 not in addrs, addrs
    assert not os.path.exists(site.lab.path("herald.sock")), "control socket file left behind"


def main() -> int:
    harness.require_root()
    with harness.Lab("startfail") as lab:
        site = hl.Site(lab, "bird")

        squatter = lab.popen_lines(site.node.cmd("/usr/bin/python3", "-c", SQUAT), "squatter")
        assert squatter.read_line(timeout=10) == "listening"
        proc = run_failing(site, hl.herald_config(lab))
        check_undone(site, proc, "9179")
        print("ok: metrics port taken: addresses removed, control socket file removed, exit 1")
        squatter.stop()

        # The control socket's directory is below a regular file: cannot be created.
        blocker = lab.write("not-a-dir", "")
        cfg = hl.herald_config(lab).replace(f'control-socket = "{lab.path("herald.sock")}"',
                                            f'control-socket = "{blocker}/herald.sock"')
        assert f"{blocker}/herald.sock" in cfg
        proc = run_failing(site, cfg)
        check_undone(site, proc, "control socket")
        print("ok: control socket cannot be created: addresses removed, exit 1")

        # Started as root with user = "nobody", the state directory cannot be given to nobody: the
        # privilege drop fails after everything else is open.
        cfg = hl.herald_config(lab).replace('user = ""', 'user = "nobody"').replace(
            f'state-dir = "{lab.path("state")}"', f'state-dir = "{blocker}/state"')
        assert f'state-dir = "{blocker}/state"' in cfg and 'user = "nobody"' in cfg
        proc = run_failing(site, cfg)
        check_undone(site, proc, "cannot drop privileges")
        print("ok: privileges cannot be dropped: addresses removed, control socket file removed, exit 1")

        # And the same config with the port free starts and keeps its addresses (keep-on-exit).
        site.start_herald(hl.herald_config(lab))
        harness.wait_for(lambda: hl.SERVICE_V4 in lo_addresses(site), timeout=10, what="addresses bound")
        site.herald.stop()
        assert hl.SERVICE_V4 in lo_addresses(site), "keep-on-exit: a daemon that ran keeps them"
        print("ok: a daemon that started and stopped keeps its addresses (keep-on-exit default)")
    print("startup failure: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
