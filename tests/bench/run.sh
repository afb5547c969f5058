#!/usr/bin/env bash
# Runs every side-by-side benchmark of herald against ExaBGP, GoBGP and BIRD, and the fleet's
# scale benchmark (see docs/benchmarks.md), and writes their markdown tables to stdout and, with
# --out, to a file. Needs root (network namespaces), a built tree (herald, heraldctl, bench_codec,
# bench_prefix_set, bench_fleet) and the Debian packages of .ci/deps.sh (bird2, unbound, exabgp,
# gobgpd, tcpdump, dnsutils, etcd-server, curl).
#
#   bash tests/bench/run.sh [--quick] [--out FILE] [--build DIR]
#
# --quick: 3 failover rounds instead of 20, short windows and smaller tables; it proves that the
# benchmarks still run (CI runs it) but its figures are not the ones to quote.
# The build directory is --build, else $HERALD_BUILD, else <repo>/build.
# Exit status: non-zero when a benchmark could not complete (not when a target is missed).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
quick=() out="" build=${HERALD_BUILD:-$ROOT/build}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=(--quick) ;;
    --out) out=$2; shift ;;
    --build) build=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out FILE] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
build=$(cd "$build" && pwd) || { echo "no build directory $build" >&2; exit 2; }
export HERALD_BUILD=$build
PY=/usr/bin/python3
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
failed=()

emit() { printf '%s\n' "$*" >>"$tmp"; printf '%s\n' "$*"; }

bench() {  # bench NAME SCRIPT ARGS...: its stdout goes into the report, its stderr to ours
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name" >&2
  if ! "$PY" "$@" "${quick[@]}" | tee -a "$tmp"; then failed+=("$name"); fi
  emit "" && emit "_(${name}: $((SECONDS - t0)) s)_" && emit ""
}

mode=full; [ ${#quick[@]} -gt 0 ] && mode=quick
emit "## Results ($mode mode, $(date -u +%Y-%m-%dT%H:%MZ))"
emit ""
emit "- herald $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) (build type $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"
emit "- $(bird --version 2>&1 | head -1); $(exabgp --version 2>/dev/null | head -1 | tr -s ' '); $(gobgpd --version); unbound $(unbound -V 2>/dev/null | head -1 | sed "s/^Version //"); $(dig -v 2>&1 | head -1)"
emit "- $(nproc) CPUs, $(uname -r), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
emit ""

B=tests/bench
bench failover "$B/failover.py"
bench footprint "$B/footprint.py"
bench bulk "$B/bulk.py"
bench fulltable "$B/fulltable.py"
bench checks "$B/checks.py"
bench startup "$B/startup.py"
bench anycast "$B/anycast.py"
bench fleet "$B/fleet_scale.py"

echo "== codec" >&2
secs=1.0; [ "$mode" = quick ] && secs=0.1
emit "### Codec throughput (bench_codec $secs)"
emit ""
if [ -x "$build/tests/bench/bench_codec" ]; then
  emit '```'
  if ! "$build/tests/bench/bench_codec" "$secs" | tee -a "$tmp"; then failed+=(codec); fi
  emit '```'
else
  emit "bench_codec is not built in $build"; failed+=(codec)
fi

echo "== prefix set" >&2
count=1000000; [ "$mode" = quick ] && count=100000
emit ""
emit "### Received-prefix set (bench_prefix_set $count)"
emit ""
if [ -x "$build/tests/bench/bench_prefix_set" ]; then
  if ! "$build/tests/bench/bench_prefix_set" "$count" | tee -a "$tmp"; then failed+=(prefix_set); fi
else
  emit "bench_prefix_set is not built in $build"; failed+=(prefix_set)
fi

if [ -n "$out" ]; then cp "$tmp" "$out"; fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "benchmarks that did not complete: ${failed[*]}" >&2
  exit 1
fi
