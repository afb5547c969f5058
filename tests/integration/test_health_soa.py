"""Zone freshness (type = "soa") against the live daemon, two real unbound servers and BIRD.

The site's unbound (192.0.2.53) serves example. with a SOA serial; a second unbound in the node
namespace (198.51.100.53) plays the zone's primary with its own serial. herald's only check is
the SOA check with max-serial-lag 1: the service is announced to BIRD while the local serial is
at most one behind the primary's, withdrawn when it lags more, announced again when it catches up
(RFC 1982 arithmetic across the 2^32 wrap included), and kept when the primary stops answering
(the lag cannot be judged then). A second service, "stuck", checks the same local server with
max-unchanged only: withdrawn once the serial stayed the same too long, back when it changes.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

PRIMARY = "198.51.100.53"
STUCK_PREFIX = "192.0.2.60/32"


def soa(serial: int) -> list[str]:
    return [f"example. 3600 IN SOA ns.example. hostmaster.example. {serial} 3600 900 604800 300",
            "www.example. A 192.0.2.80"]


def set_serial(ub: harness.Unbound, serial: int) -> None:
    """Rewrites the SOA line of `ub`'s config and reloads it (SIGHUP), as a zone transfer would."""
    with open(ub.conf) as f:
        lines = f.read().splitlines()
    lines = [f'    local-data: "{soa(serial)[0]}"' if " IN SOA " in l else l for l in lines]
    with open(ub.conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    ub.proc.signal(1)  # SIGHUP


def config(lab: harness.Lab) -> str:
    fresh = f'type = "soa"\nzone = "example."\nprimary = "{PRIMARY}"\nmax-serial-lag = 1'
    stuck = f'type = "soa"\nserver = "{hl.SERVICE_V4}"\nzone = "example."\nmax-unchanged = "3s"'
    return (hl.herald_global(lab) + hl.upstream_peer()
            + hl.herald_service("dns", [hl.PREFIX_V4], [fresh], interval="100ms", timeout="300ms")
            + hl.herald_service("stuck", [STUCK_PREFIX], [stuck], interval="100ms", timeout="300ms"))


def main() -> int:
    harness.require_root()
    with harness.Lab("soa") as lab:
        site = hl.Site(lab, "bird")
        site.node.run("ip", "addr", "add", f"{PRIMARY}/32", "dev", "lo")
        primary = lab.unbound(site.node, PRIMARY, soa(2026120605), name="primary")
        local = lab.unbound(site.node, hl.SERVICE_V4, soa(2026120601),
                            extra="    ip-freebind: yes\n", name="local")
        primary.wait_ready()
        site.start_herald(config(lab))
        local.wait_ready()

        def check(name: str = "dns"):
            svc = next(s for s in site.status()["status"]["services"] if s["name"] == name)
            return svc["checks"][0]

        print("local 2026120601, primary 2026120605: 4 behind > 1, not announced")
        harness.wait_for(lambda: "4 behind > max-serial-lag 1" in check()["detail"], timeout=10,
                         what="the SOA check to see the lag")
        c = check()
        assert c["ok"] is False and c["serial"] == 2026120601, c
        assert not site.has_route(hl.PREFIX_V4)

        print("local catches up to one behind: announced")
        set_serial(local, 2026120604)
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        c = check()
        assert c["ok"] and c["serial"] == 2026120604 and "(1 behind)" in c["detail"], c

        print("primary moves on by 3: withdrawn")
        set_serial(primary, 2026120607)
        site.wait_route(hl.PREFIX_V4, False, timeout=10)
        assert "serial 2026120604, primary 2026120607: 3 behind > max-serial-lag 1" in check()["detail"], check()

        print("primary wraps past 2^32 - 1 to 1, local at 4294967295: 2 behind (RFC 1982)")
        set_serial(local, 4294967295)
        harness.wait_for(lambda: check()["serial"] == 4294967295, timeout=10, what="local serial 4294967295")
        set_serial(primary, 1)
        harness.wait_for(lambda: "primary 1: 2 behind" in check()["detail"], timeout=10, what="the lag across the wrap")
        assert not site.has_route(hl.PREFIX_V4)
        set_serial(local, 0)
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        assert "(1 behind)" in check()["detail"], check()

        print("primary stops answering: the lag is not judged, the service stays announced")
        primary.proc.stop()
        harness.wait_for(lambda: "primary not judged" in check()["detail"], timeout=10, what="primary not judged")
        assert check()["ok"] and site.has_route(hl.PREFIX_V4), check()
        print(f"  {check()['detail']}")

        print("the local serial stays 0 for more than max-unchanged 3s: stuck is withdrawn")
        site.wait_route(STUCK_PREFIX, False, timeout=15)
        detail = check("stuck")["detail"]
        assert "serial 0 unchanged for " in detail and "> max-unchanged 3s" in detail, detail
        print(f"  {detail}")
        set_serial(local, 2)
        site.wait_route(STUCK_PREFIX, True, timeout=2.5)  # back well before it is stuck again
        assert "serial 2, unchanged for " in check("stuck")["detail"], check("stuck")

        text = site.ctl("status").stdout
        rows = [l.split() for l in text.splitlines()]
        assert ["dns", "soa", "soa", "ok"] in [r[:4] for r in rows], text
    print("soa check: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
