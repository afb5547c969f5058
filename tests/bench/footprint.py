#!/usr/bin/python3
"""Idle footprint, side by side: each speaker with 2 upstream sessions and 2 services checked
every second (rise 2, fall 2), all four running at the same time in their own labs, measured
over one window (60 s, 10 s with --quick) once every session is up and every prefix announced.

CPU is everything the speaker runs: the daemon and its check scripts with every `dig` they fork
(thread run time from schedstat plus reaped children). The daemon's wake-ups per second are its
threads' voluntary context switches over the window (each one is a sleep). Memory is VmRSS and Pss (smaps_rollup)
of the daemon alone and of the daemon plus its scripts, sampled at the end of the window, and
the daemon's RssAnon (private heap and stacks: what it allocates, without library pages).

    footprint.py [--quick] [--seconds N] [--contenders herald,exabgp,gobgp,bird]
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time

import benchlib as bl
import contenders as ct
from benchlib import harness


def main() -> int:
    harness.require_root()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--contenders", default="herald,exabgp,gobgp,bird")
    a = ap.parse_args()
    seconds = a.seconds or (10.0 if a.quick else 60.0)
    s = ct.Settings(interval_ms=1000, timeout_ms=500, rise=2, fall=2, dig_time=1, peers=2)
    rows, ok, measured = [], True, {}
    with contextlib.ExitStack() as stack:
        running = {}
        for kind in a.contenders.split(","):
            lab = stack.enter_context(harness.Lab(f"fp{kind[:3]}"))
            topo = bl.Topology(lab, second_session=True, services=bl.SERVICES)
            c = ct.ALL[kind](topo, s)
            c.start()
            topo.start_dns(wait=False)
            running[kind] = (topo, c)

        def all_up() -> bool:
            for topo, _ in running.values():
                if not (topo.session_up("herald") and topo.session_up("herald2")):
                    return False
                for _, v4, v6 in bl.SERVICES:
                    if not (topo.route_present(v4 + "/32") and topo.route_present(v6 + "/128")):
                        return False
            return True
        bl.wait_until(all_up, 60, "every speaker's sessions and prefixes at its upstream", 0.2)
        time.sleep(3)
        windows = {k: bl.CpuWindow(c.roots()).start() for k, (_, c) in running.items()}
        sleeps0 = {k: bl.sleeps(c.speaker_pid()) for k, (_, c) in running.items()}
        time.sleep(seconds)
        for k, (topo, c) in running.items():
            w = windows[k].stop()
            wakeups = (bl.sleeps(c.speaker_pid()) - sleeps0[k]) / w.seconds
            rss, pss = bl.tree_memory_kib(c.roots())
            srss, spss = bl.memory_kib(c.speaker_pid())
            sanon = bl.anon_kib(c.speaker_pid())
            by_mapping = bl.rss_by_mapping(c.speaker_pid())
            still_up = all_up()
            ok = ok and c.alive() and still_up
            measured[k] = {"cpu": w.cpu, "share": w.share, "wakeups": wakeups, "rss": rss, "pss": pss, "srss": srss, "spss": spss, "sanon": sanon,
                           "ok": c.alive() and still_up, "n": len(bl.tree(c.roots())),
                           "maps": by_mapping}
    ref = measured.get("herald")
    for k, m in measured.items():
        rows.append([k, f"{m['share'] * 100:.3f}%", f"{m['cpu']:.3f}",
                     bl.ratio(m["share"], ref["share"]) if ref else "-", f"{m['wakeups']:.1f}",
                     bl.mib(m["srss"]), bl.mib(m["spss"]), bl.mib(m["sanon"]), bl.mib(m["rss"]), bl.mib(m["pss"]),
                     bl.ratio(m["rss"], ref["rss"]) if ref else "-", "yes" if m["ok"] else "NO"])
    text = (f"{seconds:.0f} s window, all four running at once; 2 sessions and 2 services (4 prefixes) each, "
            f"checks every 1 s, rise 2, fall 2 (scripts: dig +time=1). CPU = daemon + scripts + every process "
            f"they fork; memory in MiB at the end of the window.\n\n"
            + bl.table(["speaker", "CPU (share of a core)", "CPU s", "CPU ratio", "daemon wake-ups/s", "daemon RSS", "daemon PSS", "daemon RssAnon",
                        "all RSS", "all PSS", "RSS ratio", "stayed up"], rows))
    # Where each daemon's RSS comes from: most of it is pages of its binary and shared libraries
    # (shared with other processes, hence the lower Pss), not memory it allocated.
    top = 10
    for k, m in measured.items():
        maps = m["maps"]
        rest = sum(v for _, v in maps[top:])
        rows_map = [[name, f"{v / 1024:.2f}"] for name, v in maps[:top]]
        if rest:
            rows_map.append([f"{len(maps) - top} others", f"{rest / 1024:.2f}"])
        text += (f"\n\n{k} daemon RSS by mapping (MiB, {len(maps)} objects):\n\n"
                 + bl.table(["mapping", "RSS"], rows_map, "lr"))
    print(bl.section("Footprint: idle with checks every second", text), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
