#!/usr/bin/env python3
"""herald logs natively to a real journald when systemd connects its stderr to the journal.

The test runs in a private mount namespace with its own tmpfs over /run/systemd, /run/log and
/var/log/journal, starts Debian's systemd-journald there (nothing reaches the host's journal),
and starts herald the way systemd does for a unit with StandardError=journal: stderr is a
stream connection to journald and JOURNAL_STREAM names it. With the default log-format
("auto"), herald must then send native entries: one per event, each log field its own journal
field (PEER=, SERVICE=, PREFIX=, PRIORITY=), no timestamp repeated in MESSAGE, transport
"journal" rather than "stdout". BIRD upstream and unbound as in the end-to-end test.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

JOURNAL_DIR = "/run/log/journal"
STDOUT_SOCKET = "/run/systemd/journal/stdout"


def in_private_mounts() -> int:
    """Re-runs this script in a private mount namespace (unshare -m) and returns its status."""
    env = dict(os.environ, HERALD_JOURNAL_TEST_NS="1")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__)], env=env, timeout=280).returncode


def journal_stream(identifier: str) -> socket.socket:
    """A stream connection to journald, as systemd makes for StandardError=journal: the header
    is identifier, unit, priority, level prefix, forward to syslog, kmsg, console."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(STDOUT_SOCKET)
    s.sendall(f"{identifier}\n\n6\n1\n0\n0\n0\n".encode())
    s.shutdown(socket.SHUT_RD)
    return s


def entries(pid: int) -> list[dict]:
    r = harness.run(["journalctl", "-D", JOURNAL_DIR, "--no-pager", "-o", "json", f"_PID={pid}"],
                    check=False, timeout=20)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def main() -> int:
    harness.require_root()
    if os.environ.get("HERALD_JOURNAL_TEST_NS") != "1":
        return in_private_mounts()
    for d in ("/run/systemd", "/run/log", "/var/log/journal"):
        if os.path.isdir(d) or d != "/var/log/journal":
            os.makedirs(d, exist_ok=True)
            harness.run(["mount", "-t", "tmpfs", "tmpfs", d])
    journald = subprocess.Popen(["/lib/systemd/systemd-journald"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        harness.wait_for(lambda: os.path.exists(STDOUT_SOCKET), timeout=10, what="journald's stream socket")
        with harness.Lab("journal") as lab:
            site = hl.Site(lab)
            site.start_dns()  # answers once herald has put the service address on lo
            site.write_config(hl.herald_config(lab))  # no log-format: the default, "auto"
            stream = journal_stream("herald")
            st = os.fstat(stream.fileno())
            env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
            popen = subprocess.Popen(site.node.cmd(harness.binary("herald"), "-c", site.config_path),
                                     stdin=subprocess.DEVNULL, stdout=stream.fileno(), stderr=stream.fileno(),
                                     env=env)
            stream.close()  # herald holds it now
            herald = harness.Proc(popen, lab.path("herald-journal.log"), "herald")
            lab.procs.append(herald)
            site.wait_route(hl.PREFIX_V4, present=True, timeout=30)

            def announced() -> list[dict]:
                return [e for e in entries(herald.pid)
                        if e.get("HERALD_MSG") == "prefix announced" and e.get("PREFIX") == hl.PREFIX_V4]
            found = harness.wait_for(announced, timeout=10, what="the 'prefix announced' journal entry")
            e = found[0]
            assert e["_TRANSPORT"] == "journal", f"not a native entry: {e}"
            assert e["SYSLOG_IDENTIFIER"] == "herald", e
            assert e["SERVICE"] == "dns", e
            assert e["PRIORITY"] == "5", e  # notice
            assert e["MESSAGE"].startswith("prefix announced service=dns prefix=192.0.2.53/32"), e
            peer = [x for x in entries(herald.pid) if x.get("PEER") == "upstream" and "-> Established" in x.get("HERALD_MSG", "")]
            assert peer, "no journal entry with PEER=upstream for the session's Established: " + repr(
                [(x.get("HERALD_MSG"), x.get("PEER"), x.get("NEW")) for x in entries(herald.pid)])
            # Nothing came through the stderr stream: no text line with a timestamp of its own.
            stray = [x for x in entries(herald.pid) if x.get("_TRANSPORT") == "stdout"]
            assert not stray, f"lines written as text to the journal stream: {stray[:3]}"
            assert herald.stop() == 0, "herald did not exit cleanly on SIGTERM"
            print(f"ok: {len(entries(herald.pid))} native journal entries, e.g. {e['MESSAGE']!r}")
        return 0
    finally:
        journald.send_signal(signal.SIGTERM)
        try:
            journald.wait(timeout=10)
        except subprocess.TimeoutExpired:
            journald.kill()
            journald.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
