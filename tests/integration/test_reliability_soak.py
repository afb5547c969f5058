#!/usr/bin/python3
"""Soak: random faults against herald with a real BIRD 2 (or FRR 8) and a real unbound, for a
bounded time.

Env: HERALD_SOAK_SECONDS (default 90), HERALD_SOAK_SEED (default: from the clock; printed, so a
failing run can be replayed with the same sequence of faults), HERALD_SOAK_FAULTS (comma-separated
subset of the fault names; e.g. everything but herald_kill keeps one herald process for the whole
run, so that its descriptors and memory are watched over all of it), HERALD_SOAK_ROUTER (bird, the
default, or frr).

One fault at a time, drawn from reliability.Faults (router SIGKILL + restart, link down/up, 20%
loss + 200 ms delay, DNS frozen, DNS slow, herald SIGKILL + restart, a burst of reloads, a
drain/undrain), each followed by a convergence check with its bound. At the end: the router's
RIB equals herald's desired state, herald is alive (it exited only when the test killed it), its
descriptors and RSS grew by no more than reliability.FD_BOUND and rss_bound_kib() over the life
of each herald process (from its first convergence to its last sample), herald exits 0 on SIGTERM
(under ASan: LeakSanitizer found no leak) and no sanitizer reported anything in any log. Each fault also checks what must hold while it lasts (see
reliability.Faults).
"""
import collections
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402
import reliability as rel  # noqa: E402

UP = {"dns": "Up"}
NTP = """
[[service]]
name = "ntp"
prefixes = ["198.51.100.123/32"]
"""
# Herald restarts reset the resource baseline, so they are drawn less often.
WEIGHTS = {"router_kill": 2, "link_flap": 2, "lossy_link": 2, "dns_freeze": 3, "dns_slow": 2,
           "herald_kill": 1, "reloads": 2, "drain_cycle": 2}


def main() -> int:
    harness.require_root()
    seconds = float(os.environ.get("HERALD_SOAK_SECONDS", "90"))
    seed = int(os.environ.get("HERALD_SOAK_SEED", str(int(time.time()) % 1000000)))
    print(f"soak: {seconds:g}s, seed {seed} (replay: HERALD_SOAK_SEED={seed})", flush=True)
    rng = random.Random(seed)
    os.environ["HERALD_FAULT_SEED"] = str(seed)  # the relay's loss pattern follows the same seed
    with harness.Lab("relsoak") as lab:
        configs = [hl.herald_config(lab, hold_time="3s", connect_retry_max="4s", flap_max_changes=0),
                   hl.herald_config(lab, hold_time="3s", connect_retry_max="4s", flap_max_changes=0, extra_services=NTP)]
        router = os.environ.get("HERALD_SOAK_ROUTER", "bird")
        assert router in ("bird", "frr"), f"HERALD_SOAK_ROUTER must be bird or frr, not {router}"
        site = hl.Site(lab, router, wan=True)
        site.start_herald(configs[0])
        rel.start_dns(site).wait_ready()
        rel.converged(site, 20, UP, "start")
        # Resources of every herald process the soak saw: first and last sample after convergence.
        samples = {}

        def sample() -> None:
            r = rel.resources(site)
            samples.setdefault(r["pid"], [r, r, time.monotonic(), time.monotonic()])
            samples[r["pid"]][1] = r
            samples[r["pid"]][3] = time.monotonic()

        sample()
        faults = rel.Faults(site, rng, configs)
        names = [n for n in os.environ.get("HERALD_SOAK_FAULTS", ",".join(WEIGHTS)).split(",") if n]
        assert names and all(n in WEIGHTS for n in names), f"HERALD_SOAK_FAULTS: known faults are {list(WEIGHTS)}"
        counts: collections.Counter = collections.Counter()
        worst: dict[str, float] = {}
        t_end = time.monotonic() + seconds
        drops = 0  # session failures since the session was last up for 60 s (see Faults.SESSION)
        while time.monotonic() < t_end:
            since, age = rel.session_age(site)
            if age >= 60:
                drops = 0
            allowed = [n for n in names if drops < rel.Faults.MAX_DROPS or n not in rel.Faults.SESSION]
            if not allowed:  # only session faults chosen, and the damping budget is spent
                time.sleep(1)
                continue
            name = rng.choices(allowed, weights=[WEIGHTS[n] for n in allowed])[0]
            print(f"[{seconds - (t_end - time.monotonic()):5.1f}s] fault {name}", flush=True)
            bound = faults.run(name)
            took = rel.converged(site, bound, UP, name)
            counts[name] += 1
            worst[name] = max(worst.get(name, 0.0), took)
            assert site.herald.alive(), "herald died:\n" + site.herald.log()[-3000:]
            sample()
            if name == "herald_kill":
                drops = 0  # a new process starts undamped
            elif rel.session_age(site)[0] != since:
                drops += 1
        rel.stays_converged(site, 2, UP, "the final check")
        sample()
        for pid, (first, last, t_first, t_last) in samples.items():
            rel.assert_no_growth(first, last, f"herald pid {pid} over {t_last - t_first:.0f}s")
        rel.stop_herald(site)
        reports = rel.sanitizer_reports(lab)
        assert not reports, reports
        print("faults injected: " + ", ".join(f"{n} x{c} (worst {worst[n]:.2f}s)" for n, c in sorted(counts.items())))
        print(f"herald restarts by the test: {faults.herald_restarts}")
    print("reliability soak: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
