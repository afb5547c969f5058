"""Rise after a freeze, against the live daemon: herald checks unbound every 100 ms with a 1 s
timeout (above the interval) and rise 2. unbound is frozen (SIGSTOP) until the service is Down,
then resumed. Its answer to the probe in flight passes one round; the second round counted
towards rise must end at least fast-interval (100 ms) after it, so the service cannot be Up
again sooner than 100 ms after the resume (issue #16 item 14: it was Up 1.4 ms after the first
answer). Repeated three times; every wait is bounded.
"""
import datetime
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

FAST_INTERVAL_S = 0.100  # herald_config sets fast-interval = interval
ROUNDS = 3


def service(site: hl.Site) -> dict:
    return next(s for s in site.status()["status"]["services"] if s["name"] == "dns")


def wall(ts: str) -> float:
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def main() -> int:
    harness.require_root()
    with harness.Lab("rise") as lab:
        site = hl.Site(lab, "bird")
        site.start_herald(hl.herald_config(lab, interval="100ms", timeout="1s", rise=2, fall=2,
                                           flap_max_changes=0))
        site.start_dns().wait_ready()
        harness.wait_for(lambda: service(site)["state"] == "Up", timeout=20, what="dns Up")
        for i in range(ROUNDS):
            site.dns.proc.signal(signal.SIGSTOP)
            harness.wait_for(lambda: service(site)["state"] == "Down", timeout=10, what="dns Down while frozen")
            resumed = time.time()  # taken before the resume: the first answer can only come later
            site.dns.proc.signal(signal.SIGCONT)
            up = harness.wait_for(lambda: (lambda s: s if s["state"] == "Up" else None)(service(site)),
                                  timeout=10, what="dns Up after the resume")
            took = wall(up["since"]) - resumed
            print(f"  freeze {i + 1}: Up {1000 * took:.1f} ms after the resume: {up['reason']}")
            # 2 ms of slack for the millisecond resolution of `since`.
            assert took >= FAST_INTERVAL_S - 0.002, (took, up)
            assert "(2 passing round(s))" in up["reason"], up
        site.wait_route(hl.PREFIX_V4, True, timeout=10)
    print("rise after a freeze: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
