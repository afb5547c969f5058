"""herald under a (stand-in) service manager: with NOTIFY_SOCKET and WATCHDOG_USEC set it sends
READY=1 once it is set up, a STATUS= line with peers and services, and WATCHDOG=1 keep-alives
from its event loop at about half the watchdog interval; STOPPING=1 on SIGTERM."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402


def main() -> int:
    harness.require_root()
    with harness.Lab("notify") as lab:
        site = hl.Site(lab, "bird")
        path = lab.path("notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        site.start_herald(hl.herald_config(lab), env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        site.start_dns().wait_ready()
        messages: list[tuple[float, str]] = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                messages.append((time.monotonic(), sock.recv(4096).decode()))
            except socket.timeout:
                pass
        lines = [l for _, m in messages for l in m.splitlines()]
        assert "READY=1" in lines, lines
        assert any(l.startswith("STATUS=peers up") and "services announced" in l for l in lines), lines
        beats = [t for t, m in messages if "WATCHDOG=1" in m.splitlines()]
        # 3 s at one keep-alive per 200 ms: about 15; a double send per period would give ~30.
        assert 10 <= len(beats) <= 20, len(beats)
        # Receive times, not send times: a datagram occasionally reaches this loop a period late
        # (then two arrive together). The keep-alives must still never be further apart than
        # WatchdogSec (0.4 s) by more than that delivery slack.
        gaps = [b - a for a, b in zip(beats, beats[1:])]
        assert max(gaps) < 0.45, gaps
        print(f"ok: READY=1, STATUS=, and {len(beats)} WATCHDOG=1 in 3 s (largest gap {max(gaps) * 1000:.0f} ms)")
        site.herald.stop(timeout=10)
        rest = []
        try:
            while True:
                rest.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        assert any("STOPPING=1" in m for m in rest), rest
        print("ok: STOPPING=1 on SIGTERM")
        sock.close()
    print("notify: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
