#!/bin/bash
# The health check the users of ExaBGP, GoBGP and BIRD write: a loop that runs `dig` against the
# local DNS service every INTERVAL_MS (start to start), counts RISE good / FALL bad results in a
# row, and runs UP_CMD / DOWN_CMD on a change. Each decision is appended to DECISION_LOG as
# "<epoch seconds with microseconds> <up|down> <tag>" so that the benchmark can compare it with
# the moment the UPDATE is on the wire.
#
#   dig_check.sh TAG SERVER QNAME EXPECT INTERVAL_MS RISE FALL DIG_TIME DECISION_LOG UP_CMD DOWN_CMD
#
# UP_CMD and DOWN_CMD are evaluated by this shell (for ExaBGP they print API commands on stdout).
set -u
tag=$1 server=$2 qname=$3 expect=$4 interval_ms=$5 rise=$6 fall=$7 dig_time=$8 log=$9
up_cmd=${10} down_cmd=${11}
state=down good=0 bad=0
period_us=$((interval_ms * 1000))
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
next=$(now_us)
while :; do
  out=$(dig @"$server" "$qname" A +short +time="$dig_time" +tries=1 2>/dev/null)
  if [[ $out == *"$expect"* ]]; then good=$((good + 1)) bad=0; else bad=$((bad + 1)) good=0; fi
  if [[ $state == down && $good -ge $rise ]]; then
    state=up
    echo "$EPOCHREALTIME up $tag" >>"$log"
    eval "$up_cmd"
  elif [[ $state == up && $bad -ge $fall ]]; then
    state=down
    echo "$EPOCHREALTIME down $tag" >>"$log"
    eval "$down_cmd"
  fi
  next=$((next + period_us))
  t=${EPOCHREALTIME/./}; t=$((10#$t))
  left=$((next - t))
  if ((left > 0)); then
    sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))"
  else
    next=$t
  fi
done
