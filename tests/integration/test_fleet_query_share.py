#!/usr/bin/python3
"""Where the queries land (issue #19 item 5): two sites of a fleet (etcd_lab, one etcd member),
each with unbound and herald on the same anycast address, receive different query rates
(dnsperf at 150 and 50 queries per second); each herald counts them in its nftables table
(`query-counters` is on by default with [fleet]) and publishes its qps, and
`heraldctl fleet status --json` shows each site's share of the service's load: about 3/4 and
1/4 (each herald's own DNS check adds one query per second).

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_query_share.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_lab  # noqa: E402
import harness  # noqa: E402

FLEET = "lab"
SERVICE = "198.51.100.53"
RATES = {"a": 150, "b": 50}


def herald_config(lab, s: str, eps: str) -> str:
    d = lab.path(s)
    # The peer never answers (no route to it): announcing is not what this test is about.
    return f"""
[global]
local-as = 65053
router-id = "203.0.113.2"
listen = false
control-socket = "{d}/herald.sock"
state-dir = "{d}/state"
user = ""
shutdown-timeout = "5s"

[[peer]]
name = "router"
address = "203.0.113.1"
remote-as = 65000
families = ["ipv4-unicast"]

[[service]]
name = "dns"
prefixes = ["{SERVICE}/32"]

[service.health]
interval = "1s"
splay = false

[[service.check]]
type = "dns"
qname = "www.example."
qtype = "A"
expect = ["192.0.2.80"]

[fleet]
name = "{FLEET}"
site = "{s}"
endpoints = ["{eps}"]
lease-ttl = "2s"
"""


def main() -> int:
    harness.require_root()
    etcd_lab.require_etcd()
    with harness.Lab("fleetqps") as lab:
        etcd = etcd_lab.Cluster(lab, members=1)
        eps = etcd.endpoints()
        ns, herald = {}, {}
        qfile = lab.write("queries.txt", "www.example. A\n")
        for s in RATES:
            ns[s] = etcd.site(s)
            os.makedirs(lab.path(f"{s}/state"), exist_ok=True)
            lab.write(f"{s}/herald.toml", herald_config(lab, s, eps))
            herald[s] = ns[s].popen([harness.binary("herald"), "-c", lab.path(f"{s}/herald.toml")], f"herald-{s}")
            lab.unbound(ns[s], SERVICE, ["www.example. A 192.0.2.80"], extra="    ip-freebind: yes\n",
                        name=f"unbound-{s}").wait_ready()
            harness.wait_for(lambda: "query counters on" in herald[s].log() or not herald[s].alive(), timeout=10,
                             what=f"herald {s} to count queries")
            assert herald[s].alive(), herald[s].log()
        for s, rate in RATES.items():
            # Bounded: at most 120 s of load; the lab stops it by pid if the test ends first.
            ns[s].popen(["dnsperf", "-s", SERVICE, "-d", qfile, "-Q", str(rate), "-c", "1", "-T", "1",
                         "-l", "120"], f"dnsperf-{s}")

        def shares():
            r = ns["a"].run(harness.binary("heraldctl"), "fleet", "-c", "", "--fleet", FLEET, "--endpoints", eps,
                            "status", "--json", "dns", check=False, timeout=20)
            if r.returncode != 0:
                return None
            rows = {row["site"]: row for row in json.loads(r.stdout)["sites"]}
            return rows if set(rows) == set(RATES) else None

        def expected_split():
            rows = shares()
            if not rows or any(rows[s]["load_share"] is None for s in RATES):
                return False
            a, b = rows["a"], rows["b"]
            print(f"  a {a['qps']} qps ({a['load_share']:.2f}), b {b['qps']} qps ({b['load_share']:.2f})")
            # 151 and 51 queries per second when both dnsperf keep their rate: 0.75 and 0.25.
            return 0.65 <= a["load_share"] <= 0.85 and abs(a["load_share"] + b["load_share"] - 1) < 0.01 \
                and a["qps"] > 2 * b["qps"]

        harness.wait_for(expected_split, timeout=90, interval=2, what="the sites' shares of the load, 3/4 and 1/4")
        text = ns["a"].run(harness.binary("heraldctl"), "fleet", "-c", "", "--fleet", FLEET, "--endpoints", eps,
                           "status", "dns").stdout
        print(text)
        assert "LOAD" in text and "%" in text, text
        for s in RATES:
            assert herald[s].alive(), herald[s].log()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
