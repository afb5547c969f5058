#!/usr/bin/python3
"""The fleet at scale (issue #19, "Scale"): N simulated sites x S services against a 3-member etcd
3.4 cluster in network namespaces (tests/integration/etcd_lab.py).

bench_fleet (tests/bench/bench_fleet.cpp) runs the sites in one process, each with herald's own
fleet classes: an EtcdClient, a SitePublisher keeping its key under a lease (keep-alive every
ttl/3, rewritten only on change) and a watch on desired/. This script measures:
- `heraldctl fleet status` (and --json): wall time of the real command, N x S rows;
- a region drain by `heraldctl fleet drain --region`: from the command's launch to each affected
  site's watch receiving the key (p50/p99 over every site of every drained region), and the same
  from a bare put (etcd's propagation alone), and an --all drain;
- the floor txn (fleet/floor_round.hpp, each site's ledger key under its lease): what it adds to
  a withdrawal, one site failing at a time and several at once (consecutive by name, so each is
  among the others' witnesses, and spread across the fleet); its read alone (the index's first
  page), the whole-index read paging replaced, and the whole-fleet read before that;
- etcd at rest: CPU of each member, writes (mvcc put/delete/txn) and raft proposals per second,
  lease keep-alives per second, over a window with nothing changing.
Prints a markdown table (stdout); progress on stderr. Needs root, etcd-server, etcd-client, curl
and a build with heraldctl and bench_fleet.

    fleet_scale.py [--quick] [--sites N] [--services S] [--regions R] [--ttl T] [--rest SECONDS]

--quick: 100 sites, short windows (under a minute; figures not to quote).
Exit status: 0 when it ran (targets met or not: the table says), 1 when it could not run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import etcd_lab  # noqa: E402
import harness  # noqa: E402

FLEET = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"fleet_scale: {msg}", file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))
    return s[k]


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {"n": len(values), "p50": quantile(values, 0.5), "p99": quantile(values, 0.99), "max": max(values)}


def ms(v) -> str:
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat(5))


def metrics(ns: harness.Netns, addr: str) -> dict[str, float]:
    """etcd's Prometheus counters, summed over their labels; LeaseKeepAlive calls apart."""
    r = ns.run("curl", "-s", "--max-time", "5", f"http://{addr}:2379/metrics", timeout=10)
    out: dict[str, float] = {}
    for line in r.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        out[name] = out.get(name, 0.0) + value
        if name == "grpc_server_handled_total" and 'grpc_method="LeaseKeepAlive"' in labels:
            out["keepalive_streams"] = out.get("keepalive_streams", 0.0) + value
        if name == "grpc_server_msg_received_total" and 'grpc_method="LeaseKeepAlive"' in labels:
            out["keepalive_msgs"] = out.get("keepalive_msgs", 0.0) + value
    return out


