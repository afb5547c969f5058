"""A DNS server crash is noticed the moment its process ends, against the live daemon: herald
checks unbound every 100 ms (rise 2, fall 2) with a DNS check and a process check on unbound's
pidfile. unbound is SIGKILLed: herald must take the service Down because the process exited (its
log's first health change after the kill names the exit, not a failed DNS probe, which would
need fall = 2 failing rounds), and BIRD must lose the route. unbound is started again (it writes
a new pidfile): the service comes back only after rise = 2 passing rounds, and BIRD gets the
route again. Repeated three times. Then unbound is frozen (SIGSTOP), which its pidfd cannot see:
herald must take the service Down because the process is stopped (the first health change names
the stop, "down at once", not a timed-out DNS probe), and after SIGCONT bring it back after rise
= 2 passing rounds; also three times. Every wait is bounded; the times are printed, not asserted.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

ROUNDS = 3


def service(site: hl.Site) -> dict:
    return next(s for s in site.status()["status"]["services"] if s["name"] == "dns")


def health_changes(site: hl.Site) -> list[str]:
    return [line for line in site.herald.log().splitlines() if "health change" in line and "dns" in line]


def start_dns(site: hl.Site, pidfile: str):
    """unbound on the service addresses, writing its PID to `pidfile` (it runs in the
    foreground, so the PID in the file is the process the lab started)."""
    site.dns = site.lab.unbound(site.node, hl.SERVICE_V4, ["www.example. A 192.0.2.80"],
                                extra=f"    interface: {hl.SERVICE_V6}@53\n    ip-freebind: yes\n"
                                      f"    pidfile: \"{pidfile}\"\n",
                                name=f"unbound-{len(site.lab.procs)}")
    harness.wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip() == str(site.dns.proc.pid),
                     timeout=10, what="unbound's pidfile naming its process")
    site.dns.wait_ready()


def main() -> int:
    harness.require_root()
    with harness.Lab("procexit") as lab:
        site = hl.Site(lab, "bird")
        pidfile = lab.path("unbound.pid")
        check = f'\n[[service.check]]\ntype = "process"\npidfile = "{pidfile}"\n'
        site.start_herald(hl.herald_config(lab, interval="100ms", timeout="80ms", rise=2, fall=2,
                                           flap_max_changes=0, extra_services=check))
        start_dns(site, pidfile)
        harness.wait_for(lambda: service(site)["state"] == "Up", timeout=20, what="dns Up")
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
        for i in range(ROUNDS):
            pid = site.dns.proc.pid
            seen = len(health_changes(site))
            site.dns.proc.signal(signal.SIGKILL)
            gone = site.wait_route(hl.PREFIX_V4, False, timeout=10, interval=0.002)
            site.dns.proc.stop()  # reap it
            harness.wait_for(lambda: len(health_changes(site)) > seen, timeout=10, what="a health change logged")
            first = health_changes(site)[seen]
            print(f"  crash {i + 1}: route gone from BIRD {1000 * gone:.1f} ms after the SIGKILL; {first}")
            assert "new=Down" in first, first
            assert f"process {pid} (from {pidfile}) exited" in first, first
            assert "down at once" in first, first
            down = service(site)
            assert down["state"] == "Down", down

            # The stale pidfile names a dead process: herald stays Down until a new server runs.
            start_dns(site, pidfile)
            back = site.wait_route(hl.PREFIX_V4, True, timeout=10)
            up = service(site)
            print(f"  restart {i + 1}: route back {1000 * back:.1f} ms after unbound answered: {up['reason']}")
            assert up["state"] == "Up", up
            assert "(2 passing round(s))" in up["reason"], up
        for i in range(ROUNDS):
            pid = site.dns.proc.pid
            seen = len(health_changes(site))
            site.dns.proc.signal(signal.SIGSTOP)
            gone = site.wait_route(hl.PREFIX_V4, False, timeout=10, interval=0.002)
            harness.wait_for(lambda: len(health_changes(site)) > seen, timeout=10, what="a health change logged")
            first = health_changes(site)[seen]
            print(f"  freeze {i + 1}: route gone from BIRD {1000 * gone:.1f} ms after the SIGSTOP; {first}")
            assert "new=Down" in first, first
            assert f"process {pid} (from {pidfile}) stopped (state T)" in first, first
            assert "down at once" in first, first
            site.dns.proc.signal(signal.SIGCONT)
            back = site.wait_route(hl.PREFIX_V4, True, timeout=10)
            up = service(site)
            print(f"  resume {i + 1}: route back {1000 * back:.1f} ms after the SIGCONT: {up['reason']}")
            assert up["state"] == "Up", up
            assert "(2 passing round(s))" in up["reason"], up
    print("process exit and stop: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
