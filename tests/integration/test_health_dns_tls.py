"""DNS over TLS (RFC 7858) and NSID (RFC 5001) in the DNS check, against the live daemon, a real
unbound serving TLS on 853 with a certificate made here by openssl, and BIRD.

Three services, each with one DNS-over-TLS check of the same unbound (192.0.2.53:853):
  dns        tls-ca = the test CA, tls-name = the certificate's name, nsid = true: announced, and
             status shows the NSID unbound was configured with;
  wrongname  verification on, tls-name not in the certificate: never announced, the reason names
             the failed verification;
  noverify   tls-verify = false with the same wrong name: announced (encryption only);
and a fourth, udpnsid, with a plain UDP check asking for the NSID, which status shows too.
Then unbound stops serving TLS (plain DNS only on 853 is gone): every service is withdrawn.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

CERT_NAME = "dns.example"
NSID = "site-a.unbound"
SERVICES = {"dns": "192.0.2.53/32", "wrongname": "192.0.2.54/32", "noverify": "192.0.2.55/32",
            "udpnsid": "192.0.2.56/32"}


def make_cert(lab: harness.Lab) -> tuple[str, str]:
    """A self-signed certificate for CERT_NAME and 192.0.2.53 (it is its own CA) and its key."""
    key, cert = lab.path("tls.key"), lab.path("tls.pem")
    harness.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={CERT_NAME}",
                 "-addext", f"subjectAltName=DNS:{CERT_NAME},IP:{hl.SERVICE_V4}"])
    return key, cert


def service(name: str, prefix: str, check: str, tls: bool = True) -> str:
    dns = f"""type = "dns"
server = "{hl.SERVICE_V4}"
qname = "www.example."
qtype = "A"
expect = ["192.0.2.80"]
{"tls = true" if tls else ""}
{check}"""
    return hl.herald_service(name, [prefix], [dns], interval="200ms", timeout="500ms")


def main() -> int:
    harness.require_root()
    with harness.Lab("dot") as lab:
        site = hl.Site(lab, "bird")
        key, cert = make_cert(lab)
        ub = lab.unbound(site.node, hl.SERVICE_V4, ["www.example. A 192.0.2.80"], name="unbound-tls",
                         extra=f"""    ip-freebind: yes
    interface: {hl.SERVICE_V4}@853
    tls-port: 853
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
    nsid: "ascii_{NSID}"
""")
        conf = hl.herald_global(lab) + hl.upstream_peer()
        conf += service("dns", SERVICES["dns"], f'tls-ca = "{cert}"\ntls-name = "{CERT_NAME}"\nnsid = true')
        conf += service("wrongname", SERVICES["wrongname"], f'tls-ca = "{cert}"\ntls-name = "other.example"')
        conf += service("noverify", SERVICES["noverify"], 'tls-verify = false\ntls-name = "other.example"')
        conf += service("udpnsid", SERVICES["udpnsid"], "nsid = true", tls=False)
        site.start_herald(conf)
        ub.wait_ready()

        def checks() -> dict:
            return {s["name"]: s["checks"][0] for s in site.status()["status"]["services"]}

        print("verified DoT with NSID, and verification off: announced")
        site.wait_route(SERVICES["dns"], True, timeout=15)
        site.wait_route(SERVICES["noverify"], True, timeout=15)
        c = checks()
        assert c["dns"]["ok"] and c["dns"]["target"].startswith("dns/tls 192.0.2.53:853"), c["dns"]
        assert c["dns"]["nsid"] == NSID, c["dns"]
        assert "nsid" not in c["noverify"], c["noverify"]  # not asked for
        site.wait_route(SERVICES["udpnsid"], True, timeout=15)
        c = checks()["udpnsid"]
        assert c["target"].startswith("dns 192.0.2.53:53 ") and c["nsid"] == NSID, c
        text = site.ctl("status").stdout
        assert f"(NSID {NSID})" in text, text

        print("verification on with a name the certificate does not hold: never announced")
        harness.wait_for(lambda: checks()["wrongname"]["ok"] is False, timeout=10, what="wrongname failing")
        detail = checks()["wrongname"]["detail"]
        print(f"  {detail}")
        assert detail.startswith("tls handshake: ") and "certificate verify failed" in detail, detail
        assert not site.has_route(SERVICES["wrongname"])

        print("unbound without TLS: every DoT check fails, every service is withdrawn")
        ub.proc.stop()
        plain = lab.unbound(site.node, hl.SERVICE_V4, ["www.example. A 192.0.2.80"], name="unbound-plain",
                            extra=f"    ip-freebind: yes\n    interface: {hl.SERVICE_V4}@853\n")
        plain.wait_ready()
        site.wait_route(SERVICES["dns"], False, timeout=15)
        site.wait_route(SERVICES["noverify"], False, timeout=15)
        # The server reads the ClientHello as a DNS message and never answers: the handshake times out.
        assert checks()["dns"]["detail"] == "tls handshake: timeout after 500ms", checks()["dns"]
    print("dns over tls and nsid: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