class Bench:
    """bench_fleet over its stdin/stdout line protocol."""

    def __init__(self, proc: harness.LineProc):
        self.proc = proc

    def ask(self, line: str, timeout: float) -> dict:
        self.proc.send(line)
        return self.read(timeout)

    def read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            j = json.loads(self.proc.read_line(max(0.1, left)))
            if j.get("event") == "error":
                raise RuntimeError(f"bench_fleet: {j['error']}")
            return j


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sites", type=int)
    ap.add_argument("--services", type=int, default=4)
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--ttl", type=int, default=10)
    ap.add_argument("--rest", type=float, help="seconds of the at-rest window")
    args = ap.parse_args()
    sites = args.sites or (100 if args.quick else 1000)
    rest = args.rest or (5.0 if args.quick else 30.0)
    status_runs = 3 if args.quick else 10
    drain_regions = 2 if args.quick else 5
    floor_rounds = 5 if args.quick else 30
    floor_conc = 5 if args.quick else 10
    min_sites = "10%"

    harness.require_root()
    etcd_lab.require_etcd()
    ctl = harness.binary("heraldctl")
    bench_exe = os.path.join(harness.build_dir(), "tests", "bench", "bench_fleet")
    if not os.access(bench_exe, os.X_OK):
        raise RuntimeError(f"{bench_exe} not built (ninja bench_fleet)")
    # One watch per site is one connection to a member: raise the descriptor limit for etcd
    # (it inherits it) and bench_fleet.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 4 * sites + 4096)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))

    with harness.Lab("fscale") as lab:
        t_start = time.monotonic()
        etcd = etcd_lab.Cluster(lab)
        eps = etcd.endpoints()
        ns = etcd.site("bench")
        log(f"cluster up in {time.monotonic() - t_start:.1f}s; starting {sites} sites x {args.services} services")
        proc = ns.popen_lines([bench_exe, "--endpoints", eps, "--fleet", FLEET, "--sites", str(sites),
                               "--services", str(args.services), "--regions", str(args.regions),
                               "--ttl", str(args.ttl), "--spread-ms", str(min(10000, sites * 5))], "bench_fleet")
        b = Bench(proc)
        ready = b.read(180)
        if ready["published"] != sites or ready["watching"] != sites:
            raise RuntimeError(f"only {ready['published']} published / {ready['watching']} watching of {sites}")
        log(f"{sites} sites published and watching after {ready['ms']} ms")

        # At rest: nothing changes; only keep-alives. Let the start-up burst settle first (one TTL).
        settle = 3 if args.quick else args.ttl
        settle_end = time.monotonic() + settle
        harness.wait_for(lambda: time.monotonic() >= settle_end, timeout=settle + 5, interval=0.5, what="settle")
        pids = {n: etcd.procs[n].pid for n in etcd.names}
        m0 = {n: metrics(ns, etcd.addrs[n]) for n in etcd.names}
        c0 = {n: cpu_ticks(p) for n, p in pids.items()}
        b0 = cpu_ticks(proc.pid)
        w0 = time.monotonic()
        rest_end = w0 + rest
        harness.wait_for(lambda: time.monotonic() >= rest_end, timeout=rest + 5, interval=0.5, what="rest window")
        window = time.monotonic() - w0
        c1 = {n: cpu_ticks(p) for n, p in pids.items()}
        b1 = cpu_ticks(proc.pid)
        m1 = {n: metrics(ns, etcd.addrs[n]) for n in etcd.names}
        cpu = {n: 100.0 * (c1[n] - c0[n]) / CLK_TCK / window for n in etcd.names}
        delta = {n: {k: m1[n].get(k, 0) - m0[n].get(k, 0) for k in m1[n]} for n in etcd.names}
        writes = max((d.get("etcd_mvcc_put_total", 0) + d.get("etcd_mvcc_delete_total", 0)
                      + d.get("etcd_mvcc_txn_total", 0)) / window for d in delta.values())
        proposals = max(d.get("etcd_server_proposals_committed_total", 0) / window for d in delta.values())
        keepalives = sum(d.get("keepalive_msgs", 0) for d in delta.values()) / window
        bench_cpu = 100.0 * (b1 - b0) / CLK_TCK / window
        st = b.ask("stats", 10)
        log(f"at rest: etcd CPU {cpu}, writes/s {writes:.2f}, keep-alives/s {keepalives:.0f}")

        # heraldctl fleet status: the real command, from the same namespace.
        base = [ctl, "--timeout", "5", "fleet", "--endpoints", eps, "--fleet", FLEET]
        status_ms, status_json_ms = [], []
        rows = 0
        size = 0
        for _ in range(status_runs):
            for out, extra in ((status_ms, []), (status_json_ms, ["--json"])):
                t0 = time.monotonic()
                r = ns.run(*base, "status", *extra, check=False, timeout=60)
                out.append((time.monotonic() - t0) * 1000)
                if r.returncode != 0:
                    raise RuntimeError(f"heraldctl fleet status: {r.stderr.strip()}")
                if extra:
                    rows = len(json.loads(r.stdout)["sites"])
                    size = len(r.stdout)
        if rows != sites * args.services:
            raise RuntimeError(f"fleet status listed {rows} rows, expected {sites * args.services}")
        log(f"fleet status: {ms(statistics.median(status_ms))} ms median over {status_runs}")

        # Region drains by heraldctl: launch -> each affected site's watch.
        ctl_lat, ctl_run, put_lat = [], [], []
        for i in range(drain_regions):
            service = "dns" if args.services == 1 else f"svc{1 + i % (args.services - 1)}"
            region = f"r{i % args.regions}"
            key = f"/herald/{FLEET}/desired/{service}/region/{region}"
            t0 = time.monotonic_ns()
            r = ns.run(*base, "drain", "--region", region, service, "--reason", "bench", "--min-sites", min_sites,
                       check=False, timeout=60)
            ctl_run.append((time.monotonic_ns() - t0) / 1e6)
            if r.returncode != 0:
                raise RuntimeError(f"heraldctl fleet drain: {r.stderr.strip()}")
            seen = b.ask(f"wait {key} 10000", 15)
            if seen["seen"] != seen["affected"]:
                raise RuntimeError(f"drain {key}: {seen['seen']} of {seen['affected']} sites saw it within 10 s")
            ctl_lat += [(t - t0) / 1e6 for t in seen["times_ns"]]
            b.ask(f"del {key}", 10)
            # The same drain as a bare put: etcd's propagation alone.
            p = b.ask(f"put {key}", 15)
            if p["seen"] != p["affected"]:
                raise RuntimeError(f"put {key}: {p['seen']} of {p['affected']} sites saw it within 10 s")
            put_lat += [(t - p["t0_ns"]) / 1e6 for t in p["times_ns"]]
            b.ask(f"del {key}", 10)
        all_key = f"/herald/{FLEET}/desired/dns/all"
        p = b.ask(f"put {all_key}", 15)
        all_lat = [(t - p["t0_ns"]) / 1e6 for t in p["times_ns"]]
        all_seen = f"{p['seen']}/{p['affected']}"
        b.ask(f"del {all_key}", 10)
        log(f"drains: heraldctl p99 {ms(stats(ctl_lat)['p99'])} ms, put p99 {ms(stats(put_lat)['p99'])} ms")

        # The floor txn: one site failing at a time, then several at once.
        # The read's first page for a share floor (fleet/floor.hpp floor_page): 128 index keys.
        page = 128
        rd = b.ask(f"read {floor_rounds} {page}", 120)
        if rd["keys"] < min(page, sites):
            raise RuntimeError(f"floor read: {rd['keys']} index keys of a page of {page}")
        rf = b.ask(f"read {floor_rounds} 0", 120)
        if rf["keys"] != sites:
            raise RuntimeError(f"floor full read: {rf['keys']} index keys of {sites} sites")
        sr = b.ask(f"sites-read {floor_rounds}", 300)
        f1 = b.ask(f"floor {floor_rounds} 1 {min_sites}", 300)
        fn = b.ask(f"floor {max(1, floor_rounds // 3)} {floor_conc} {min_sites}", 300)
        fs = b.ask(f"floor {max(1, floor_rounds // 3)} {floor_conc} {min_sites} spread", 300)
        log(f"floor: {f1['verdicts']} / {fn['verdicts']} / spread {fs['verdicts']}")

        b.ask("quit", 30)
        proc.popen.wait(timeout=10)

        # The report.
        s_st, s_js = stats(status_ms), stats(status_json_ms)
        s_ctl, s_put, s_all = stats(ctl_lat), stats(put_lat), stats(all_lat)
        s_f1, s_fn, s_fs = stats(f1["withdraw_ms"]), stats(fn["withdraw_ms"]), stats(fs["withdraw_ms"])
        s_r1 = stats(f1["recover_ms"])
        per_region = sites // args.regions

        def row(what, s, target, ok):
            return f"| {what} | {s['n']} | {ms(s['p50'])} | {ms(s['p99'])} | {ms(s['max'])} | {target} | {'yes' if ok else '**no**'} |"

        print(f"### Fleet scale: {sites} sites x {args.services} services, 3-member etcd "
              f"({'quick' if args.quick else 'full'} mode)")
        print()
        print(f"- {subprocess.run(['etcd', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}; "
              f"lease TTL {args.ttl} s (keep-alive every {args.ttl / 3:.1f} s); {args.regions} regions of "
              f"{per_region} sites; min-sites {min_sites}")
        print(f"- {os.cpu_count()} CPUs shared with other work; load average at the end "
              f"{open('/proc/loadavg').read().split()[0:3]}")
        print()
        print("| Measure (ms) | n | p50 | p99 | max | target | met |")
        print("|---|---|---|---|---|---|---|")
        print(row(f"`heraldctl fleet status` ({rows} rows)", s_st, "< 1000", s_st["max"] < 1000))
        print(row(f"`heraldctl fleet status --json` ({size // 1024} KiB)", s_js, "< 1000", s_js["max"] < 1000))
        print(row(f"region drain: `heraldctl fleet drain` launch -> each site's watch ({drain_regions} regions)",
                  s_ctl, "p99 < 1000", s_ctl["p99"] < 1000))
        print(f"| (the `heraldctl fleet drain` command itself) | {len(ctl_run)} | {ms(statistics.median(ctl_run))} | "
              f"{ms(max(ctl_run))} | {ms(max(ctl_run))} | | |")
        print(row("region drain: put -> each site's watch", s_put, "p99 < 1000", s_put["p99"] < 1000))
        print(row(f"`--all` drain: put -> each site's watch ({all_seen} sites)", s_all, "p99 < 1000",
                  s_all["p99"] is not None and s_all["p99"] < 1000))
        print(row(f"the floor's read alone: count of `index/dns/`, its first {page} keys, own key, ledger keys, "
                  f"at one revision ({rd['keys']} keys, {rd['bytes'] // 1024} KiB), parsed", stats(rd["ms"]), "", True))
        print(row(f"(the read before paging: all of `index/dns/` and the ledger, {rf['keys']} keys, "
                  f"{rf['bytes'] // 1024} KiB, parsed)", stats(rf["ms"]), "", True))
        print(row(f"(the read before the index: every site's whole state, {sr['bytes'] // 1024} KiB, parsed)",
                  stats(sr["ms"]), "", True))
        print(row("floor txn added to a withdrawal, 1 site failing", s_f1, "< 50", s_f1["p99"] < 50))
        print(row(f"floor txn added to a withdrawal, {floor_conc} sites failing at once (consecutive: "
                  "each among the others' witnesses)", s_fn, "< 50", s_fn["p99"] < 50))
        print(row(f"floor txn added to a withdrawal, {floor_conc} sites failing at once, spread across the fleet",
                  s_fs, "< 50", s_fs["p99"] < 50))
        print(row("floor txn on recovery (deleting its ledger key), 1 site", s_r1, "", True))
        print()
        print(f"At rest over {window:.0f} s (no change anywhere): etcd CPU "
              + ", ".join(f"{n} {cpu[n]:.1f}%" for n in etcd.names)
              + f" of one core; writes (mvcc put+delete+txn) {writes:.2f}/s; raft proposals {proposals:.2f}/s; "
              f"lease keep-alives {keepalives:.0f}/s (expected {sites / (args.ttl / 3):.0f}/s); "
              f"the {sites} simulated sites together {bench_cpu:.1f}% of one core. "
              f"Keep-alive failures {st['keepalive_failures']}, leases lost {st['leases_lost']}, "
              f"watch restarts {st['watch_restarts']}.")
        print()
        print(f"Floor verdicts: 1 at a time {f1['verdicts']}; {floor_conc} at once {fn['verdicts']}, "
              f"txn attempts {sorted(set(fn['attempts']))}; spread {fs['verdicts']}, "
              f"txn attempts {sorted(set(fs['attempts']))}.")
        log(f"done in {time.monotonic() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, TimeoutError) as e:
        print(f"fleet_scale: {e}", file=sys.stderr)
        sys.exit(1)
