"""Garbage on the control socket and in reloaded config files: every complete request gets an
error reply naming the problem (or the connection is dropped when the client misbehaves), the
daemon keeps answering `status`, and the running configuration, routes and BGP session stay as
they were.

test_e2e_bird.py already covers a drain of an unknown service and one broken reload (syntax
error plus unknown key, by heraldctl and by SIGHUP); this test covers the rest: binary junk,
over-long lines, invalid JSON and wrong types, a key given twice, unknown commands,
half-written requests, many concurrent clients, a client that never reads; 80 idle connections
held and a burst of 1000 connections against the limit of 64, during which `heraldctl drain` and
`undrain` must succeed (issue #16 item 1), and 20 idle connections to /metrics, during which
scrapes must succeed (item 7); reloads of files with syntax errors, unknown keys, bad values, no
content, binary content, more than 1 MiB, and of a directory, a FIFO or nothing at the
configured path. About 5 s."""
import json
import os
import re
import resource
import select
import socket
import urllib.request
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402
from bgp_evil_peer import in_netns  # noqa: E402

GARBAGE = bytes((i * 151 + 7) % 256 for i in range(4096))


class Control:
    """Raw access to herald's control socket (the harness's heraldctl is the polite client)."""

    def __init__(self, site: hl.Site):
        self.path = site.socket
        self.pending: dict[int, bytes] = {}

    def open(self, timeout: float = 5) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pending.pop(s.fileno(), None)
        s.settimeout(timeout)
        s.connect(self.path)
        return s

    def read_line(self, s: socket.socket, limit: int = 1 << 22) -> bytes:
        """One reply line; what is left (b"" usually) when the daemon closed the connection
        first. Bytes after the line are kept for the next call on the same socket."""
        buf = self.pending.pop(s.fileno(), b"")
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return buf
            buf += chunk
            assert len(buf) < limit, "reply line without end"
        line, rest = buf.split(b"\n", 1)
        if rest:
            self.pending[s.fileno()] = rest
        return line + b"\n"

    def exchange(self, data: bytes) -> dict:
        """Sends `data` on a fresh connection and returns the first reply, parsed."""
        with self.open() as s:
            s.sendall(data)
            line = self.read_line(s)
        assert line.endswith(b"\n"), f"no reply line to {data[:60]!r}: got {line!r}"
        return json.loads(line)

    def status_ok(self) -> dict:
        reply = self.exchange(b'{"cmd":"status"}\n')
        assert reply.get("ok") is True, reply
        return reply["status"]


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def check_unchanged(site: hl.Site, since: float, what: str) -> None:
    """herald alive, BIRD's session not reset and both routes there, herald's status agreeing."""
    assert site.herald.alive(), f"herald died after {what}:\n" + site.herald.log()[-3000:]
    routes = site.router_routes()
    assert hl.PREFIX_V4 in routes and hl.PREFIX_V6 in routes, (what, routes)
    state = site.bird.protocol_state("herald")
    assert harness.same_since(site.bird.protocol_since("herald"), since) and "Established" in state, (
        what, state, since)
    st = site.status()["status"]
    assert st["peers"][0]["state"] == "Established" and st["peers"][0]["prefixes_sent"] == 2, (what, st["peers"])
    svc = st["services"][0]
    assert svc["state"] == "Up" and svc["announced"], (what, svc)


