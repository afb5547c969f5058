"""heraldctl routes and peer reset|disable|enable against a real BIRD 2 upstream (issue #20 item 2).

routes: what `heraldctl routes --json` says herald sent is what BIRD received (`birdc show route
for PREFIX all`: origin, AS path, next hop, MED, communities, large communities), for both
families, before and after a steer that prepends and sets a MED; the table shows the same; an
unknown peer is an error naming the known one.
peer: reset -> BIRD logs Cease/Administrative reset with herald's text and the session comes
back; disable -> BIRD logs Administrative shutdown with the reason, the session stays down and
the routes go; status says "disabled"; a herald restart keeps it disabled (state file); enable
-> the session and the routes come back (heraldctl --json --timeout against the live daemon; while
herald is down heraldctl's error names the socket and says herald is not running).
"""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

UP_POLICY = """
[service.policy.up]
communities = ["65053:100"]
large-communities = ["65053:1:2"]
"""


def bird_attrs(site: hl.Site, prefix: str) -> dict:
    """The BGP attributes BIRD holds for `prefix` ("BGP.name: value" lines), BIRD's own
    local_pref left out (eBGP: herald sends none, BIRD sets its default)."""
    text = site.bird.ctl(f"show route for {prefix} all", check=False).stdout
    attrs = dict(re.findall(r"^\s+BGP\.(\w+): (.*?)\s*$", text, re.M))
    attrs.pop("local_pref", None)
    return attrs


def herald_groups(site: hl.Site, peer: str = "upstream") -> dict:
    """prefix -> the attribute group `heraldctl routes PEER --json` lists it in."""
    reply = json.loads(site.ctl("routes", peer, "--json").stdout)
    assert reply["ok"] and not reply["truncated"], reply
    (p,) = [p for p in reply["peers"] if p["name"] == peer]
    out = {}
    for g in p["groups"]:
        for prefix in g["prefixes"]:
            out[prefix] = g
    assert p["prefix_count"] == len(out), p
    return out


def as_bird_shows(g: dict) -> dict:
    """herald's JSON group in BIRD's words, for the attributes herald sent."""
    out = {"origin": g["origin"], "as_path": " ".join(str(a) for a in g["as_path"]),
           "next_hop": " ".join(x for x in (g["next_hop"], g.get("link_local_next_hop")) if x)}
    if g["med"] is not None:
        out["med"] = str(g["med"])
    if g["communities"]:
        out["community"] = " ".join("({},{})".format(*c.split(":")) for c in g["communities"])
    if g["large_communities"]:
        out["large_community"] = " ".join("({}, {}, {})".format(*c.split(":")) for c in g["large_communities"])
    return out


def check_same(site: hl.Site, what: str) -> None:
    groups = herald_groups(site)
    assert set(groups) == {hl.PREFIX_V4, hl.PREFIX_V6}, groups
    for prefix in (hl.PREFIX_V4, hl.PREFIX_V6):
        mine, birds = as_bird_shows(groups[prefix]), bird_attrs(site, prefix)
        assert mine == birds, f"{what} {prefix}: heraldctl routes says {mine}, BIRD holds {birds}"
    print(f"ok: {what}: heraldctl routes = what BIRD holds for both prefixes: {as_bird_shows(groups[hl.PREFIX_V4])}")


def metric(site: hl.Site, series: str) -> str:
    """The value of one series on herald's /metrics (the lab's config listens on 127.0.0.1:9179)."""
    text = site.node.run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout
    values = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(series + " ")]
    assert len(values) == 1, (series, text)
    return values[0]


def bird_log_has(site: hl.Site, pattern: str) -> bool:
    return re.search(pattern, site.bird.proc.log()) is not None


