"""herald demo: a DNS anycast site fails over and recovers, as BIRD sees it.

Run by tests/demo.sh (which installs and builds first). Needs root: it creates two network
namespaces joined by a veth link (documentation addresses only), starts a real BIRD upstream,
a real unbound DNS server and herald, and removes all of it at the end.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def show_bird(site: hl.Site) -> None:
    for table in ("master4", "master6"):
        out = site.bird.ctl(f"show route table {table} all", check=False).stdout.strip()
        lines = [l for l in out.splitlines() if l.strip() and not l.startswith("BIRD")]
        print(f"  birdc show route table {table} all:")
        for l in lines or ["  (no routes)"]:
            print("    " + l)


def main() -> int:
    harness.require_root()
    with harness.Lab("demo") as lab:
        say("Setting up: namespace 'up' runs BIRD (AS 65000); namespace 'node' runs unbound and herald (AS 65053)")
        site = hl.Site(lab, "bird")
        site.start_herald(hl.herald_config(lab, interval="100ms", timeout="80ms", rise=2, fall=2, drain_period="3s"))
        print(f"  herald put {hl.PREFIX_V4} and {hl.PREFIX_V6} on lo of 'node':")
        for line in site.node.run("ip", "-br", "addr", "show", "dev", "lo").stdout.splitlines():
            print("    " + line)
        site.start_dns().wait_ready()
        print(f"  unbound answers www.example. on {hl.SERVICE_V4} and {hl.SERVICE_V6}")
        harness.wait_for(site.session_up, timeout=20, what="BGP session")
        t = site.wait_route(hl.PREFIX_V4, True, timeout=20)
        site.wait_route(hl.PREFIX_V6, True, timeout=10)
        say(f"herald announced the service prefixes (BGP session up, DNS healthy) — BIRD's RIB:")
        show_bird(site)
        print("\n  heraldctl status:")
        print("    " + site.ctl("status").stdout.replace("\n", "\n    "))

        say("Stopping the DNS server (unbound gets SIGTERM)")
        t0 = time.monotonic()
        site.stop_dns()
        site.wait_route(hl.PREFIX_V4, False, timeout=15, interval=0.005)
        gone = time.monotonic() - t0
        site.wait_route(hl.PREFIX_V6, False, timeout=5)
        print(f"  withdrawn from BIRD {gone * 1000:.0f} ms after the DNS server was stopped "
              f"(checks every 100 ms, fall 2)")
        show_bird(site)

        say("Starting the DNS server again")
        t0 = time.monotonic()
        site.start_dns()
        site.wait_route(hl.PREFIX_V4, True, timeout=20, interval=0.005)
        back = time.monotonic() - t0
        print(f"  re-announced {back * 1000:.0f} ms after unbound was started (rise 2)")
        show_bird(site)

        say("Operator drain: heraldctl drain dns --reason 'demo maintenance'")
        print("  " + site.ctl("drain", "dns", "--reason", "demo maintenance").stdout.strip())
        harness.wait_for(lambda: "65535,0" in site.router_routes().get(hl.PREFIX_V4, ""), timeout=10,
                         what="graceful-shutdown community at BIRD")
        print("  BIRD now sees the route with GRACEFUL_SHUTDOWN (65535,0) and local-pref 0:")
        show_bird(site)
        site.wait_route(hl.PREFIX_V4, False, timeout=10)
        print("  after the 3 s drain period the prefixes are withdrawn:")
        show_bird(site)

        say("heraldctl undrain dns")
        print("  " + site.ctl("undrain", "dns").stdout.strip())
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        show_bird(site)

        say("Stopping herald (SIGTERM): it withdraws, sends Cease/Administrative Shutdown, and exits")
        site.herald.stop(timeout=15)
        harness.wait_for(lambda: not site.has_route(hl.PREFIX_V4), timeout=10, what="withdrawal")
        print("  " + site.bird.protocol_state("herald"))
        say("Demo done; cleaning up namespaces and processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