def control_garbage(site: hl.Site, ctl: Control, since: float) -> None:
    pid = site.herald.pid
    fds_before = fd_count(pid)

    # Requests that must each get one error reply naming the problem. One line each:
    # what is sent -> a regex the error text must match.
    bad_requests = [
        (GARBAGE[:200].replace(b"\n", b" ") + b"\n", r"not valid JSON"),
        (b"\x00\x00\x00\n", r"not valid JSON"),
        (b'{"cmd":\n', r"not valid JSON"),
        (b'{"cmd":"status"\n', r"not valid JSON"),
        (b"[1,2,3]\n", r"object"),
        (b'"status"\n', r"object"),
        (b"null\n", r"object"),
        (b"{}\n", r"cmd"),
        (b'{"cmd":42}\n', r"cmd"),
        (b'{"cmd":"stats"}\n', r'unknown command "stats".*status'),
        (b'{"cmd":"shutdown"}\n', r'unknown command "shutdown"'),
        (b'{"cmd":"drain"}\n', r'needs "service" or "all"'),
        (b'{"cmd":"drain","service":123}\n', r"service"),
        (b'{"cmd":"drain","service":"\xff\xfe"}\n', r"."),
        (b'{"cmd":"drain","service":"nosuch"}\n', r"unknown service"),
        (b'{"cmd":"steer","service":"dns","prepend":"x"}\n', r"prepend"),
        (b'{"cmd":"steer","service":"dns","prepend":17}\n', r"prepend must be an integer 0\.\.16"),
        (b'{"cmd":"steer","service":"dns","prepend":-1}\n', r"prepend"),
        (b'{"cmd":"steer","service":"dns","med":-5}\n', r"med"),
        (b'{"cmd":"steer","service":"dns","med":99999999999}\n', r"med"),
        (b'{"cmd":"steer","service":"dns"}\n', r"prepend|med"),
        (b'{"cmd":"status","cmd":"reload"}\n', r'key "cmd" more than once'),
        (b"x" * 70000 + b"\n", r"longer than 64 KiB"),
    ]
    for data, pattern in bad_requests:
        reply = ctl.exchange(data)
        assert reply.get("ok") is False and isinstance(reply.get("error"), str), (data[:60], reply)
        assert re.search(pattern, reply["error"]), (data[:60], reply["error"], pattern)
    print(f"ok: {len(bad_requests)} malformed requests each answered with an error naming the problem")
    check_unchanged(site, since, "malformed requests")

    # After an over-long line, the same connection still works; pipelined requests each get a
    # reply in order; CRLF endings are accepted.
    with ctl.open() as s:
        s.sendall(b"y" * 200000 + b"\n" + b'{"cmd":"status"}\r\n' + b'{"cmd":"nope"}\n' + b'{"cmd":"status"}\n')
        replies = [json.loads(ctl.read_line(s)) for _ in range(4)]
    assert [r["ok"] for r in replies] == [False, True, False, True], replies
    print("ok: a connection survives an over-long line; pipelined requests answered in order (CRLF too)")

    # Binary junk without a newline, then close: nothing to answer, nothing breaks.
    for n in (1, 100, 4096):
        with ctl.open() as s:
            s.sendall(GARBAGE[:n].replace(b"\n", b"\x01"))
    # Half-written requests held open while other clients are served.
    half = [ctl.open() for _ in range(5)]
    for s in half:
        s.sendall(b'{"cmd":"sta')
    t0 = time.monotonic()
    ctl.status_ok()
    assert time.monotonic() - t0 < 1.0
    # Completing one of them later still works.
    half[0].sendall(b'tus"}\n')
    assert json.loads(ctl.read_line(half[0]))["ok"] is True
    for s in half:
        s.close()
    print("ok: junk without newline and half-written requests do not block other clients")

    # Many concurrent clients opening, asking, closing (some without reading, some mid-line).
    errors = []

    def client(k: int) -> None:
        try:
            for j in range(5):
                with ctl.open() as s:
                    if (k + j) % 3 == 0:
                        s.sendall(b'{"cmd":"status"}\n')
                        line = ctl.read_line(s)
                        if line and json.loads(line).get("ok") is not True:
                            errors.append(line)
                    elif (k + j) % 3 == 1:
                        s.sendall(b'{"cmd":"status"}\n')  # close without reading
                    else:
                        s.sendall(b'{"cmd":"st')          # close mid-line
        except OSError:
            pass  # refused or dropped beyond the connection limit is acceptable

    threads = [threading.Thread(target=client, args=(k,)) for k in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    assert not errors, errors[:3]
    ctl.status_ok()
    print("ok: 40 concurrent clients x 5 connections (reading, not reading, mid-line) served or dropped cleanly")

    # A client that sends many requests and never reads: the daemon stops queueing for it
    # (closes it) rather than buffering without bound, and others are served meanwhile.
    slow = ctl.open()
    slow.setblocking(False)
    request = b'{"cmd":"status"}\n' * 1000
    sent = 0
    deadline = time.monotonic() + 20
    closed = False
    while time.monotonic() < deadline and sent < 20 * len(request):
        try:
            sent += slow.send(request)
        except BlockingIOError:
            time.sleep(0.01)
            t0 = time.monotonic()
            ctl.status_ok()
            assert time.monotonic() - t0 < 1.0, "status was slow while a client did not read"
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    slow.close()
    rss = harness.rss_kib(pid)
    print(f"ok: a client that never reads ({sent} request bytes, dropped by herald: {closed}); "
          f"herald RSS {rss} KiB")
    assert rss < 200 * 1024, rss

    harness.wait_for(lambda: fd_count(pid) <= fds_before, timeout=5,
                     what=f"herald's descriptors back to {fds_before} (now {fd_count(pid)})")
    check_unchanged(site, since, "control socket garbage")
    print(f"ok: no descriptor leak ({fd_count(pid)} open), session and routes untouched")


# The bar for `heraldctl drain` while the socket is flooded is 1 s on an idle machine. CI
# machines are busy, so the test asserts a looser bound and prints the time; the bound stays
# below the listener's 3 s request timeout, so success cannot come from the idle connections
# timing out: it shows that eviction made room.
DRAIN_BAR_S = 1.0
DRAIN_BOUND_S = 2.5
REQUEST_TIMEOUT_S = 3.0


def closed_count(socks: list, wait: float = 0.0) -> int:
    """How many of `socks` the peer has closed (EOF or reset), waiting up to `wait` s for more."""
    closed = 0
    readable, _, _ = select.select(socks, [], [], wait) if socks else ([], [], [])
    for s in readable:
        try:
            closed += s.recv(1, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


def wait_closed(socks: list, n: int, timeout: float, what: str) -> None:
    harness.wait_for(lambda: closed_count(socks) >= n, timeout=timeout, what=what)


def timed_ctl(site: hl.Site, *args: str) -> float:
    t0 = time.monotonic()
    r = site.ctl(*args, check=False)
    took = time.monotonic() - t0
    assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return took


def bar(took: float) -> str:
    return f"{took * 1000:.0f} ms ({'within' if took < DRAIN_BAR_S else 'OVER'} the 1 s bar)"


def metrics_text(site: hl.Site) -> str:
    with in_netns(site.node.name):
        with urllib.request.urlopen("http://127.0.0.1:9179/metrics", timeout=5) as r:
            assert r.status == 200, r.status
            return r.read().decode()


def dropped(text: str, listener: str, reason: str) -> int:
    m = re.search(rf'^herald_connections_dropped_total{{listener="{listener}",reason="{reason}"}} (\S+)$',
                  text, re.M)
    return int(float(m.group(1))) if m else 0


def idle_flood(site: hl.Site, ctl: Control, since: float) -> None:
    """#16 item 1: idle connections must not lock the operator out of the control socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    log_before = site.herald.log()

    # 80 connections that never send anything (the limit is 64). Once herald has taken them
    # all, the 16 oldest were closed to make room; then heraldctl drain gets in at once.
    held = []
    try:
        for _ in range(80):
            held.append(ctl.open())
        wait_closed(held, 16, timeout=REQUEST_TIMEOUT_S - 0.5, what="herald to take all 80 connections")
        took = timed_ctl(site, "drain", "dns", "--reason", "idle flood")
        assert took < DRAIN_BOUND_S, f"heraldctl drain took {took:.2f}s with 64 idle connections held"
        assert closed_count(held[16:17], wait=1) == 1, "the oldest idle connection left was not evicted"
        # herald's log is in event order: the drain came before any idle connection timed out,
        # so it got in by eviction.
        log = site.herald.log()[len(log_before):]
        drain_at = log.find('drain service=dns reason="idle flood"')
        timeout_at = log.find("within 3000 ms")
        assert drain_at >= 0 and (timeout_at < 0 or drain_at < timeout_at), log[-2000:]
        print(f"ok: 80 idle connections held (16 oldest evicted by the others): heraldctl drain "
              f"succeeded in {bar(took)}, before any of them timed out; it evicted the oldest")
        # The rest hold on past the request timeout and are closed.
        wait_closed(held, 80, timeout=REQUEST_TIMEOUT_S + 5, what="the idle connections to time out")
        print("ok: idle connections closed at the request timeout")
    finally:
        for s in held:
            s.close()

    # A burst of 1000 connections; heraldctl undrain in the middle of it, drain right after it.
    burst: list = []
    half = threading.Event()
    failed: list = []

    def flood() -> None:
        try:
            for i in range(1000):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                burst.append(s)
                s.settimeout(5)
                s.connect(ctl.path)
                if i == 500:
                    half.set()
        except OSError as e:
            failed.append(e)
        finally:
            half.set()

    try:
        t = threading.Thread(target=flood)
        t.start()
        assert half.wait(timeout=20), "the burst did not get to 500 connections"
        took_mid = timed_ctl(site, "undrain", "dns")
        t.join(timeout=30)
        assert not t.is_alive() and not failed, failed
        took_after = timed_ctl(site, "drain", "dns", "--reason", "burst")
        for took, when in ((took_mid, "during"), (took_after, "right after")):
            assert took < DRAIN_BOUND_S, f"heraldctl took {took:.2f}s {when} a burst of 1000 connections"
        print(f"ok: burst of 1000 connections: heraldctl undrain during it {bar(took_mid)}, "
              f"heraldctl drain right after it {bar(took_after)}")
    finally:
        for s in burst:
            s.close()
    assert timed_ctl(site, "undrain", "dns") < DRAIN_BOUND_S

    log = site.herald.log()[len(log_before):]
    lines = [l for l in log.splitlines() if "control connection closed" in l]
    assert any("idle longest" in l for l in lines), log[-2000:]
    # Rate-limited: at most one line per reason per 10 s (this test takes less than 20 s).
    assert len(lines) <= 6, lines
    text = metrics_text(site)
    evicted, timeouts = dropped(text, "control", "evicted"), dropped(text, "control", "timeout")
    assert evicted >= 16 + 1 + 900 and timeouts >= 63, (evicted, timeouts)
    print(f"ok: {len(lines)} rate-limited log lines; herald_connections_dropped_total says "
          f"{evicted} evicted, {timeouts} timed out")


def metrics_idle_flood(site: hl.Site) -> None:
    """#16 item 7: idle connections to /metrics must not block scrapes."""
    held = []
    try:
        with in_netns(site.node.name):
            for _ in range(20):
                held.append(socket.create_connection(("127.0.0.1", 9179), timeout=5))
        wait_closed(held, 4, timeout=REQUEST_TIMEOUT_S - 0.5, what="herald to take all 20 metrics connections")
        text = metrics_text(site)
        assert "herald_build_info" in text
        assert dropped(text, "metrics", "evicted") >= 4, text
        # As in the issue: the idle connections renewed again and again, a scrape after each.
        for _ in range(3):
            with in_netns(site.node.name):
                fresh = [socket.create_connection(("127.0.0.1", 9179), timeout=5) for _ in range(16)]
            held += fresh
            assert "herald_build_info" in metrics_text(site)
        print("ok: /metrics scraped while 20 idle connections were held, and after each of 3 renewals of 16")
    finally:
        for s in held:
            s.close()


def first_error(stderr: str, cfg: str) -> str:
    """The first error line (the one naming the file) of a refused reload."""
    lines = [l for l in stderr.splitlines() if cfg in l] or stderr.splitlines() or [""]
    return lines[0].replace(os.path.dirname(cfg) + "/", "")[:140]


def reload_garbage(site: hl.Site, since: float, good: str) -> None:
    cfg = site.config_path
    name = re.escape(os.path.basename(cfg))
    place = name + r":\d+:\d+"
    # What is written at the config path -> a regex the refusal must match.
    bad_files = [
        ("syntax error: unclosed table header", good.replace("[[peer]]", "[[peer]", 1), place),
        ("syntax error: unterminated string", good.replace('name = "upstream"', 'name = "upstream', 1), place),
        ("syntax error: duplicate key", good.replace("local-as = 65053", "local-as = 65053\nlocal-as = 65054", 1), place),
        ("unknown key in [global]", good.replace("[global]", "[global]\nlocal-ass = 65053", 1), place + r".*local-ass"),
        ("unknown key in [[peer]]", good.replace("hold-time", "hold-tim", 1), place + r".*hold-tim"),
        ("unknown table", good + "\n[peers]\nx = 1\n", place),
        ("bad value: hold-time 2s", good.replace('hold-time = "9s"', 'hold-time = "2s"', 1), place + r".*hold-time"),
        ("bad value: local-as 0", good.replace("local-as = 65053", "local-as = 0", 1), place + r".*local-as"),
        ("bad value: local-as a string", good.replace("local-as = 65053", 'local-as = "sixty"', 1), place + r".*local-as"),
        ("bad value: prefix with host bits", good.replace(hl.PREFIX_V4, "192.0.2.53/24", 1), place + r".*prefixes"),
        ("bad value: bare number duration", good.replace('interval = "100ms"', "interval = 5", 1), place + r".*interval"),
        ("bad value: peer address", good.replace(f'address = "{hl.ROUTER_V4}"', 'address = "203.0.113.300"', 1), place + r".*address"),
        ("empty file", "", name + r".*local-as"),
        ("binary junk", GARBAGE.decode("latin-1"), name),
        ("only a comment", "# nothing here\n", name + r".*local-as"),
    ]
    for what, text, pattern in bad_files:
        with open(cfg, "w", encoding="latin-1") as f:
            f.write(text)
        r = site.ctl("reload", check=False)
        assert r.returncode != 0, (what, r.stdout, r.stderr)
        assert re.search(pattern, r.stderr, re.S), (what, pattern, r.stderr)
        print(f"ok: reload of {what} refused: {first_error(r.stderr, cfg)}")
    check_unchanged(site, since, "garbage reloads")

    # No file at all, then a directory where the file should be.
    os.unlink(cfg)
    r = site.ctl("reload", check=False)
    assert r.returncode != 0 and re.search(name + r".*(cannot open|No such file)", r.stderr), r.stderr
    print(f"ok: reload with the file missing refused: {first_error(r.stderr, cfg)}")
    os.mkdir(cfg)
    r = site.ctl("reload", check=False)
    assert r.returncode != 0 and cfg in r.stderr, r.stderr
    print(f"ok: reload with a directory at the config path refused: {first_error(r.stderr, cfg)}")
    os.rmdir(cfg)
    # A FIFO: opening it would wait for a writer that never comes, with the daemon's event loop
    # (BGP keepalives included) stuck behind it.
    os.mkfifo(cfg)
    r = site.ctl("reload", check=False)
    assert r.returncode != 0 and cfg in r.stderr, r.stderr
    print(f"ok: reload with a FIFO at the config path refused at once: {first_error(r.stderr, cfg)}")
    os.unlink(cfg)
    # A file too big to be a configuration.
    with open(cfg, "w") as f:
        f.write("# padding\n" * 120000)
    r = site.ctl("reload", check=False)
    assert r.returncode != 0 and "1 MiB" in r.stderr, r.stderr
    print("ok: reload of a 1.2 MB file refused (larger than 1 MiB)")
    # SIGHUP with binary junk: logged, not fatal.
    with open(cfg, "wb") as f:
        f.write(GARBAGE)
    site.herald.signal(1)  # SIGHUP
    time.sleep(0.3)
    check_unchanged(site, since, "bad reloads")
    print("ok: SIGHUP with binary junk kept the daemon, the session and the routes")

    # The good file again: accepted, and nothing reset (the config did not change).
    site.write_config(good)
    r = site.ctl("reload", check=False)
    assert r.returncode == 0, (r.stdout, r.stderr)
    time.sleep(0.3)
    check_unchanged(site, since, "the good reload")
    print("ok: the original file reloads cleanly afterwards without resetting the session")


def main() -> int:
    harness.require_root()
    t_start = time.monotonic()
    with harness.Lab("ctlgarbage") as lab:
        site = hl.Site(lab, "bird")
        good = hl.herald_config(lab)
        site.start_herald(good)
        site.start_dns().wait_ready()
        harness.wait_for(site.session_up, timeout=20, what="BGP session with BIRD")
        site.wait_route(hl.PREFIX_V4, True, timeout=15)
        site.wait_route(hl.PREFIX_V6, True, timeout=5)
        since = site.bird.protocol_since("herald")
        ctl = Control(site)
        control_garbage(site, ctl, since)
        idle_flood(site, ctl, since)
        metrics_idle_flood(site)
        check_unchanged(site, since, "idle connection floods")
        reload_garbage(site, since, good)
    print(f"control and reload garbage: all passed in {time.monotonic() - t_start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