class EventStream:
    """A subscription to herald's event stream over the control socket, subscribed once the
    reply to {"cmd":"events"} has arrived, so no event after that can be missed."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.sock.sendall(b'{"cmd":"events"}\n')
        self.buf = b""
        assert json.loads(self._line())["ok"]

    def _line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("herald closed the event stream")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def wait_event(self, kind: str, peer: str) -> dict:
        for _ in range(200):  # bounded: each recv waits at most 5 s
            ev = json.loads(self._line())
            if ev.get("event") == kind and ev.get("peer") == peer:
                return ev
        raise AssertionError(f"no {kind} event for {peer}")

    def close(self) -> None:
        self.sock.close()


def main() -> int:
    harness.require_root()
    with harness.Lab("rtpeerbird") as lab:
        site = hl.Site(lab, "bird", bird_log="all")  # BIRD logs the NOTIFICATIONs it receives
        config = hl.herald_config(lab, drain_period="30s", extra_services=UP_POLICY)
        site.start_herald(config)
        site.start_dns().wait_ready()
        harness.wait_for(site.session_up, timeout=20, what="BGP session with BIRD")
        site.wait_route(hl.PREFIX_V4, True, timeout=15)
        site.wait_route(hl.PREFIX_V6, True, timeout=5)
        harness.wait_for(lambda: "large_community" in bird_attrs(site, hl.PREFIX_V6), timeout=5,
                         what="the up policy's communities at BIRD")
        check_same(site, "up")

        site.ctl("steer", "dns", "--prepend", "2", "--med", "77")
        harness.wait_for(lambda: bird_attrs(site, hl.PREFIX_V4).get("as_path") == "65053 65053 65053" and
                         bird_attrs(site, hl.PREFIX_V6).get("med") == "77", timeout=5,
                         what="the steered path at BIRD")
        check_same(site, "steered (prepend 2, MED 77)")
        assert herald_groups(site)[hl.PREFIX_V4]["as_path"] == [65053, 65053, 65053]
        table = site.ctl("routes").stdout
        row = re.search(r"^192\.0\.2\.53/32\s+203\.0\.113\.2\s+65053 65053 65053\s+IGP\s+77\s+-\s+65053:100\s+"
                        r"65053:1:2\s+-$", table, re.M)
        assert row, table
        assert "PEER upstream 203.0.113.1 Established: 2 prefixes sent" in table, table
        print("ok: the table shows the steered row as sent")

        r = site.ctl("routes", "upstrem", check=False)
        assert r.returncode == 1 and 'unknown peer "upstrem" (did you mean "upstream"?) (configured: upstream)' \
            in r.stderr, (r.returncode, r.stderr)
        r = site.ctl("peer", "disable", "upstraem", check=False)
        assert r.returncode == 1 and 'peer disable: unknown peer "upstraem" (did you mean "upstream"?)' in r.stderr, r
        print("ok: unknown peers are errors naming the configured one")

        # reset: Cease/Administrative Reset (6/4) with the text, then the session comes back on
        # herald's first connection: BIRD restarts the protocol after the NOTIFICATION and rejects
        # a connection meanwhile, so herald waits the idle hold first. BIRD traces each incoming
        # connection ("accepted"/"rejected") with debug events.
        site.bird.ctl("debug herald { events }")
        events = EventStream(site.socket)
        before = site.bird.protocol_since("herald")
        log_before = len(site.bird.proc.log())
        out = site.ctl("peer", "reset", "upstream", "--reason", "reset by e2e").stdout
        assert "reconnects in 1s (idle-hold)" in out, out
        harness.wait_for(lambda: bird_log_has(site, r'herald: Received: Administrative reset: "reset by e2e"'), timeout=10,
                         what="BIRD to log the Administrative reset")
        harness.wait_for(lambda: site.session_up() and not harness.same_since(site.bird.protocol_since("herald"), before),
                         timeout=20, what="the session to come back after the reset")
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        incoming = re.findall(r"herald: Incoming connection from 203\.0\.113\.2 \(port \d+\) (\w+)",
                              site.bird.proc.log()[log_before:])
        assert incoming == ["accepted"], ("the reset session came back on herald's first connection", incoming)
        assert "peer reset" in site.herald.log() and 'reason="reset by e2e"' in site.herald.log()
        assert events.wait_event("peer-reset", "upstream")["reason"] == "reset by e2e"
        print("ok: peer reset -> BIRD got Cease/Administrative reset with the text; session and routes back on "
              "herald's first connection (BIRD accepted it, rejected none); event and log line")

        # disable: Cease/Administrative Shutdown (6/2) with the reason; stays down.
        site.ctl("peer", "disable", "upstream", "--reason", "maintenance window")
        harness.wait_for(lambda: bird_log_has(site, r'herald: Received: Administrative shutdown: "maintenance window"'), timeout=10,
                         what="BIRD to log the Administrative shutdown")
        site.wait_route(hl.PREFIX_V4, False, timeout=10)
        site.wait_route(hl.PREFIX_V6, False, timeout=5)
        detail = site.bird.ctl("show protocols all herald").stdout
        assert "maintenance window" in detail and "Established" not in detail, detail
        st = site.status()["status"]["peers"][0]
        assert st["disabled"]["reason"] == "maintenance window" and st["state"] == "Idle", st
        assert re.search(r"^upstream\s+203\.0\.113\.1\s+65000\s+disabled\s", site.ctl("status").stdout, re.M)
        reply = json.loads(site.ctl("routes", "--json").stdout)
        assert reply["peers"][0]["prefix_count"] == 0 and reply["peers"][0]["disabled"], reply
        assert events.wait_event("peer-disable", "upstream")["reason"] == "maintenance window"
        events.close()
        assert metric(site, 'herald_peer_disabled{peer="upstream"}') == "1"
        assert metric(site, 'herald_peer_up{peer="upstream"}') == "0"
        print("ok: peer disable -> BIRD got Administrative shutdown with the reason; routes gone; status 'disabled'; "
              "herald_peer_disabled 1")

        # A restart keeps it disabled (state file).
        site.herald.stop(timeout=10)
        if os.path.exists(site.socket):
            os.unlink(site.socket)
        # heraldctl while herald is down: the error names the socket and says herald is not running.
        r = site.ctl("--timeout", "2", "status", check=False)
        assert r.returncode == 2 and f"cannot connect to {site.socket}: no such socket: herald is not running" \
            in r.stderr, (r.returncode, r.stderr)
        site.start_herald()
        harness.wait_for(lambda: "disabled by the operator: not starting the session" in site.herald.log(),
                         timeout=10, what="herald to start with the peer disabled")
        st = site.status()["status"]["peers"][0]
        assert st["disabled"]["reason"] == "maintenance window", st
        # Nothing to wait for: herald connects within connect-retry (1 s) when the peer is enabled.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert not site.session_up(), site.bird.ctl("show protocols all herald").stdout
            time.sleep(0.2)
        print("ok: after a restart the peer is still disabled and BIRD has no session")

        events = EventStream(site.socket)
        reply = json.loads(site.ctl("--json", "--timeout", "5", "peer", "enable", "upstream").stdout)
        assert reply["ok"] is True and "upstream" in reply["message"], reply
        events.wait_event("peer-enable", "upstream")
        events.close()
        harness.wait_for(site.session_up, timeout=20, what="the session after enable")
        site.wait_route(hl.PREFIX_V4, True, timeout=15)
        site.wait_route(hl.PREFIX_V6, True, timeout=5)
        assert site.status()["status"]["peers"][0]["disabled"] is None
        check_same(site, "after enable (the steering persisted too)")
        log = site.herald.log()
        assert "enabled by the operator: starting the session" in log, log[-2000:]
        assert metric(site, 'herald_peer_disabled{peer="upstream"}') == "0"
        print("ok: peer enable -> session and routes back; herald_peer_disabled 0")
    print("routes/peer with BIRD: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
