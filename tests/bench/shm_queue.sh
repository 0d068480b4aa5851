#!/usr/bin/env bash
# shm_queue benchmarks: conc::shm_queue in one process and between processes,
# beside POSIX message queues (mq_send / mq_receive) between two processes.
# Run by `make bench` with BUILD=<abs build dir>.  The machine is shared and
# noisy: the load average is printed with the table; read the ratios, and the
# *_cpu figures (items per second of CPU time), which load does not move much.
set -eu
. "$(dirname "$0")/lib.sh"
N=${N:-2000000}
RUNS=${RUNS:-5}
export RUNS
require_program bench shm_queue_bench

bench_tmp
out=$tmp/out
echo "shm_queue_bench ($N items a run, batched figures 10x that; median of $RUNS runs)..." >&2
"$bench" "$N" | tee "$out" >&2

# row NAME PEER GOAL_TEXT GOAL_RATIO: ratio = NAME / PEER
row() {
    local a b ratio verdict
    a=$(fig "$1"); b=$(fig "$2")
    ratio=$(ratio "$a" "$b")
    verdict=$(awk -v r="$ratio" -v g="$4" 'BEGIN { print (g == 0 ? "" : r >= g ? "ok" : "MISSED") }')
    printf '%-22s %14.0f %-10s %12.0f %9sx  %-10s %s\n' "$1" "$a" "$2" "$b" "$ratio" "$3" "$verdict"
}
# absolute NAME GOAL: items/s against a floor (0: no goal, printed for the record)
absolute() {
    local a
    a=$(fig "$1")
    awk -v n="$1" -v a="$a" -v g="$2" 'BEGIN {
        printf "%-22s %14.0f %-10s %12s %10s  %-10s %s\n", n, a, "", "", "",
            (g > 0 ? sprintf(">= %.0e/s", g) : "(record)"), (g == 0 ? "" : a >= g ? "ok" : "MISSED") }'
}

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
printf '%-22s %14s %-10s %12s %10s  %-10s %s\n' "conc (items/s)" "" "peer" "" "ratio" "goal" ""
absolute shmq_put_get_1proc 5e6
absolute shmq_put_get_1proc_cpu 0
absolute shmq_many_1proc 5e7
absolute shmq_many_1proc_cpu 0
row shmq_1x1_single mq_1x1 "(record)" 0
row shmq_1x1_many mq_1x1 "(record)" 0
absolute shmq_2x2_single 0
absolute shmq_2x2_many 0
