#!/usr/bin/python3
"""herald's [fleet] against a real 3-member etcd 3.4 cluster (etcd_lab) and BIRD: three sites
(a and b in region eu, c in us), each a namespace with unbound and herald announcing the same
anycast prefix to one BIRD router, which sees one path per site.
- publish: every herald publishes its site under a lease; a clean stop revokes it;
- (a) the floor: every site's check fails at once (a zone change on every unbound) with
  min-sites 2: exactly two sites stay announced (held, with the guard policy's prepends), one
  withdraws, its floor ledger key under its publisher's lease; a held site whose unbound is killed (process check) withdraws all the same, and so
  does the last held one when the operator drains it; all three come back when the zone is fixed,
  and each deletes its ledger key;
- (b) a region drain written with etcdctl drains exactly eu's sites; it survives a restart of
  site a's herald while a cannot reach etcd (the state file keeps it), and the key's delete
  brings them back;
- (c) etcd unreachable from site c: c decides alone (withdraws where the floor would hold it),
  logs it once; once its lease expires `heraldctl fleet status` lists it as unknown (its member
  record, with when it was last seen), and when etcd is back the floor holds it again and the
  view shows it live;
- one etcd member killed, the leader: the floor still decides through the others, no round
  decides alone during the election (the member is then
  started again, so the last steps do not hang on a two-member quorum);
- a clean stop: the site is unknown at once; `heraldctl fleet forget` refuses a live site and
  forgets the stopped one.

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_daemon.py
"""
import base64
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_lab  # noqa: E402
import harness  # noqa: E402

FLEET = "lab"
PREFIX = "198.51.100.53/32"
SERVICE = "198.51.100.53"
ROUTER_AS, SITE_AS = 65000, 65053
SITES = {"a": "eu", "b": "eu", "c": "us"}
GOOD, BAD = "www.example. A 192.0.2.80", "www.example. A 192.0.2.81"


def addr(i: int, end: int) -> str:
    """Site i's /30 to the router: .1 the router's end, .2 the site's."""
    return f"203.0.113.{4 * i + end}"


def herald_config(lab, s: str, i: int, eps: list[str]) -> str:
    d = lab.path(s)
    return f"""
[global]
local-as = {SITE_AS}
router-id = "{addr(i, 2)}"
listen = false
control-socket = "{d}/herald.sock"
state-dir = "{d}/state"
user = ""
shutdown-timeout = "5s"
log-format = "json"
metrics = "127.0.0.1:9179"

[[peer]]
name = "router"
address = "{addr(i, 1)}"
remote-as = {ROUTER_AS}
local-address = "{addr(i, 2)}"
hold-time = "9s"
connect-retry = "1s"
families = ["ipv4-unicast"]

[[service]]
name = "dns"
prefixes = ["{PREFIX}"]

[service.health]
interval = "200ms"
fast-interval = "200ms"
timeout = "150ms"
rise = 2
fall = 2
splay = false

[[service.check]]
type = "dns"
qname = "www.example."
qtype = "A"
expect = ["192.0.2.80"]

[[service.check]]
type = "process"
pidfile = "{d}/unbound.pid"

[service.policy.drained]
drain-period = "1s"

[service.fleet]
min-sites = 2

[fleet]
name = "{FLEET}"
site = "{s}"
region = "{SITES[s]}"
endpoints = [{", ".join(f'"{e}"' for e in eps)}]
lease-ttl = "3s"
"""


