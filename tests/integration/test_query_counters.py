"""herald counts the DNS queries arriving on each service address in its own nftables table
(issue #19 item 5; docs/metrics.md "Query counters"), with a real unbound and BIRD.

herald runs as it does in production: started as root with `user = "nobody"`, it drops to nobody
with CAP_NET_ADMIN once started, so every later reading, the reloads and the exit go through
nftables unprivileged but for that one capability.

A client namespace, linked to the node, sends a known number of queries (dnsperf -n, then dig
over TCP) to the "dns" service address. herald_service_queries_total of that address grows by at
least that many, while the "other" service's counter (another address on the node, counted at the port of
its DNS check, 5353; no client traffic) and the counters do not move for queries to an address that is no service's. The table
is made again when someone deletes it, a reload that removes "other" removes its rule and its
series, a reload turning query-counters off deletes the table (and on again makes it), and
herald's exit removes the table. Last, herald started without CAP_NET_ADMIN (no
address binding) logs "query counters off" with nft's reason and runs on, with
herald_query_counters_active 0; and a herald that exits at once on a second signal deletes
its table too.
"""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

CLIENT, NODE_SIDE = "198.51.100.1", "198.51.100.2"
OTHER = "192.0.2.54"
# Its DNS server listens on port 5353 (so its counters count port 5353); its check asks
# 127.0.0.1, where nothing answers, so that no query of herald's own reaches its address.
OTHER_SERVICE = f"""
[[service]]
name = "other"
prefixes = ["{OTHER}/32"]

[[service.check]]
type = "dns"
server = "127.0.0.1"
port = 5353
qname = "www.example."
"""
UDP_QUERIES = 300
TCP_QUERIES = 3


def with_counters(config: str, socket: str = "") -> str:
    """query-counters on; with `socket`, run as nobody with the control socket there (in a
    directory herald creates and hands over, so that nobody can remove the socket at exit)."""
    config = config.replace('metrics = "127.0.0.1:9179"\n', 'metrics = "127.0.0.1:9179"\nquery-counters = true\n', 1)
    if socket:
        config = re.sub(r'^control-socket = .*$', f'control-socket = "{socket}"', config, count=1, flags=re.M)
        config = config.replace('user = ""', 'user = "nobody"', 1)
    return config


def scrape(node: harness.Netns) -> str:
    return node.run("curl", "-sf", "http://127.0.0.1:9179/metrics", check=False).stdout


def series(text: str, name: str) -> dict:
    """{'{labels}': value} of the samples of one family."""
    return {m.group(1) or "": float(m.group(2))
            for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.M)}


def queries(node: harness.Netns, service: str, address: str, proto: str):
    """The sample of herald_service_queries_total with these labels, or None."""
    want = {"service": service, "address": address, "proto": proto}
    for labels, value in series(scrape(node), "herald_service_queries_total").items():
        if dict(re.findall(r'(\w+)="([^"]*)"', labels)) == want:
            return value
    return None


def table(node: harness.Netns) -> str:
    r = node.run("nft", "list", "table", "inet", "herald", check=False)
    return r.stdout if r.returncode == 0 else ""


