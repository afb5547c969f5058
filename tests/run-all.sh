#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
#   1. installs every Debian package it needs (.ci/deps.sh),
#   2. builds with g++ (warnings are errors) and runs every unit and integration test
#      (integration tests start real BIRD, FRR and unbound in network namespaces they create
#      and delete themselves),
#   3. builds with clang++ + ASan + UBSan, runs the unit tests under the sanitizers and runs
#      every libFuzzer target for a bounded time from its committed seed corpus.
# The clang build (step 3) runs in the background while step 2's tests run: the integration
# tests mostly wait on daemons and the network, and they are written to pass on a busy machine.
# Exit status is non-zero when anything fails. Knobs: HERALD_FUZZ_SECONDS (default 45 for the
# BGP codec, a third of it for the other parsers), HERALD_JOBS (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${HERALD_JOBS:-$(nproc)}
FUZZ_SECONDS=${HERALD_FUZZ_SECONDS:-45}
failures=()
passes=0

step() { printf '\n==== %s ====\n' "$*"; }
record() {  # record NAME STATUS
  if [ "$2" -eq 0 ]; then passes=$((passes + 1)); else failures+=("$1"); fi
}

step "install dependencies"
bash .ci/deps.sh

step "build (g++, -Werror)"
cmake -S . -B build -G Ninja -DHERALD_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$JOBS"

step "build (clang++, ASan + UBSan + libFuzzer), in the background"
# -O1 with line tables: readable sanitizer reports, fuzzers fast enough, a quicker build.
# Only what runs here: unit-test binaries, fuzz targets, and the daemon and heraldctl for the
# sanitized end-to-end test. Its output goes to a log shown if it fails.
san_log=$(mktemp)
(
  set -e
  CXX=clang++-14 cmake -S . -B build-san -G Ninja -DHERALD_WERROR=ON -DHERALD_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" >/dev/null
  san_targets=$(ninja -C build-san -t targets all | grep -oE '^(test|fuzz)_[a-z0-9_]+:' | tr -d ':' | sort -u)
  # Niced: the tests beside it come first.
  nice -n 10 ninja -C build-san -j"$JOBS" $san_targets herald heraldctl
) >"$san_log" 2>&1 &
san_pid=$!

step "unit and integration tests (ctest)"
set +e
(cd build && ctest --output-on-failure --timeout 600)
record ctest $?
set -e

step "benchmarks, quick mode (tests/bench/run.sh --quick; budget 5 minutes)"
# Proves that every side-by-side benchmark still runs end to end; the figures of a quick run are
# not the ones to quote (docs/benchmarks.md has the full run).
set +e
timeout --kill-after=15 300 bash tests/bench/run.sh --quick --build build --out build/benchmarks-quick.md
record benchmarks-quick $?
set -e

if [ -x packaging/checks.sh ]; then
  step "packaging checks"
  set +e; bash packaging/checks.sh build; record packaging $?; set -e
fi

step "build (clang++, ASan + UBSan + libFuzzer): waiting for the background build"
set +e
wait "$san_pid"
rc=$?
set -e
if [ $rc -ne 0 ]; then
  tail -80 "$san_log"
  record clang-sanitizer-build $rc
  echo
  echo "suites: ${passes} passed, $(( ${#failures[@]} )) failed"
  echo "failed: ${failures[*]}"
  exit 1
fi
rm -f "$san_log"

step "unit tests under ASan + UBSan"
set +e
(cd build-san && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -E '^integration_')
record sanitized-unit-tests $?
set -e

step "end-to-end test (BIRD) against the ASan + UBSan daemon"
# The daemon and heraldctl from the sanitizer tree (only their own sources are left to compile);
# each sanitizer report goes to a file in $san_logs and any such file fails the step. herald exits
# through SIGTERM at the end of the test, so LeakSanitizer also runs.
set +e
san_logs=$(mktemp -d)
rc=0
if [ $rc -eq 0 ]; then
  HERALD_BUILD="$ROOT/build-san" \
  ASAN_OPTIONS="detect_leaks=1:log_path=$san_logs/asan" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$san_logs/ubsan" \
    timeout --kill-after=15 300 /usr/bin/python3 tests/integration/test_e2e_bird.py
  rc=$?
  if compgen -G "$san_logs/*" >/dev/null; then cat "$san_logs"/*; rc=1; fi
fi
record e2e-bird-sanitized $rc
rm -rf "$san_logs"
set -e

step "fuzzing (bounded)"
for fz in build-san/tests/fuzz/fuzz_*; do
  [ -x "$fz" ] || continue
  name=$(basename "$fz"); name=${name#fuzz_}
  secs=$((FUZZ_SECONDS / 3)); [ "$name" = bgp_codec ] && secs=$FUZZ_SECONDS
  work=$(mktemp -d)
  if [ -d "tests/fuzz/corpus/$name" ]; then cp -r "tests/fuzz/corpus/$name/." "$work/"; fi
  echo "fuzz_$name for ${secs}s"
  set +e
  "$fz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/" "$work" >"$work/log" 2>&1
  rc=$?
  set -e
  grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$work/log" | tail -2 || true
  if [ $rc -ne 0 ]; then tail -60 "$work/log"; fi
  record "fuzz_$name" $rc
  rm -rf "$work"
done

echo
echo "suites: ${passes} passed, ${#failures[@]} failed"
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed: ${failures[*]}"
  exit 1
fi