def main() -> int:
    harness.require_root()
    etcd_lab.require_etcd()
    with harness.Lab("fleetd") as lab:
        etcd = etcd_lab.Cluster(lab)
        eps = etcd.endpoints().split(",")
        router = lab.netns("rt")
        ns, dns, herald, socks = {}, {}, {}, {}
        protocols = ""
        for i, s in enumerate(SITES):
            ns[s] = etcd.site(s)
            lab.link(router, f"{addr(i, 1)}/30", ns[s], f"{addr(i, 2)}/30", name_a=f"to{s}", name_b="up0")
            protocols += harness.bird_bgp(f"site_{s}", addr(i, 1), ROUTER_AS, addr(i, 2), SITE_AS,
                                          families=("ipv4",))
            os.makedirs(lab.path(f"{s}/state"), exist_ok=True)
            socks[s] = lab.path(f"{s}/herald.sock")
            lab.write(f"{s}/herald.toml", herald_config(lab, s, i, eps))
        bird = lab.bird(router, harness.bird_config(addr(0, 1), protocols))
        def start_dns(s, rr=GOOD):
            dns[s] = lab.unbound(ns[s], SERVICE, [rr], extra="    ip-freebind: yes\n",
                                 name=f"unbound-{s}-{len(lab.procs)}")
            with open(lab.path(f"{s}/unbound.pid"), "w") as f:  # for the process check
                f.write(f"{dns[s].proc.popen.pid}\n")

        for s in SITES:
            start_dns(s)

        def start(s):
            if os.path.exists(socks[s]):
                os.unlink(socks[s])
            herald[s] = ns[s].popen([harness.binary("herald"), "-c", lab.path(f"{s}/herald.toml")],
                                    f"herald-{s}-{len(lab.procs)}")
            harness.wait_for(lambda: os.path.exists(socks[s]) or not herald[s].alive(), timeout=10,
                             what=f"herald {s}'s control socket")
            assert herald[s].alive(), herald[s].log()

        def status(s):
            r = harness.run([harness.binary("heraldctl"), "--socket", socks[s], "status", "--json"], timeout=10)
            j = json.loads(r.stdout)
            svc = j["status"]["services"]
            return next(x for x in svc if x["name"] == "dns")

        def paths():
            """BIRD's paths for the prefix: site -> AS_PATH text."""
            out = bird.ctl(f"show route for {PREFIX} all", check=False).stdout
            found, current = {}, None
            for line in out.splitlines():
                m = re.search(r"\[site_(\w+) ", line)
                if m:
                    current = m.group(1)
                    found[current] = ""
                m = re.search(r"BGP\.as_path: (.*)", line)
                if m and current:
                    found[current] = m.group(1).strip()
            return found

        def published():
            r = etcd.ctl(ns["a"], "get", "--prefix", f"/herald/{FLEET}/sites/", "--print-value-only", user=None)
            out = {}
            for line in r.stdout.splitlines():
                if line.strip():
                    j = json.loads(line)
                    out[j["site"]] = j["services"][0]
            return out

        def get_json(*args):
            r = etcd.ctl(ns["a"], "get", *args, "-w", "json", user=None)
            return [{"key": base64.b64decode(kv["key"]).decode(), "lease": kv.get("lease", 0)}
                    for kv in json.loads(r.stdout).get("kvs", [])]

        def ledger():
            """site -> its floor ledger key of dns (key, lease)."""
            return {kv["key"].rsplit("/", 1)[1]: kv for kv in get_json("--prefix", f"/herald/{FLEET}/floor/dns/")}

        def lease_of(site):
            kvs = get_json(f"/herald/{FLEET}/sites/{site}")
            return kvs[0]["lease"] if kvs else None

        def set_zone(sites, rr):
            for s in sites:
                u = dns[s]
                with open(u.conf) as f:
                    text = f.read()
                with open(u.conf, "w") as f:
                    f.write(re.sub(r'local-data: "www\.example\. A [0-9.]+"', f'local-data: "{rr}"', text))
                u.proc.signal(signal.SIGHUP)  # unbound reloads its configuration

        def metric(s, name):
            """The value of `name`{service="dns"} on site s's /metrics (its namespace's loopback)."""
            text = ns[s].run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout
            m = re.search(rf'^{name}{{service="dns"}} (\S+)$', text, re.M)
            return float(m.group(1)) if m else None

        def log_msgs(s, msg):
            """herald s's JSON log lines whose message is `msg`."""
            out = []
            for line in herald[s].log().splitlines():
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("msg") == msg:
                    out.append(j)
            return out

        def fleet_rows(*extra):
            """`heraldctl fleet status dns --json` from site a's namespace: site -> its row."""
            r = ns["a"].run(harness.binary("heraldctl"), "fleet", "-c", "", "--endpoints", ",".join(eps),
                            "--fleet", FLEET, "status", "dns", "--json", *extra, timeout=15)
            return {row["site"]: row for row in json.loads(r.stdout)["sites"]}

        def etcd_link(s, up):
            ns[s].run("ip", "link", "set", "eth0", "up" if up else "down")

        def stable(pred, seconds, what):
            """pred holds at every poll for `seconds` (the floor is asked again every lease-ttl)."""
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                assert pred(), f"{what}: {paths()}"
                time.sleep(0.2)

        plain = str(SITE_AS)
        held = " ".join([str(SITE_AS)] * 4)  # [service.fleet.held]: 3 extra prepends by default

        for s in SITES:
            start(s)
        harness.wait_for(lambda: paths() == {s: plain for s in SITES}, timeout=30, what="three plain paths")

        # --- publish: every site under a lease, up and announced
        harness.wait_for(lambda: {s: (v["state"], v["announced"]) for s, v in published().items()}
                         == {s: ("up", True) for s in SITES}, timeout=10, what="three sites published up")
        print("publish: three sites published up and announced")

        # --- (a) every check fails at once: exactly min-sites (2) stay announced, held
        set_zone(SITES, BAD)
        harness.wait_for(lambda: len(paths()) == 2 and all(p == held for p in paths().values()), timeout=20,
                         what="two held paths")
        stable(lambda: len(paths()) == 2 and all(p == held for p in paths().values()), 8, "floor of two")
        withdrawn = [s for s in SITES if s not in paths()]
        assert len(withdrawn) == 1, paths()
        # Its floor ledger key, under the lease of its published state (a dead site's goes with it).
        led = ledger()
        assert sorted(led) == withdrawn and led[withdrawn[0]]["lease"] == lease_of(withdrawn[0]) != 0, led
        for s in SITES:
            st = status(s)
            if s in withdrawn:
                assert not st["announced"] and st["floor"] == "withdrawn", st
            else:
                assert st["announced"] and st["floor"] == "held", st
                assert st["reason"].startswith("held by fleet floor"), st
                assert log_msgs(s, "held by fleet floor"), herald[s].log()
                assert metric(s, "herald_fleet_floor_held") == 1 and metric(s, "herald_fleet_floor_holds_total") == 1
        assert metric(withdrawn[0], "herald_fleet_floor_held") == 0
        pub = published()
        assert sorted(s for s, v in pub.items() if v["state"] == "held") == sorted(set(SITES) - set(withdrawn)), pub
        # The floor never holds a site whose DNS process is gone: it withdraws, floor or not.
        gone, kept = sorted(set(SITES) - set(withdrawn))
        dns[gone].proc.kill()
        harness.wait_for(lambda: paths() == {kept: held}, timeout=10, what=f"site {gone} withdrawn, process gone")
        assert not status(gone)["announced"] and status(gone)["floor"] == "none", status(gone)
        # Nor does it override an operator's drain: the last held site drains away too.
        ctl = [harness.binary("heraldctl"), "--socket", socks[kept]]
        harness.run(ctl + ["drain", "dns", "--reason", "operator knows best"])
        harness.wait_for(lambda: paths() == {}, timeout=10, what=f"site {kept} drained and withdrawn")
        st = status(kept)  # Down (its checks fail) and drained: withdrawn, the floor out of it
        assert st["floor"] == "none" and st["drain_holders"] == ["operator"] and not st["announced"], st
        harness.run(ctl + ["undrain", "dns"])
        harness.wait_for(lambda: paths() == {kept: held}, timeout=10, what=f"site {kept} held again after the undrain")
        start_dns(gone, GOOD)
        dns[gone].wait_ready()  # a SIGHUP before unbound has its handlers would kill it
        set_zone([s for s in SITES if s != gone], GOOD)
        harness.wait_for(lambda: paths() == {s: plain for s in SITES}, timeout=20, what="all three back, plain")
        harness.wait_for(lambda: ledger() == {}, timeout=10, what="every ledger key deleted by its recovered site")
        print(f"floor: {withdrawn} withdrew, the other two held; {gone} withdrew once its unbound died, {kept} when drained; all back")

        # --- (b) a region drain reaches exactly eu's sites and survives a restart cut off from etcd
        key = f"/herald/{FLEET}/desired/dns/region/eu"
        value = json.dumps({"reason": "eu maintenance", "by": "test", "since": int(time.time())})
        etcd.ctl(ns["c"], "put", key, value, user=None)
        harness.wait_for(lambda: set(paths()) == {"c"}, timeout=15, what="only site c announced")
        for s in ("a", "b"):
            st = status(s)
            assert st["state"] == "Drained" and st["drain_holders"] == ["fleet"], st
            assert st["drain"]["fleet"] is True and "eu maintenance" in st["drain"]["reason"], st
        harness.wait_for(lambda: {s: v["state"] for s, v in published().items()}
                         == {"a": "fleet-drained", "b": "fleet-drained", "c": "up"}, timeout=10,
                         what="the drain acknowledged in the published state")
        # The operator's undrain leaves the fleet's drain alone.
        harness.run([harness.binary("heraldctl"), "--socket", socks["a"], "undrain", "dns"], check=False)
        etcd_link("a", False)
        assert herald["a"].stop() == 0
        start("a")
        harness.wait_for(lambda: bird.established("site_a"), timeout=20, what="site a's session back")
        stable(lambda: set(paths()) == {"c"}, 4, "site a stays drained after a restart without etcd")
        assert status("a")["drain_holders"] == ["fleet"], status("a")
        etcd_link("a", True)
        etcd.ctl(ns["c"], "del", key, user=None)
        harness.wait_for(lambda: paths() == {s: plain for s in SITES}, timeout=20, what="eu back after the undrain")
        print("region drain: exactly eu drained, kept across a restart cut off from etcd, undrained")

        # --- (c) etcd unreachable from c: c decides alone, then rejoins
        set_zone(["a"], BAD)
        harness.wait_for(lambda: set(paths()) == {"b", "c"}, timeout=15, what="site a withdrawn (floor allows)")
        # Counted from here: on a loaded machine an earlier etcd leader election may already have
        # failed one of c's rounds (a transition of its own, logged as such).
        unreachable = len(log_msgs("c", "fleet unreachable"))
        reachable = len(log_msgs("c", "fleet reachable again"))
        etcd_link("c", False)
        set_zone(["c"], BAD)
        harness.wait_for(lambda: set(paths()) == {"b"}, timeout=20, what="site c withdrawn, decided locally")
        assert "decided locally" in status("c")["reason"] and status("c")["floor"] == "local", status("c")
        assert len(log_msgs("c", "fleet unreachable")) == unreachable + 1, herald["c"].log()
        # Its lease expires (lease-ttl 3 s): the fleet view lists it as unknown, not nothing.
        harness.wait_for(lambda: fleet_rows().get("c", {}).get("state") == "unknown", timeout=15,
                         what="site c unknown in fleet status")
        row = fleet_rows()["c"]
        assert row["announced"] is None and row["region"] == "us" and 0 < row["last_seen"] <= time.time(), row
        assert {s: r["state"] for s, r in fleet_rows().items()}["b"] == "up"
        etcd_link("c", True)
        # Back in the fleet: only b announces besides it, so the floor holds c again.
        harness.wait_for(lambda: paths() == {"b": plain, "c": held}, timeout=20, what="site c held after rejoining")
        assert len(log_msgs("c", "fleet reachable again")) == reachable + 1, herald["c"].log()
        assert len(log_msgs("c", "fleet unreachable")) == unreachable + 1, herald["c"].log()  # once per transition
        harness.wait_for(lambda: fleet_rows().get("c", {}).get("state") == "held", timeout=10,
                         what="site c live again in fleet status")
        set_zone(["a", "c"], GOOD)
        harness.wait_for(lambda: paths() == {s: plain for s in SITES}, timeout=20, what="all back after c rejoined")
        print("unreachable: c withdrew alone while cut off (unknown in the fleet view), held again once back")

        # --- one etcd member killed, the leader: the floor still decides (a withdraws, b and c
        # announce). A round during the election waits for the new leader (the members that are
        # left answer "leader changed" / "no leader") instead of deciding alone.
        killed = etcd.leader()
        not_asked = {s: len(log_msgs(s, "fleet floor not asked")) for s in SITES}
        etcd.stop(killed)
        set_zone(["a"], BAD)
        harness.wait_for(lambda: paths() == {"b": plain, "c": plain}, timeout=20, what="a withdrawn via the others")
        assert "decided locally" not in status("a")["reason"], status("a")
        for s in SITES:
            assert len(log_msgs(s, "fleet floor not asked")) == not_asked[s], herald[s].log()
        set_zone(["a"], GOOD)
        harness.wait_for(lambda: paths() == {s: plain for s in SITES}, timeout=20, what="a back")
        print("member killed: floor decisions go on")
        # The member comes back before the next steps: two members alone need both for every
        # write, and on a loaded machine one late heartbeat costs them their leader.
        etcd.start(killed)
        etcd.wait_healthy()

        # --- a clean stop revokes the lease: the site leaves the view at once
        t_stop = time.time() - 1
        assert herald["b"].stop() == 0
        # herald exits after etcd answered the revoke (or after 3 s without an answer, when the
        # lease would expire by itself): a read now must not see b, with no wait for the lease-ttl.
        assert any("revoked lease" in j.get("reason", "") for j in log_msgs("b", "fleet publisher")), herald["b"].log()
        assert "b" not in published(), published()
        print("publish: a clean stop revoked the lease")

        # --- the stopped site is unknown at once; forget refuses a live site, forgets a stopped one
        row = fleet_rows()["b"]
        assert row["state"] == "unknown" and row["last_seen"] >= int(t_stop), (row, t_stop)
        forget = [harness.binary("heraldctl"), "fleet", "-c", "", "--endpoints", ",".join(eps), "--fleet", FLEET,
                  "forget"]
        r = ns["a"].run(*forget, "--site", "c", check=False, timeout=15)
        assert r.returncode == 1 and "is live" in r.stderr, (r.returncode, r.stderr)
        r = ns["a"].run(*forget, "--site", "b", "--json", check=False, timeout=15)
        assert r.returncode == 0 and json.loads(r.stdout)["ok"], (r.stdout, r.stderr)
        assert "b" not in fleet_rows() and set(fleet_rows()) == {"a", "c"}, fleet_rows()
        r = ns["a"].run(*forget, "--site", "b", check=False, timeout=15)
        assert r.returncode == 1 and "no member record" in r.stderr, r.stderr
        print("members: a stopped site is unknown, forget refused for a live site, b forgotten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
