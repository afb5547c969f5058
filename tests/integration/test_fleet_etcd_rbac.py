#!/usr/bin/python3
"""The per-site etcd role of docs/fleet.md against a real 3-member etcd 3.4 cluster with
authentication on: herald-fleet logs in as site a (user/password -> token), publishes its own
site key, its floor index key and its member record, writes and deletes its own floor ledger key
(a floor decision), and reads the whole fleet, but etcd refuses its writes to site b's keys
(state, index, member record, ledger key), to the old shared ledger key and to a desired-drain key
(permission denied, gRPC code 7); a wrong password is refused at login.

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_etcd_rbac.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_lab  # noqa: E402
import harness  # noqa: E402

FLEET = "lab"
PERMISSION_DENIED = 7


def main() -> int:
    harness.require_root()
    etcd_lab.require_etcd()
    exe = harness.binary("herald-fleet")
    with harness.Lab("fleetrbac") as lab:
        etcd = etcd_lab.Cluster(lab)
        a, b = etcd.site("a"), etcd.site("b")
        etcd.enable_auth()
        etcd.add_site_role(FLEET, "a", "a-secret")
        etcd.add_site_role(FLEET, "b", "b-secret")
        pw_a = lab.write("a.pw", "a-secret\n")
        bad_pw = lab.write("bad.pw", "not-a-secret\n")

        def fleet(ns, pw, *args):
            r = ns.run(exe, "--endpoints", etcd.endpoints(), "--user", "a", "--password-file", pw, *args,
                       check=False, timeout=30)
            return r.returncode, json.loads(r.stdout.strip().splitlines()[-1])

        # Its own key: published under a lease, and visible in the view.
        pub = a.popen([exe, "--endpoints", etcd.endpoints(), "--user", "a", "--password-file", pw_a, "publish",
                       "--fleet", FLEET, "--site", "a", "--region", "eu", "--ttl", "5"], "publish-a")
        etcd_lab.wait_json_line(pub, lambda j: j.get("event") == "published", 10, "site a published as user a")
        rc, v = fleet(a, pw_a, "view", "--fleet", FLEET)
        assert rc == 0 and [r["site"] for r in v["sites"]] == ["a"], v
        for key in (f"/herald/{FLEET}/index/dns/a", f"/herald/{FLEET}/members/a"):
            r = etcd.ctl(b, "get", key, "--print-value-only")
            assert r.stdout.strip(), f"{key} not written by site a's publisher"
        print("ok: user a publishes its own site key, index key and member record, and reads the fleet")

        # Another site's keys and the operators' desired keys: refused by etcd.
        for key in (f"/herald/{FLEET}/sites/b", f"/herald/{FLEET}/index/dns/b", f"/herald/{FLEET}/members/b",
                    f"/herald/{FLEET}/members/a0", f"/herald/{FLEET}/floor/dns/b", f"/herald/{FLEET}/floor/dns/a0",
                    f"/herald/{FLEET}/floor/dns", f"/herald/{FLEET}/desired/dns/all", "/elsewhere"):
            rc, out = fleet(a, pw_a, "put", "--key-name", key, "--value", "{}")
            assert rc == 1 and out["code"] == PERMISSION_DENIED and "permission denied" in out["error"], (key, out)
        r = etcd.ctl(b, "get", f"/herald/{FLEET}/sites/b", "--print-value-only")
        assert r.stdout.strip() == "", r.stdout
        rc, out = fleet(a, pw_a, "del", "--key-name", f"/herald/{FLEET}/floor/dns/b")
        assert rc == 1 and out["code"] == PERMISSION_DENIED, out
        print("ok: user a may not write site b's keys, member record or ledger key, nor a desired drain")

        # Its own ledger key: a floor decision writes it, a recovery deletes it, and so may a plain
        # put and delete.
        ledger_a = f"/herald/{FLEET}/floor/dns/a"
        rc, out = fleet(a, pw_a, "floor", "--fleet", FLEET, "--site", "a", "--service", "dns",
                        "--min-sites", "0", "--fail")
        assert rc == 0 and out["verdict"] == "withdraw", out
        assert etcd.ctl(b, "get", ledger_a, "--print-value-only").stdout.strip() == "withdrawn"
        rc, out = fleet(a, pw_a, "floor", "--fleet", FLEET, "--site", "a", "--service", "dns", "--min-sites", "0")
        assert rc == 0 and out["verdict"] == "announce", out
        assert etcd.ctl(b, "get", ledger_a, "--print-value-only").stdout.strip() == ""
        for args in (("put", "--key-name", ledger_a, "--value", "withdrawn"), ("del", "--key-name", ledger_a)):
            rc, out = fleet(a, pw_a, *args)
            assert rc == 0, (args, out)
        print("ok: user a writes and deletes its own ledger key")

        # A wrong password is refused at login.
        rc, out = fleet(a, bad_pw, "view", "--fleet", FLEET)
        assert rc == 1 and "authentication failed" in out["error"], out
        print("ok: a wrong password is refused")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
