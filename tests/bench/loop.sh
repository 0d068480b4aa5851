#!/usr/bin/env bash
# conc::loop benchmarks: a one-byte ping-pong between two tasks over two pipes
# against a hand-written poll(2) loop doing the same (in the same binary, runs
# alternated), a million items through a channel<int>, 100,000 timers.
# Run by `make bench` with BUILD=<abs build dir>; builds loop_bench when missing.
# The machine is shared and noisy: read the ratios, not the absolute figures.
set -eu
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
export RUNS
require_program bench loop_bench

bench_tmp
out=$tmp/out

echo "loop_bench (median of $RUNS runs)..." >&2
"$bench" | tee "$out" >&2

# row FIGURE MEDIAN_S GOAL_TEXT RATIO LIMIT: ok when RATIO <= LIMIT
row() {
    local verdict
    verdict=$(awk -v r="$4" -v l="$5" 'BEGIN { print (r <= l ? "ok" : "MISSED") }')
    printf '%-34s %10.3f s  %-22s %8.2fx  %s\n' "$1" "$2" "$3" "$4" "$verdict"
}

conc=$(fig pingpong_conc); poll=$(fig pingpong_poll)
chan=$(fig channel_1m); timers=$(fig timers_100k); gath=$(fig gather_timers_100k)

echo
printf '%-34s %12s  %-22s %9s  %s\n' "figure" "median" "goal" "ratio" ""
row "pingpong 200k, conc::loop" "$conc" "<= 1.3x hand poll(2)" "$(ratio "$conc" "$poll" %.4f)" 1.3
printf '%-34s %10.3f s  %-22s\n' "pingpong 200k, hand-written poll(2)" "$poll" "(peer)"
row "channel<int> 1M resumptions" "$chan" "< 0.2 s" "$(ratio "$chan" 0.2 %.4f)" 1
row "100k timers, tasks awaited" "$timers" "< 0.3 s" "$(ratio "$timers" 0.3 %.4f)" 1
row "100k timers, one gather()" "$gath" "< 0.3 s" "$(ratio "$gath" 0.3 %.4f)" 1
echo "(ratio: to the peer for pingpong, to the goal for the others; <= 1 is within it)"
