"""A service whose prefixes come from a prefixes-file, against the live daemon and BIRD:
60,000 /32s from the file all reach the upstream with one summary log line (not 60,000 lines);
`heraldctl status` still answers (listing a few of them, and the count);
a reload re-reads the file (a shorter file withdraws the rest, again in one line and one
control event, which a `heraldctl events` subscriber receives whole); a file with
a bad line is refused with FILE:LINE:COL and the running set stays announced."""
import ipaddress
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

BASE = int(ipaddress.IPv4Address("198.18.0.0"))
# Enough that listing them all in a status reply (~1.3 MB) passes the control socket's 1 MiB
# per-client queue, which used to cut `heraldctl status` off.
N = 60_000


def prefixes(n: int) -> list[str]:
    return [f"{ipaddress.IPv4Address(BASE + i)}/32" for i in range(n)]


def route_count(site: hl.Site) -> int:
    out = site.bird.ctl("show route count table master4 protocol herald", check=False).stdout
    m = re.search(r"(\d+) of \d+ routes", out)
    return int(m.group(1)) if m else 0


def lines(log: str, msg: str, service: str) -> list[str]:
    return [l for l in log.splitlines() if f" {msg} " in l and f"service={service}" in l]


def main() -> int:
    harness.require_root()
    with harness.Lab("pfxfile") as lab:
        site = hl.Site(lab, "bird")
        bulk = lab.write("bulk.txt", "# bulk anycast /32s\n" + "\n".join(prefixes(N)) + "\n")
        # A second, bound service: its 10 addresses go on lo with one "addresses bound" line.
        bound = lab.write("bound.txt", "\n".join(f"198.19.200.{i}/32" for i in range(10)) + "\n")
        extra = f"""
[[service]]
name = "bulk"
prefixes-file = "{bulk}"

[service.address]
bind = false

[[service]]
name = "bound"
prefixes-file = "{bound}"
"""
        # The dns service stays down (no DNS server here): only the file's prefixes are announced.
        site.start_herald(hl.herald_config(lab, extra_services=extra))
        harness.wait_for(lambda: route_count(site) == N + 10, timeout=30, what=f"{N} + 10 prefixes at BIRD")
        log = site.herald.log()
        assert not lines(log, "prefix announced", "bulk"), "one line per prefix"
        summary = lines(log, "prefixes announced", "bulk")
        assert len(summary) == 1 and f"count={N}" in summary[0] and f"ipv4={N}" in summary[0], summary
        assert "198.18.0.0/32, 198.18.0.1/32, 198.18.0.2/32, ..." in summary[0], summary
        print(f"ok: {N} prefixes from the file at the upstream, one log line: {summary[0]}")
        on_lo = site.node.run("ip", "-br", "addr", "show", "dev", "lo").stdout
        assert all(f"198.19.200.{i}/32" in on_lo for i in range(10)), on_lo
        bound_lines = lines(log, "addresses bound", "bound")
        assert len(bound_lines) == 1 and "count=10" in bound_lines[0] and "added=10" in bound_lines[0], bound_lines
        assert not lines(log, "address bound", "bound")
        print(f"ok: 10 addresses bound on lo, one log line: {bound_lines[0]}")

        st = site.status()
        bulk_st = [s for s in st["status"]["services"] if s["name"] == "bulk"][0]
        assert bulk_st["prefix_count"] == N and len(bulk_st["prefixes"]) == 16, bulk_st
        text = site.ctl("status").stdout
        assert f"({N} in all)" in text, text
        print("ok: heraldctl status answers, listing 16 of the prefixes and the count")

        dump = harness.run([harness.binary("herald"), "--dump-config", site.config_path]).stdout
        assert f'prefixes-file = "{bulk}"  # {N} prefixes: {N} IPv4, 0 IPv6' in dump, dump
        assert "198.18.0.5/32" not in dump
        print("ok: --dump-config names the file and its count, not its lines")

        # A bad line: the reload is refused, naming the file and line; nothing changes.
        with open(bulk, "a") as f:
            f.write("198.18.100.1/24\n")
        r = site.ctl("reload", check=False)
        assert r.returncode != 0, (r.stdout, r.stderr)
        assert f"{bulk}:{N + 2}:1: service \"bulk\" prefixes-file: prefix \"198.18.100.1/24\" has host bits set" in \
            (r.stdout + r.stderr), (r.stdout, r.stderr)
        assert route_count(site) == N + 10 and site.herald.alive()
        print("ok: a bad line in the file refuses the reload with FILE:LINE:COL; the running set stays")

        # A shorter file: the reload withdraws the rest, in one line and one event.
        events = lab.popen_lines([harness.binary("heraldctl"), "--socket", lab.path("herald.sock"),
                                  "events", "--json"], "events")
        # Subscribed once an event of ours arrives: drain the (down) dns service until one does.
        for attempt in range(50):
            site.ctl("drain", "dns", check=False)
            try:
                events.read_line(timeout=0.2)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("heraldctl events never received the drain event")
        site.ctl("undrain", "dns")
        with open(bulk, "w") as f:
            f.write("\n".join(prefixes(400)) + "\n")
        site.ctl("reload")
        harness.wait_for(lambda: route_count(site) == 410, timeout=30, what="400 + 10 prefixes left at BIRD")
        withdrawn = lines(site.herald.log(), "prefixes withdrawn", "bulk")
        assert len(withdrawn) == 1 and f"count={N - 400}" in withdrawn[0], withdrawn
        assert not lines(site.herald.log(), "prefix withdrawn", "bulk")
        print(f"ok: reload re-read the file: {N - 400} withdrawn, one log line: {withdrawn[0]}")
        seen = []
        for _ in range(50):  # bounded: a reload event, then the announce event
            ev = json.loads(events.read_line(timeout=10))
            seen.append(ev)
            if ev.get("event") == "announce" and ev.get("service") == "bulk":
                break
        ev = seen[-1]
        assert ev.get("event") == "announce" and ev.get("new") == "withdrawn", seen
        assert ev.get("prefixes") == N - 400 and "prefix" not in ev, ev
        assert events.alive(), "the subscriber was cut off"
        events.stop()
        print(f"ok: one control event for the withdrawal: {ev}")
    print("prefixes-file: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
