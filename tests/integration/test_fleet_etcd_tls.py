#!/usr/bin/python3
"""The fleet's etcd client over TLS with client certificates, against a real 3-member etcd 3.4
cluster that requires them (--client-cert-auth): herald-fleet with the lab CA and a client
certificate publishes and reads the fleet; without a client certificate, or trusting another CA,
the TLS handshake fails and the error says so; a member whose certificate does not name the
address dialled is refused, and the next member is used.

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_etcd_tls.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_lab  # noqa: E402
import harness  # noqa: E402

FLEET = "lab"


def main() -> int:
    harness.require_root()
    etcd_lab.require_etcd()
    exe = harness.binary("herald-fleet")
    with harness.Lab("fleettls") as lab:
        etcd = etcd_lab.Cluster(lab, tls=True, misnamed=("e3",))
        a = etcd.site("a")
        pki = etcd.pki

        def fleet(*args, eps=None):
            r = a.run(exe, "--endpoints", eps or etcd.endpoints(["e1", "e2"]), *args, check=False, timeout=30)
            return r.returncode, json.loads(r.stdout.strip().splitlines()[-1])

        good = ["--ca", pki.ca, "--cert", pki.cert("client"), "--key", pki.key("client")]
        pub = a.popen([exe, "--endpoints", etcd.endpoints(["e1", "e2"]), *good, "publish", "--fleet", FLEET, "--site", "a",
                       "--region", "eu", "--ttl", "5"], "publish-a")
        etcd_lab.wait_json_line(pub, lambda j: j.get("event") == "published", 15, "site a published over TLS")
        rc, v = fleet(*good, "view", "--fleet", FLEET)
        assert rc == 0 and [r["site"] for r in v["sites"]] == ["a"], v
        print("ok: publish and view over TLS with a client certificate")

        # No client certificate: the members refuse the handshake.
        rc, out = fleet("--ca", pki.ca, "view", "--fleet", FLEET)
        assert rc == 1 and "no etcd member answered" in out["error"], out
        # Trusting another CA: herald refuses the members' certificates.
        other = etcd_lab.Pki.__new__(etcd_lab.Pki)
        other.dir = lab.path("other-pki")
        os.makedirs(other.dir)
        harness.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                     "/CN=other-ca", "-keyout", os.path.join(other.dir, "ca.key"), "-out",
                     os.path.join(other.dir, "ca.pem")])
        rc, out = fleet("--ca", os.path.join(other.dir, "ca.pem"), "--cert", pki.cert("client"), "--key",
                        pki.key("client"), "view", "--fleet", FLEET)
        assert rc == 1 and "certificate verify failed" in out["error"], out
        print("ok: no client certificate, or another CA: refused")

        # The name check: e3's certificate names 192.0.2.99, not the address dialled. Alone it is
        # refused; listed first, herald moves on to a member whose certificate is right.
        rc, out = fleet(*good, "view", "--fleet", FLEET, eps=etcd.endpoints(["e3"]))
        assert rc == 1 and "certificate verify failed" in out["error"], out
        rc, out = fleet(*good, "view", "--fleet", FLEET, eps=etcd.endpoints(["e3", "e2"]))
        assert rc == 0 and [r["site"] for r in out["sites"]] == ["a"], out
        print("ok: a member whose certificate names another address is refused; the next one is used")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