def main() -> int:
    harness.require_root()
    with harness.Lab("qcount") as lab:
        site = hl.Site(lab, "bird")
        client = lab.netns("client")
        lab.link(client, f"{CLIENT}/24", site.node, f"{NODE_SIDE}/24", name_b="eth1")
        client.run("ip", "route", "add", "192.0.2.0/24", "via", NODE_SIDE)
        os.chmod(lab.dir, 0o755)  # nobody must reach its state directory inside the lab
        site.socket = os.path.join(lab.path("run"), "control.sock")
        site.start_herald(with_counters(hl.herald_config(lab, extra_services=OTHER_SERVICE), site.socket))
        site.start_dns().wait_ready()
        node = site.node

        # The table and the first reading of every counter.
        harness.wait_for(lambda: queries(node, "other", OTHER, "udp") is not None, timeout=15,
                         what="herald_service_queries_total of the other service")
        t = table(node)
        for name in ("q_192.0.2.53_32_53_udp", "q_192.0.2.53_32_53_tcp", "q_2001-db8-53--53_128_53_udp",
                     "q_192.0.2.54_32_5353_udp"):
            assert f"counter {name}" in t, t
        assert f"ip daddr {OTHER} udp dport 5353" in t, t
        assert series(scrape(node), "herald_query_counters_active") == {"": 1.0}
        assert "query counters on" in site.herald.log()
        assert "dropped privileges to user nobody" in site.herald.log(), site.herald.log()

        dns_udp0 = queries(node, "dns", hl.SERVICE_V4, "udp")
        dns_tcp0 = queries(node, "dns", hl.SERVICE_V4, "tcp")
        other0 = queries(node, "other", OTHER, "udp")
        print(f"before: dns udp {dns_udp0:.0f} tcp {dns_tcp0:.0f}, other {other0:.0f}")

        # Queries to an address of the node that no service has: nobody counts them.
        client.run("dig", f"@{NODE_SIDE}", "+time=1", "+tries=1", "www.example.", check=False)
        # The known load: UDP_QUERIES over UDP with dnsperf, TCP_QUERIES connections with dig.
        qfile = lab.write("queries.txt", "www.example. A\n")
        perf = client.run("dnsperf", "-s", hl.SERVICE_V4, "-d", qfile, "-n", str(UDP_QUERIES), "-c", "1",
                          "-T", "1", "-Q", "1000", "-l", "30", timeout=60)
        m = re.search(r"Queries sent:\s+(\d+)", perf.stdout)
        assert m and int(m.group(1)) == UDP_QUERIES, perf.stdout
        for _ in range(TCP_QUERIES):
            r = client.run("dig", f"@{hl.SERVICE_V4}", "+tcp", "+time=2", "+tries=1", "www.example.", check=False)
            assert "192.0.2.80" in r.stdout, r.stdout

        # Read every 5 s: wait for the reading that follows the load.
        harness.wait_for(lambda: queries(node, "dns", hl.SERVICE_V4, "udp") >= dns_udp0 + UDP_QUERIES
                         and queries(node, "dns", hl.SERVICE_V4, "tcp") >= dns_tcp0 + TCP_QUERIES,
                         timeout=15, what="the dns counters to grow by the queries sent")
        other1 = queries(node, "other", OTHER, "udp")
        assert other1 == other0, (other0, other1)
        udp1 = queries(node, "dns", hl.SERVICE_V4, "udp")
        print(f"after:  dns udp {udp1:.0f} (+{udp1 - dns_udp0:.0f}, {UDP_QUERIES} sent and the checks' own), "
              f"tcp +{queries(node, 'dns', hl.SERVICE_V4, 'tcp') - dns_tcp0:.0f}, other +{other1 - other0:.0f}")
        text = scrape(node)
        lint = harness.run(["promtool", "check", "metrics"], check=False, input=text)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        rates = series(text, "herald_service_queries_per_second")
        assert '{service="dns"}' in rates and '{service="other"}' in rates, rates

        # Someone deletes the table (a firewall reload's `nft flush ruleset`): herald makes it again.
        node.run("nft", "delete", "table", "inet", "herald")
        harness.wait_for(lambda: "counter q_192.0.2.53_32_53_udp" in table(node), timeout=15,
                         what="herald to make its table again")
        assert "query counters table gone" in site.herald.log()

        # A reload without "other": its rule and counter go, and its series with them.
        site.write_config(with_counters(hl.herald_config(lab), site.socket))
        site.ctl("reload")
        harness.wait_for(lambda: "q_192.0.2.54" not in table(node), timeout=10, what="the other service's rule to go")
        assert "counter q_192.0.2.53_32_53_udp" in table(node)
        harness.wait_for(lambda: 'service="other"' not in scrape(node), timeout=10,
                         what="the other service's series to go")

        # A reload that turns counting off deletes the table; one that turns it on makes it again.
        site.write_config(with_counters(hl.herald_config(lab), site.socket).replace(
            "query-counters = true", "query-counters = false"))
        site.ctl("reload")
        harness.wait_for(lambda: table(node) == "", timeout=10, what="the table to go with query-counters = false")
        assert "herald_service_queries_total" not in scrape(node)
        site.write_config(with_counters(hl.herald_config(lab), site.socket))
        site.ctl("reload")
        harness.wait_for(lambda: "counter q_192.0.2.53_32_53_udp" in table(node), timeout=10,
                         what="the table to come back with query-counters = true")

        # herald's exit removes the table.
        assert site.herald.stop(timeout=15) == 0, site.herald.log()
        assert table(node) == "", table(node)
        assert node.run("nft", "list", "tables", check=False).stdout.find("herald") < 0

        # Without CAP_NET_ADMIN (and binding no address): counting is off, said once, herald runs.
        no_bind = with_counters(hl.herald_config(lab)).replace(
            'prefixes = ["192.0.2.53/32", "2001:db8:53::53/128"]\n',
            'prefixes = ["192.0.2.53/32", "2001:db8:53::53/128"]\n[service.address]\nbind = false\n', 1)
        site.write_config(no_bind)
        weak = node.popen(["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin",
                           harness.binary("herald"), "-c", site.config_path], "herald-weak")
        harness.wait_for(lambda: "query counters off" in weak.log() or not weak.alive(), timeout=10,
                         what="herald without CAP_NET_ADMIN to say counting is off")
        harness.wait_for(lambda: series(scrape(node), "herald_query_counters_active") == {"": 0.0}, timeout=10,
                         what="herald_query_counters_active 0")
        assert weak.alive(), weak.log()
        line = [l for l in weak.log().splitlines() if "query counters off" in l][0]
        print("without CAP_NET_ADMIN:", line[:220])
        assert "Operation not permitted" in line, line
        assert table(node) == ""
        assert weak.stop(timeout=15) == 0, weak.log()

        # Two SIGTERMs: herald exits at once, without its shutdown; the table goes all the same.
        # (A drain of 10 s before the withdrawal keeps the first shutdown going.)
        site.write_config(with_counters(hl.herald_config(lab, drain_on_shutdown=True, drain_period="10s"),
                                        site.socket))
        site.start_herald()
        harness.wait_for(lambda: "counter q_192.0.2.53_32_53_udp" in table(node), timeout=10,
                         what="the table of the restarted herald")
        harness.wait_for(lambda: site.status()["status"]["services"][0]["state"] == "Up", timeout=10, what="dns up")
        site.herald.signal(signal.SIGTERM)
        harness.wait_for(lambda: "draining before shutdown" in site.herald.log(), timeout=10,
                         what="herald to drain before its shutdown")
        site.herald.signal(signal.SIGTERM)
        site.herald.popen.wait(timeout=15)
        assert "second signal, exiting at once" in site.herald.log(), site.herald.log()
        assert table(node) == "", table(node)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
