#!/usr/bin/python3
"""heraldctl fleet against a real 3-member etcd 3.4 cluster in network namespaces (etcd_lab):
- status: three sites published under leases by herald-fleet (the SitePublisher herald uses) and
  two written with etcdctl that publish query rates; the table and the JSON show every site and
  service, the load shares of the two that publish a rate and "-" for the others, the fleet
  drains, and a malformed key as a problem;
- drain: writes exactly one key, the desired key, and nothing else (etcd's revision moves by one);
  a drain that would leave fewer sites announcing than the service's min-sites (read from the
  herald.toml given with -c) is refused with exit 3 and writes nothing; --force writes it;
- undrain deletes the key; an undrain of a drain that does not exist says so (exit 1);
- etcd unreachable: the error names each member and why (refused, timed out), exit 2;
- with etcd authentication, the site's own credentials from [fleet] are refused (permission
  denied, naming the member) and an operator's --user is accepted;
- a site with a floor ledger key (floor/dns/<site>) does not count for a drain's floor;
- forget, as the operator role of docs/fleet.md, deletes a stopped site's member record and its
  ledger keys of every service, and no other site's.

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_etcd_ctl.py
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


def main() -> int:
    harness.require_root()
    etcd_lab.require_etcd()
    fleet_exe = harness.binary("herald-fleet")
    ctl_exe = harness.binary("heraldctl")
    with harness.Lab("fctl") as lab:
        etcd = etcd_lab.Cluster(lab)
        eps = etcd.endpoints()
        ns = {s: etcd.site(s) for s in ("a", "b", "c")}
        floor, in_eu = "[service.fleet]\nmin-sites = 2\n", 'region = "eu"\n'
        config = etcd.ctl_config("herald.toml", service=floor, fleet=in_eu)

        def ctl(*args, config_path=config, check_rc=None):
            r = ns["a"].run(ctl_exe, "fleet", "-c", config_path, *args, check=False, timeout=30)
            if check_rc is not None:
                assert r.returncode == check_rc, (args, r.returncode, r.stdout, r.stderr)
            return r

        def keys_under_fleet():
            r = etcd.ctl(ns["a"], "get", "--prefix", f"/herald/{FLEET}/", "-w", "json", user=None)
            j = json.loads(r.stdout)
            kvs = {base64.b64decode(kv["key"]).decode(): (int(kv.get("mod_revision", 0)), base64.b64decode(kv["value"]).decode())
                   for kv in j.get("kvs", [])}
            return int(j["header"]["revision"]), kvs

        # Three sites publish dns under leases (a, b in eu; c in us).
        pubs = {}
        for s, region in (("a", "eu"), ("b", "eu"), ("c", "us")):
            pubs[s] = ns[s].popen([fleet_exe, "--endpoints", eps, "publish", "--fleet", FLEET, "--site", s,
                                   "--region", region, "--service", "dns", "--ttl", "10"], f"publish-{s}")
            etcd_lab.wait_json_line(pubs[s], lambda j: j.get("event") == "published", 10, f"site {s} published")
        # Two sites of another service publish their query rates (item 5's counter), and one key
        # is malformed.
        for s, qps in (("d", 300), ("e", 100)):
            state = {"site": s, "region": "ap", "version": "0.1.0",
                     "services": [{"name": "dot", "state": "up", "announced": True, "reason": "check ok",
                                   "since": int(time.time()) - 90, "qps": qps}]}
            etcd.ctl(ns["a"], "put", f"/herald/{FLEET}/sites/{s}", json.dumps(state), user=None)
        etcd.ctl(ns["a"], "put", f"/herald/{FLEET}/sites/zz", "{not json", user=None)

        r = ctl("status", check_rc=0)
        lines = r.stdout.splitlines()
        assert lines[0].startswith(f"fleet {FLEET} at etcd revision ") and lines[0].endswith(": 5 sites publishing"), r.stdout
        assert lines[1].split() == ["SERVICE", "SITE", "REGION", "STATE", "ANNOUNCED", "SINCE", "LOAD", "VERSION", "REASON"], r.stdout
        rows = {(l.split()[0], l.split()[1]): l.split() for l in lines[2:7]}
        assert sorted(rows) == [("dns", "a"), ("dns", "b"), ("dns", "c"), ("dot", "d"), ("dot", "e")], r.stdout
        # c: since 0 is "-", no qps published: load "-", version "test"
        assert rows[("dns", "c")][2:8] == ["us", "up", "yes", "-", "-", "test"], r.stdout
        assert rows[("dot", "d")][7] == "75.0%" and rows[("dot", "e")][7] == "25.0%", r.stdout
        age = re.fullmatch(r"\((\d+)s\)", rows[("dot", "d")][6])  # published 90 s before, and how long ago
        assert age and 90 <= int(age.group(1)) < 120, r.stdout
        assert "fleet drains: none" in r.stdout, r.stdout
        assert f"problem: /herald/{FLEET}/sites/zz: malformed site state" in r.stdout, r.stdout

        j = json.loads(ctl("status", "dns", "--json", check_rc=0).stdout)
        assert j["fleet"] == FLEET and j["drains"] == [], j
        assert [(x["site"], x["region"], x["state"], x["announced"], x["load_share"]) for x in j["sites"]] == [
            ("a", "eu", "up", True, None), ("b", "eu", "up", True, None), ("c", "us", "up", True, None)], j
        j = json.loads(ctl("status", "dot", "--json", check_rc=0).stdout)
        assert [(x["site"], x["qps"], x["load_share"]) for x in j["sites"]] == [("d", 300, 0.75), ("e", 100, 0.25)], j
        print("ok: fleet status shows every site and service, load shares, problems (text and JSON)")

        # A drain of site c leaves a and b: the floor (min-sites 2 in herald.toml) holds.
        rev0, before = keys_under_fleet()
        r = ctl("drain", "--site", "c", "dns", "--reason", "kernel upgrade", "--json", check_rc=0)
        out = json.loads(r.stdout)
        key_c = f"/herald/{FLEET}/desired/dns/site/c"
        assert out["ok"] and out["key"] == key_c and out["affected"] == ["c"] and out["remaining"] == ["a", "b"], out
        assert out["floor"] == 2 and out["floor_from"] == config and not out["forced"], out
        rev1, after = keys_under_fleet()
        assert rev1 == rev0 + 1, (rev0, rev1)
        assert set(after) - set(before) == {key_c}, (before.keys(), after.keys())
        assert all(after[k] == before[k] for k in before), "the drain changed another key"
        value = json.loads(after[key_c][1])
        assert value["reason"] == "kernel upgrade" and value["drain"] is True and "@" in value["by"], value
        lease = etcd.ctl(ns["a"], "get", key_c, "-w", "json", user=None)
        assert "lease" not in json.loads(lease.stdout)["kvs"][0], lease.stdout  # outlives every herald
        print("ok: fleet drain --site c wrote exactly its desired key, without a lease")

        # Region eu next: with c drained, nothing would announce dns: refused, nothing written.
        r = ctl("drain", "--region", "eu", "dns", "--reason", "eu maintenance", check_rc=3)
        assert "refused: a drain of dns at region eu would leave 0 of 3 sites announcing dns, floor 2 (min-sites 2)" in r.stderr, r.stderr
        assert "--force" in r.stderr, r.stderr
        rev2, now = keys_under_fleet()
        assert rev2 == rev1 and now == after, "a refused drain wrote something"
        # --min-sites overrides the configuration; 0 would allow it, 1 not.
        ctl("drain", "--region", "eu", "dns", "--reason", "x", "--min-sites", "1", check_rc=3)
        r = ctl("drain", "--region", "eu", "dns", "--reason", "eu maintenance", "--force", check_rc=0)
        assert "FORCED: a drain of dns at region eu would leave 0 of 3" in r.stdout, r.stdout
        rev3, now = keys_under_fleet()
        key_eu = f"/herald/{FLEET}/desired/dns/region/eu"
        assert rev3 == rev2 + 1 and set(now) - set(after) == {key_eu}, now.keys()
        r = ctl("status", "dns", check_rc=0)
        assert any(l.split()[:3] == ["dns", "region", "eu"] and l.endswith("eu maintenance") for l in r.stdout.splitlines()), r.stdout
        assert any(l.split()[:3] == ["dns", "site", "c"] and l.endswith("kernel upgrade") for l in r.stdout.splitlines()), r.stdout
        print("ok: a drain under the floor is refused (exit 3, nothing written) and written with --force")

        # Undrain removes exactly that key; twice says there is nothing to undrain.
        r = ctl("undrain", "--region", "eu", "dns", check_rc=0)
        assert f"removed ({key_eu}" in r.stdout, r.stdout
        _, now = keys_under_fleet()
        assert key_eu not in now and key_c in now, now.keys()
        r = ctl("undrain", "--region", "eu", "dns", check_rc=1)
        assert f"no fleet drain of dns at region eu ({key_eu} does not exist); fleet drains of dns: site c" in r.stderr, r.stderr
        j = json.loads(ctl("undrain", "--site", "c", "dns", "--json", check_rc=0).stdout)
        assert j["ok"] and j["key"] == key_c, j
        _, now = keys_under_fleet()
        assert not any("/desired/" in k for k in now), now.keys()
        print("ok: fleet undrain deletes the key; a missing drain is an error naming the key")

        # A service the configuration does not know has no known floor: refused unless told.
        r = ctl("drain", "--site", "a", "doh", "--reason", "x", check_rc=1)
        assert f"the floor of doh is unknown: {config} has no service doh; give --min-sites" in r.stderr, r.stderr
        r = ctl("status", config_path=lab.path("missing.toml"), check_rc=1)
        assert "missing.toml" in r.stderr and "-c '' reads none" in r.stderr, r.stderr
        # -c '': the flags alone (an operator who cannot read the site's configuration).
        r = ctl("--fleet", FLEET, "--endpoints", eps, "status", "dns", config_path="", check_rc=0)
        assert ": 5 sites publishing" in r.stdout and "dns      c" in r.stdout, r.stdout
        r = ctl("--fleet", FLEET, "--endpoints", eps, "drain", "--site", "a", "dns", "--reason", "x",
                config_path="", check_rc=1)
        assert "the floor of dns is unknown: no configuration read (-c '')" in r.stderr, r.stderr
        r = ctl("drain", "--site", "a", "dns", "--reason", "x", config_path="", check_rc=1)
        assert "no fleet name: give --fleet NAME" in r.stderr, r.stderr

        # etcd unreachable: every member is named with its failure.
        r = ctl("--endpoints", "192.0.2.11:2399,192.0.2.12:2399", "status", check_rc=2)
        assert r.stderr.strip() == ("heraldctl: no etcd member answered: etcd member 192.0.2.11:2399: connect: "
                                    "Connection refused; etcd member 192.0.2.12:2399: connect: Connection refused"), r.stderr
        t0 = time.monotonic()
        r = ns["a"].run(ctl_exe, "--timeout", "1", "fleet", "-c", config, "--endpoints", "192.0.2.99:2379", "drain",
                        "--all", "dns", "--reason", "x", "--json", check=False, timeout=30)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert "etcd member 192.0.2.99:2379: connect: " in r.stderr and "timeout" in r.stderr, r.stderr
        assert "192.0.2.99:2379" in json.loads(r.stdout)["error"], r.stdout
        assert time.monotonic() - t0 < 10, "the connect timeout did not bound the call"
        print("ok: an unreachable etcd gives an error naming each member and why (exit 2)")

        # Authentication: the site's own user (from [fleet]) may not write desired keys; an
        # operator's may.
        etcd.enable_auth()
        etcd.add_site_role(FLEET, "a", "a-pw")
        n = etcd.ns[etcd.names[0]]
        # The operator role of docs/fleet.md: read the fleet, write its desired keys.
        etcd.ctl(n, "role", "add", "herald-ops")
        etcd.ctl(n, "role", "grant-permission", "herald-ops", "--prefix=true", "read", f"/herald/{FLEET}/")
        etcd.ctl(n, "role", "grant-permission", "herald-ops", "--prefix=true", "readwrite", f"/herald/{FLEET}/desired/")
        etcd.ctl(n, "user", "add", "ops:ops-pw")
        etcd.ctl(n, "user", "grant-role", "ops", "herald-ops")
        lab.write("a.pw", "a-pw\n")
        ops_pw = lab.write("ops.pw", "ops-pw\n")
        auth = f'user = "a"\npassword-file = "{lab.path("a.pw")}"'
        site_config = etcd.ctl_config("site.toml", service=floor, fleet=in_eu + auth)
        r = ctl("drain", "--site", "b", "dns", "--reason", "x", config_path=site_config, check_rc=1)
        assert "refused: etcdserver: permission denied" in r.stderr and "etcd member 192.0.2.1" in r.stderr, r.stderr
        ctl("status", config_path=site_config, check_rc=0)  # reading is allowed
        r = ctl("--user", "ops", "--password-file", ops_pw, "drain", "--site", "b", "dns", "--reason", "x",
                config_path=site_config, check_rc=0)
        r = etcd.ctl(ns["a"], "get", f"/herald/{FLEET}/desired/dns/site/b", "--print-value-only")
        assert json.loads(r.stdout)["reason"] == "x", r.stdout
        print("ok: a site's credentials cannot drain; an operator's --user can")

        # The rest of the operator role of docs/fleet.md: fleet forget's grants.
        for prefix in ("members/", "floor/"):
            etcd.ctl(n, "role", "grant-permission", "herald-ops", "--prefix=true", "readwrite", f"/herald/{FLEET}/{prefix}")
        as_ops = ("--user", "ops", "--password-file", ops_pw)
        ctl(*as_ops, "undrain", "--site", "b", "dns", config_path=site_config, check_rc=0)
        # Site a withdrew through the floor (its ledger key): a drain of c would leave b alone.
        etcd.ctl(n, "put", f"/herald/{FLEET}/floor/dns/a", "withdrawn")
        r = ctl(*as_ops, "drain", "--site", "c", "dns", "--reason", "x", config_path=site_config, check_rc=3)
        assert "would leave 1 of 3 sites announcing dns, floor 2" in r.stderr, r.stderr
        print("ok: a site with a ledger key does not count for a drain's floor")

        # Site c stops (its lease revoked); two ledger keys of its written without a lease stay,
        # until forget deletes them with its member record. a's and the old shared key stay.
        ledger_c = [f"/herald/{FLEET}/floor/dns/c", f"/herald/{FLEET}/floor/dot/c"]
        for k in ledger_c + [f"/herald/{FLEET}/floor/dns/cc", f"/herald/{FLEET}/floor/dns"]:
            etcd.ctl(n, "put", k, "withdrawn")
        pubs["c"].signal(signal.SIGTERM)
        pubs["c"].popen.wait(timeout=10)
        # (Its publisher logged in as nobody since auth went on: its lease may only expire.)
        harness.wait_for(lambda: etcd.ctl(n, "get", f"/herald/{FLEET}/sites/c", "--keys-only").stdout.strip() == "",
                         timeout=20, what="site c's key gone")
        j = json.loads(ctl(*as_ops, "forget", "--site", "c", "--json", config_path=site_config, check_rc=0).stdout)
        assert j["ok"] and j["key"] == f"/herald/{FLEET}/members/c" and j["ledger_keys"] == ledger_c, j
        left = etcd.ctl(n, "get", "--prefix", f"/herald/{FLEET}/floor/", "--keys-only").stdout.split()
        assert left == [f"/herald/{FLEET}/floor/dns", f"/herald/{FLEET}/floor/dns/a", f"/herald/{FLEET}/floor/dns/cc"], left
        assert etcd.ctl(n, "get", f"/herald/{FLEET}/members/c", "--print-value-only").stdout.strip() == ""
        print("ok: forget deletes the stopped site's member record and its ledger keys, and no others")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
