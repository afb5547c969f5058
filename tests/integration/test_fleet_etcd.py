#!/usr/bin/python3
"""The fleet's etcd client and floor (fleet/) against a real 3-member etcd 3.4 cluster in network
namespaces (etcd_lab), driven through herald-fleet from one namespace per site:
- sites publish under leases (SitePublisher); a revoked lease is replaced and the site published
  again; a watch sees the puts; a site whose herald dies (SIGKILL) leaves the
  fleet view by itself when its lease expires, and the watch sees the delete, and its ledger key
  goes with the same lease;
- three sites whose checks fail at the same moment with min-sites 2: exactly one withdraws and two
  hold, decided through etcd txns (one ledger key, floor/dns/<site>, under that site's lease); the
  withdrawn site, healthy again, deletes its key;
- a member killed (the first one every client tries): keep-alives, views and floor decisions go on
  through the others.

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_etcd.py
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_lab  # noqa: E402
import harness  # noqa: E402

FLEET = "lab"
TTL = 2


def main() -> int:
    harness.require_root()
    etcd_lab.require_etcd()
    exe = harness.binary("herald-fleet")
    with harness.Lab("fleet") as lab:
        etcd = etcd_lab.Cluster(lab)
        eps = etcd.endpoints()
        sites = {"a": ("eu",), "b": ("eu",), "c": ("us",)}
        ns = {s: etcd.site(s) for s in sites}

        def fleet(site, *args, check=True):
            r = ns[site].run(exe, "--endpoints", eps, *args, check=False, timeout=30)
            out = r.stdout.strip().splitlines()
            if check:
                assert r.returncode == 0, (args, r.stdout, r.stderr)
            return json.loads(out[-1]) if out else None

        def view():
            return fleet("a", "view", "--fleet", FLEET)

        def announced_sites():
            return sorted(r["site"] for r in view()["sites"] if r["announced"])

        # A watch on the sites, from site c's namespace: it sees the three puts and the delete.
        watch = ns["c"].popen([exe, "--endpoints", eps, "watch", "--prefix", f"/herald/{FLEET}/sites/",
                               "--count", "6", "--timeout-ms", "60000"], "watch")
        etcd_lab.wait_json_line(watch, lambda j: j.get("event") == "created", 10, "the watch to be created")

        pubs = {}
        for s, (region,) in sites.items():
            pubs[s] = ns[s].popen([exe, "--endpoints", eps, "publish", "--fleet", FLEET, "--site", s,
                                   "--region", region, "--service", "dns", "--ttl", str(TTL)], f"publish-{s}")
            etcd_lab.wait_json_line(pubs[s], lambda j: j.get("event") == "published", 10, f"site {s} published")
        assert announced_sites() == ["a", "b", "c"], view()
        v = view()
        assert {(r["site"], r["region"], r["state"]) for r in v["sites"]} == {("a", "eu", "up"), ("b", "eu", "up"), ("c", "us", "up")}, v
        print("ok: three sites publish under leases and the view shows them")

        # An operator revokes site a's lease: its key goes with it, and the publisher sees the
        # lease lost at its next keep-alive and publishes again under a new lease.
        first = etcd_lab.wait_json_line(pubs["a"], lambda j: j.get("event") == "published", 5, "a's lease")
        etcd.ctl(ns["a"], "lease", "revoke", format(first["lease"], "x"), user=None)
        etcd_lab.wait_json_line(pubs["a"], lambda j: j.get("event") == "lease" and "lost" in j["text"], TTL + 10,
                                "a's publisher to see its lease lost")
        again = etcd_lab.wait_json_line(pubs["a"], lambda j: j.get("event") == "published" and j["lease"] != first["lease"],
                                        10, "a published under a new lease")
        assert announced_sites() == ["a", "b", "c"], view()
        print(f"ok: a revoked lease is replaced ({first['lease']:x} -> {again['lease']:x}) and the site published again")
        # Each site's current lease: its ledger keys go under it, as herald's do.
        lease = {"a": again["lease"]}
        for s in ("b", "c"):
            lease[s] = etcd_lab.wait_json_line(pubs[s], lambda j: j.get("event") == "published", 5, f"{s}'s lease")["lease"]

        # Site b's publisher keeps its connection to etcd across its keep-alives (one every
        # TTL/3): over three TTLs its namespace never holds more than two sockets to a member, in
        # any state. A connection per call would leave one in TIME-WAIT per keep-alive (60 s).
        deadline, most, polls = time.monotonic() + 3 * TTL, 0, 0
        while time.monotonic() < deadline and polls < 200:
            polls += 1
            socks = ns["b"].run("ss", "-Htan", "dport = :2379").stdout.split("\n")
            most = max(most, len([line for line in socks if line.strip()]))
            assert most <= 2, ns["b"].run("ss", "-tan", "dport = :2379").stdout
            time.sleep(0.1)
        events = [json.loads(line).get("event") for line in pubs["b"].log().splitlines() if line.startswith("{")]
        assert "lease" not in events and "keep-alive" not in events, pubs["b"].log()  # its keep-alives all went through
        print(f"ok: site b's publisher kept its keep-alives on one connection for {3 * TTL} s (at most {most} sockets)")

        # The leases outlive several TTLs while their keep-alives flow.
        # Three failing checks at the same instant, min-sites 2.
        def floor_round(fail: bool, start_ms: int, who=("a", "b", "c"), min_sites="2"):
            return etcd_lab.floor_decisions(exe, eps, ns, FLEET, lease, who, fail, min_sites, start_ms, timeout=30)

        def ledger_kvs():
            return fleet("a", "list", "--prefix", f"/herald/{FLEET}/floor/dns/")["kvs"]

        def ledger():
            """The sites with a ledger key of dns, sorted."""
            return sorted(kv["key"].rsplit("/", 1)[1] for kv in ledger_kvs())

        out = floor_round(True, etcd_lab.now_ms() + 1500)
        verdicts = sorted(o["verdict"] for o in out.values())
        assert verdicts == ["hold", "hold", "withdraw"], out
        withdrawn = [s for s, o in out.items() if o["verdict"] == "withdraw"]
        assert ledger() == withdrawn, (ledger(), out)
        kv = ledger_kvs()[0]
        assert kv["value"] == "withdrawn" and kv["lease"] == lease[withdrawn[0]], kv
        for s, o in out.items():
            if o["verdict"] == "hold":
                assert o["reason"].startswith("held by fleet floor"), o
        print(f"ok: three sites failing at once with min-sites 2: {withdrawn[0]} withdrew, two held "
              f"(attempts {[o['attempts'] for o in out.values()]})")

        # Deciding again while still failing changes nothing: the floor stays at two.
        again = floor_round(True, etcd_lab.now_ms() + 500)
        assert sorted(o["verdict"] for o in again.values()) == ["hold", "hold", "withdraw"], again
        assert ledger() == withdrawn, ledger()

        # The withdrawn site is healthy again: it deletes its ledger key.
        back = floor_round(False, 0, who=(withdrawn[0],))
        assert back[withdrawn[0]]["verdict"] == "announce", back
        assert ledger() == [], ledger()
        print("ok: the recovered site deleted its ledger key")

        # A floor decision under a lease etcd no longer knows (a's first one, revoked above):
        # recorded without the lease rather than not at all; deleted again on recovery.
        lease["a"], live_a = first["lease"], lease["a"]
        out = floor_round(True, 0, who=("a",), min_sites="0")
        assert out["a"]["verdict"] == "withdraw", out
        assert [(kv["key"], kv["lease"]) for kv in ledger_kvs()] == [(f"/herald/{FLEET}/floor/dns/a", 0)], ledger_kvs()
        lease["a"] = live_a
        floor_round(False, 0, who=("a",))
        assert ledger() == [], ledger()
        print("ok: a ledger key whose lease is gone is written without one")

        # One member killed: the first one every client tries. Everything goes on.
        etcd.stop("e1")
        harness.wait_for(lambda: announced_sites() == ["a", "b", "c"], timeout=10, what="the view without e1")
        out = floor_round(True, etcd_lab.now_ms() + 1500)
        assert sorted(o["verdict"] for o in out.values()) == ["hold", "hold", "withdraw"], out
        # Keep-alives continue through e2/e3: after 3 TTLs every site is still in the view.
        mark = harness.time.monotonic()
        harness.wait_for(lambda: harness.time.monotonic() - mark > 3 * TTL, timeout=3 * TTL + 2, what="3 TTLs")
        assert announced_sites() == ["a", "b", "c"], view()
        for s in sites:
            assert pubs[s].alive(), pubs[s].log()
        print("ok: one member killed: views, keep-alives and floor decisions go on")

        # Site c withdraws (a floor of 0: nothing to compare), if it had not already: its ledger
        # key is under its lease.
        floor_round(True, 0, who=("c",), min_sites="0")
        assert "c" in ledger(), ledger()
        # Site c's herald dies: its key leaves the view when its lease expires; the watch sees it;
        # its ledger key goes with the same lease.
        pubs["c"].kill()
        harness.wait_for(lambda: announced_sites() == ["a", "b"], timeout=TTL + 10,
                         what="site c's key to expire with its lease")
        assert "c" not in ledger(), ledger()
        etcd_lab.wait_json_line(watch, lambda j: j.get("event") == "delete" and j["key"].endswith("/sites/c"),
                                10, "the watch to see c's key deleted")
        watch.popen.wait(timeout=10)
        assert watch.popen.returncode == 0, watch.log()
        assert "watch-broken" in watch.log(), watch.log()  # it was on e1, and resumed elsewhere
        puts = [l for l in watch.log().splitlines() if '"event":"put"' in l]
        # three first puts, a's again after its lease was revoked; resumed at the next revision:
        # nothing twice
        assert len(puts) == 4, watch.log()
        print("ok: a dead site's key expired with its lease; the watch saw the delete")

        # A polite stop revokes the lease at once.
        pubs["b"].signal(signal.SIGTERM)
        pubs["b"].popen.wait(timeout=10)
        assert announced_sites() == ["a"], view()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
