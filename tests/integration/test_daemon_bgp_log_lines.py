"""Two of herald's log lines against the live daemon, with a real BIRD 2 upstream.

    upstream ns  BIRD 2 (AS 65000), IPv4 channel only  --veth--  node ns: herald (AS 65053) + unbound
                 203.0.113.1 (the peer), 203.0.113.9 (a stranger)

- "prefix announced ... peers=N" counts the sessions that carry the prefix's family: herald
  offers IPv4 and IPv6, BIRD only IPv4, so the IPv4 prefix goes to 1 peer and the IPv6 one to 0
  (before: both said peers=1).
- A flood of connections to port 179 from an address that is no peer writes one line for the
  first, then counts: the metric herald_bgp_connections_refused_total counts every one, and the
  log accounts for all of them in a few lines (before: one warning per connection).
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

STRANGER = "203.0.113.9"
FLOOD = 20000

# Opens `count` connections from `src` to `dst`:179 one after the other and waits for herald to
# close each (a connection reset before herald accepts it has no remote address left to count).
FLOOD_SCRIPT = r"""
import socket, sys
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = 0
for _ in range(count):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect((dst, 179))
    if s.recv(1) == b"":
        done += 1
    s.close()
print(done)
"""


def log_lines(site: hl.Site, needle: str) -> list:
    return [line for line in site.herald.log().splitlines() if needle in line]


def refused_metric(site: hl.Site) -> int:
    text = site.node.run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout
    m = re.search(r'^herald_bgp_connections_refused_total\{reason="not_configured"\} (\d+)$', text, re.M)
    return int(m.group(1)) if m else -1


def refusals_accounted(site: hl.Site) -> tuple:
    """(refusals the log accounts for, lines it took): first-of-period lines count 1 each,
    summaries "refused N more connections from ADDR" count N."""
    firsts = log_lines(site, f"refused connection from {STRANGER}:")
    summaries = [re.search(r"refused (\d+) more connections? from " + re.escape(STRANGER) + " in ", line)
                 for line in site.herald.log().splitlines()]
    summaries = [m for m in summaries if m]
    return len(firsts) + sum(int(m.group(1)) for m in summaries), len(firsts) + len(summaries)


def main() -> int:
    harness.require_root()
    with harness.Lab("loglines") as lab:
        site = hl.Site(lab, "bird")
        # BIRD without its IPv6 channel: the session negotiates IPv4 unicast only (RFC 4760).
        conf = hl.upstream_bird_config(families=("ipv4",))
        assert "ipv6" not in conf, conf
        with open(site.bird.conf, "w") as f:
            f.write(conf)
        site.bird.ctl("configure")
        config = hl.herald_config(lab).replace("listen = false", f'listen = "{hl.NODE_V4}:179"')
        site.start_herald(config)
        harness.wait_for(site.session_up, timeout=20, what="BGP session with BIRD")
        harness.wait_for(lambda: site.status()["status"]["peers"][0]["state"] == "Established", timeout=10,
                         what="herald's view of the session")

        # The service comes up only now, on an Established IPv4-only session.
        site.start_dns().wait_ready()
        harness.wait_for(lambda: len(log_lines(site, "prefix announced")) == 2, timeout=15,
                         what="both 'prefix announced' lines")
        by_prefix = {}
        for line in log_lines(site, "prefix announced"):
            prefix = re.search(r"prefix=(\S+)", line).group(1)
            by_prefix[prefix] = int(re.search(r"peers=(\d+)", line).group(1))
        assert by_prefix == {hl.PREFIX_V4: 1, hl.PREFIX_V6: 0}, by_prefix
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        assert not site.has_route(hl.PREFIX_V6)
        print(f"ok: 'prefix announced' counts the sessions carrying the family: {by_prefix}")

        # A flood of connections from an address that is no peer.
        site.up.run("ip", "addr", "add", f"{STRANGER}/24", "dev", "eth0")
        t0 = time.monotonic()
        r = site.up.run("/usr/bin/python3", "-c", FLOOD_SCRIPT, STRANGER, hl.NODE_V4, str(FLOOD), timeout=120)
        assert r.stdout.strip() == str(FLOOD), r.stdout + r.stderr
        harness.wait_for(lambda: refused_metric(site) == FLOOD, timeout=20,
                         what=f"herald_bgp_connections_refused_total to reach {FLOOD}")
        elapsed = time.monotonic() - t0
        _, lines = refusals_accounted(site)
        periods = int(elapsed // 60) + 1
        assert 1 <= lines <= 2 * periods, f"{lines} refusal lines for {FLOOD} connections in {elapsed:.1f}s"
        assert site.session_up(), "the flood disturbed the session with BIRD"
        print(f"ok: {FLOOD} refused connections in {elapsed:.1f}s: metric {FLOOD}, {lines} log line(s)")

        # herald stops: what it still counts is logged, so the log accounts for every refusal.
        site.herald.stop(timeout=10)
        accounted, lines = refusals_accounted(site)
        assert accounted == FLOOD, (accounted, log_lines(site, "refused"))
        print(f"ok: at shutdown the log accounts for all {FLOOD} refusals in {lines} line(s): "
              f"{log_lines(site, 'more connection')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
