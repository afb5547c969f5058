"""Exec and TCP-connect health checks against real processes and sockets, via herald-check.

Exec: true passes, false fails with its exit status, output is captured, a late command is
killed with its whole process group (a background grandchild included). TCP: a python listener
in a namespace accepts, a closed port refuses, an absent host times out.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = "192.0.2.53"
CLIENT = "192.0.2.10"


def check(ns_or_none, *args, timeout_ms=5000):
    """Runs herald-check once. The default timeout is generous: on a busy machine forking a
    shell pipeline can take a while, and only the cases that test the timeout set a short one."""
    return harness.run_check(ns_or_none, *args, timeout_ms=timeout_ms)


def gone_or_zombie(pid: int) -> bool:
    """True when pid no longer runs (absent, or a zombie waiting for PID 1 to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def main():
    harness.require_root()
    t0 = time.monotonic()
    with harness.Lab("hexec") as lab:
        print("exec")
        res = check(None, "exec", "--", "/bin/true")
        assert res["pass"] and res["reason"] == "exit 0", res
        res = check(None, "exec", "--", "false")  # looked up in PATH
        assert not res["pass"] and res["reason"] == "exit 1", res
        res = check(None, "exec", "--", "/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3")
        assert not res["pass"] and res["reason"] == "exit 3: to-stdout\nto-stderr", res
        # Exactly the first 4096 bytes are kept and the rest counted: the result waits for the end
        # of the output, so the count is the same however the exit and the last reads interleave.
        for _ in range(10):
            res = check(None, "exec", "--", "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x")
            assert res["pass"] and res["reason"] == "exit 0: " + "x" * 4096 + " [95904 more bytes]", res["reason"][-60:]
        res = check(None, "exec", "--", "/nonexistent/check")
        assert not res["pass"] and res["reason"] == "exec /nonexistent/check: No such file or directory", res

        print("exec timeout kills the process group")
        pidfile = lab.path("grandchild.pid")
        # 1 s leaves the shell time to write the pid file even on a busy machine.
        res = check(None, "exec", "--", "/bin/sh", "-c", f"sleep 30 & echo $! > {pidfile}; sleep 30", timeout_ms=1000)
        assert not res["pass"] and res["reason"] == "timeout after 1s, process group killed", res
        assert res["took"] < 5, res
        with open(pidfile) as f:
            grandchild = int(f.read())
        harness.wait_for(lambda: gone_or_zombie(grandchild), timeout=10, what=f"grandchild {grandchild} killed")

        print("exec: a grandchild left behind by a passing command is killed with the group")
        pidfile2 = lab.path("leftover.pid")
        res = check(None, "exec", "--", "/bin/sh", "-c", f"sleep 30 >/dev/null 2>&1 & echo $! > {pidfile2}; exit 0")
        assert res["pass"], res
        with open(pidfile2) as f:
            leftover = int(f.read())
        harness.wait_for(lambda: gone_or_zombie(leftover), timeout=10, what=f"leftover {leftover} killed")

        print("tcp")
        srv = lab.netns("srv")
        cli = lab.netns("cli")
        lab.link(srv, f"{SERVER}/24", cli, f"{CLIENT}/24")
        listener = srv.popen(["/usr/bin/python3", "-c",
                              "import socket, time\n"
                              f"s = socket.create_server(('{SERVER}', 8053))\n"
                              "print('listening', flush=True)\n"
                              "time.sleep(60)\n"], "listener")
        harness.wait_for(lambda: "listening" in listener.log(), timeout=5, what="python listener")
        res = check(cli, "tcp", "--address", SERVER, "--port", "8053")
        assert res["pass"] and res["reason"].startswith("connected in "), res
        res = check(cli, "tcp", "--address", SERVER, "--port", "8054")
        assert not res["pass"] and res["reason"] == "connection refused", res
        res = check(cli, "tcp", "--address", "192.0.2.99", "--port", "8053", timeout_ms=300)
        assert not res["pass"] and re.match(r"^(timeout after 300ms|host unreachable)$", res["reason"]), res

    print(f"OK ({time.monotonic() - t0:.1f}s)")


if __name__ == "__main__":
    main()
