#!/usr/bin/python3
"""herald-addr (AddressBinder + libnl backend driven by an Asio loop, as in the daemon) in a
namespace made by harness.Lab: addresses bound with label and NODAD, removal by `ip addr del`
and lo down/up reported as events, adopted addresses kept and herald's removed on exit, and the
CAP_NET_ADMIN error when the capability is dropped.

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_netlink_addr.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def entry(ns, dev, local):
    for link in ns.addrs():
        if link.get("ifname") != dev:
            continue
        for a in link.get("addr_info", []):
            if a.get("local") == local:
                return a
    return None


def wait_line(proc, line, timeout):
    """Waits until `line` is a whole line of the driver's output; returns the seconds waited."""
    start = time.monotonic()
    harness.wait_for(lambda: line in proc.log().splitlines(), timeout=timeout, interval=0.002,
                     what=repr(line))
    return time.monotonic() - start


def main() -> int:
    harness.require_root()
    exe = harness.binary("herald-addr")
    with harness.Lab("nladdr") as lab:
        ns = lab.netns("h")

        # Bind, check with ip, watch a removal and a link flap, then remove on exit.
        p = ns.popen([exe, "--address", "192.0.2.1/32", "--address", "2001:db8:53::1/128",
                      "--label", "lo:herald", "--remove-on-exit"], "herald-addr")
        wait_line(p, "ready", 5)
        v4 = entry(ns, "lo", "192.0.2.1")
        assert v4 and v4["prefixlen"] == 32 and v4.get("label") == "lo:herald", v4
        v6 = entry(ns, "lo", "2001:db8:53::1")
        assert v6 and v6["prefixlen"] == 128 and v6.get("nodad"), v6

        start = time.monotonic()
        ns.run("ip", "addr", "del", "192.0.2.1/32", "dev", "lo")
        wait_line(p, "event address-down address 192.0.2.1/32 removed from lo", 2)
        took = time.monotonic() - start
        print(f"ip addr del (via ip netns exec) -> event line: {took * 1000:.1f} ms")
        wait_line(p, "event service-down service dns: address 192.0.2.1/32 removed from lo", 1)

        ns.run("ip", "link", "set", "lo", "down")
        wait_line(p, "event interface-down interface lo is down", 2)
        ns.run("ip", "link", "set", "lo", "up")
        wait_line(p, "event interface-up interface lo is up", 2)
        # Default policy: everything missing is put back once lo is up again.
        wait_line(p, "event service-up service dns: address 2001:db8:53::1/128 re-added to lo", 2)
        assert entry(ns, "lo", "192.0.2.1") and entry(ns, "lo", "2001:db8:53::1")

        rc = p.stop()
        assert rc == 0, f"herald-addr exited {rc}:\n{p.log()}"
        assert "released" in p.log().splitlines(), p.log()
        assert entry(ns, "lo", "192.0.2.1") is None and entry(ns, "lo", "2001:db8:53::1") is None

        # An address that was already there is adopted and survives remove-on-exit.
        ns.run("ip", "addr", "add", "192.0.2.9/32", "dev", "lo")
        r = ns.run(exe, "--address", "192.0.2.9/32", "--remove-on-exit", "--seconds", "0.2")
        assert "bound 192.0.2.9/32 adopted" in r.stdout.splitlines(), r.stdout
        assert entry(ns, "lo", "192.0.2.9"), "adopted address removed"

        # Without CAP_NET_ADMIN: a clear error naming the capability and the address.
        r = ns.run("setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", "--", exe,
                   "--address", "192.0.2.7/32", "--seconds", "0.2", check=False)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        want = "error adding 192.0.2.7/32 to lo: Operation not permitted (herald needs CAP_NET_ADMIN)"
        assert want in r.stdout.splitlines(), r.stdout
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
