#!/usr/bin/python3
"""heraldctl fleet over TLS with client certificates (etcd --client-cert-auth), its TLS files
taken from the [fleet] section of herald.toml or from the flags that override them:
- status and drain work with the configuration's tls-ca, tls-cert and tls-key;
- --tls-ca naming another CA: each member's certificate is refused, and the error names every
  member with the reason (exit 2);
- a configuration without a client certificate: the members refuse the handshake (exit 2).

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_etcd_ctl_tls.py
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
    fleet_exe = harness.binary("herald-fleet")
    ctl_exe = harness.binary("heraldctl")
    with harness.Lab("fctltls") as lab:
        etcd = etcd_lab.Cluster(lab, tls=True)
        pki = etcd.pki
        a = etcd.site("a")
        eps = etcd.endpoints()
        config = etcd.ctl_config("herald.toml", fleet=etcd.client_tls_keys())
        no_cert = etcd.ctl_config("nocert.toml", fleet=f'tls-ca = "{pki.ca}"')

        def ctl(*args, config_path=config):
            return a.run(ctl_exe, "fleet", "-c", config_path, *args, check=False, timeout=30)

        pub = a.popen([fleet_exe, "--endpoints", eps, "--ca", pki.ca, "--cert", pki.cert("client"), "--key",
                       pki.key("client"), "publish", "--fleet", FLEET, "--site", "a", "--region", "eu", "--ttl", "5"],
                      "publish-a")
        etcd_lab.wait_json_line(pub, lambda j: j.get("event") == "published", 15, "site a published over TLS")

        r = ctl("status", "--json")
        assert r.returncode == 0, r.stderr
        assert [x["site"] for x in json.loads(r.stdout)["sites"]] == ["a"], r.stdout
        # The configuration has no [service.fleet] for dns: no floor, the drain is written.
        r = ctl("drain", "--site", "a", "dns", "--reason", "over tls")
        assert r.returncode == 0, r.stderr
        r = ctl("undrain", "--site", "a", "dns")
        assert r.returncode == 0, r.stderr
        print("ok: status, drain and undrain over TLS with the configuration's certificate")

        other = lab.path("other-ca")
        os.makedirs(other)
        harness.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                     "/CN=other-ca", "-keyout", os.path.join(other, "ca.key"), "-out", os.path.join(other, "ca.pem")])
        r = ctl("--tls-ca", os.path.join(other, "ca.pem"), "status")
        assert r.returncode == 2, (r.returncode, r.stderr)
        for e in eps.split(","):
            assert f"etcd member {e}: TLS handshake: certificate verify failed" in r.stderr, r.stderr
        print("ok: --tls-ca overrides the configuration; another CA's members are refused, each named")

        r = ctl("status", config_path=no_cert)
        assert r.returncode == 2 and r.stderr.startswith("heraldctl: no etcd member answered: etcd member "), r.stderr
        print("ok: without a client certificate the members refuse the handshake (exit 2)")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
