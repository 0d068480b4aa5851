#!/usr/bin/env bash
# tests/bench/pmap.sh: pmap side by side with its peers, in one run.
#
#   peers: xargs -P, GNU parallel, Python multiprocessing.Pool(2).imap running
#   the command per item through subprocess.run, and spawn_floor (a bare
#   posix_spawn + waitpid loop: the floor no tool can beat).
#
# The machine is shared and noisy: runs are interleaved round-robin across the
# tools of a scenario, the median wall time is reported, and only ratios
# measured in the same run mean anything.  Peak RSS is /usr/bin/time's %M: the
# largest single process of the pipeline (pmap itself for pmap's rows).
#
# Environment: CONC_BIN (default build/bin), BUILD (default build), RUNS (fast
# tools, default 5), SLOW_RUNS (GNU parallel and Python, default 2),
# PMAP_BENCH_FULL=1 adds GNU parallel to the 2,000,000-item scenario (~100 s);
# PMAP_BASELINE=/path/to/an/older/pmap adds its rows beside pmap's in the
# first and third scenarios: a before-and-after measured in the same run.
# PMAP_BENCH_ONLY=REGEX runs only the scenarios whose names match it, and
# PMAP_BENCH_ITEMS=N sets the first scenario's item count (default 5000).
set -u
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-2}
FULL=${PMAP_BENCH_FULL:-0}
BASELINE=${PMAP_BASELINE:-}
ONLY=${PMAP_BENCH_ONLY:-}
N1=${PMAP_BENCH_ITEMS:-5000}
PMAP=$CONC_BIN/pmap

if [ $have_time = 0 ]; then
    echo "pmap.sh: $TIME is missing: apt-get install -y time" >&2
    exit 2
fi

bench_tmp
export tmp

have_pmap=1
if [ ! -x "$PMAP" ]; then
    echo "pmap not built ($PMAP): its rows are skipped"
    have_pmap=0
fi
have_floor=1
bench_program FLOOR spawn_floor || { echo "spawn_floor not built ($FLOOR): its rows are skipped"; have_floor=0; }
have_parallel=1
peer parallel "GNU parallel" || have_parallel=0
have_python=1
peer python3 python3 || have_python=0

# Python's Pool(2).imap, one subprocess.run per item: the same work as the others.
cat >"$tmp/pool_imap.py" <<'EOF'
import subprocess, sys
from multiprocessing import Pool

CMD = sys.argv[1:]

def run(line):
    return subprocess.run(CMD + [line.rstrip("\n")]).returncode

if __name__ == "__main__":
    with Pool(2) as pool:
        failed = sum(1 for rc in pool.imap(run, sys.stdin) if rc)
    sys.exit(123 if failed else 0)
EOF

head -c 65536 /dev/zero >"$tmp/blob64k"
head -c 131072 /dev/zero >"$tmp/blob128k"

# --- measuring -------------------------------------------------------------

declare -A JOBS GOAL

# scenario NAME JOBS, then tool NAME RUNS CMD [GOAL] lines, then run_scenario.
pmap_scenario() {
    scenario "$1"
    SCEN_JOBS=$2
    if [ -n "$ONLY" ] && ! [[ $SCEN =~ $ONLY ]]; then SKIP=1; fi
}
tool() {
    [ "$SKIP" = 1 ] && return 0
    add_tool "$1" "$2" "$3"
    JOBS["$SCEN|$1"]=$SCEN_JOBS
    GOAL["$SCEN|$1"]=${4:-}
}

# --- scenarios -------------------------------------------------------------

S1="$N1 x /bin/true -j2"
pmap_scenario "$S1" "$N1"
[ $have_pmap = 1 ] && tool "pmap" "$RUNS" "seq $N1 | $PMAP -j2 /bin/true"
[ -n "$BASELINE" ] && tool "pmap (baseline)" "$RUNS" "seq $N1 | $BASELINE -j2 /bin/true"
[ $have_pmap = 1 ] && tool "pmap -k" "$RUNS" "seq $N1 | $PMAP -j2 -k /bin/true" "k<=1.05"
[ $have_pmap = 1 ] && tool "pmap -u (raw, like xargs)" "$RUNS" "seq $N1 | $PMAP -j2 -u /bin/true"
tool "xargs -P2 -n1" "$RUNS" "seq $N1 | xargs -P2 -n1 /bin/true" "<=0.80"
[ $have_parallel = 1 ] && tool "parallel -j2" "$SLOW_RUNS" "seq $N1 | parallel -j2 /bin/true" "<=0.20"
[ $have_floor = 1 ] && tool "spawn_floor" "$RUNS" "$FLOOR 2 $N1 /bin/true" "<=1.25"
[ $have_python = 1 ] && tool "python Pool(2).imap" "$SLOW_RUNS" "seq $N1 | python3 $tmp/pool_imap.py /bin/true"
run_scenario

S2="2000 jobs x 64 KiB out"
pmap_scenario "$S2" 2000
items="yes $tmp/blob64k | head -n 2000"
check="wc -c | grep -qx $((2000 * 65536))"
[ $have_pmap = 1 ] && tool "pmap (grouped)" "$RUNS" "$items | $PMAP -j2 cat | $check"
[ $have_parallel = 1 ] && tool "parallel -j2 (grouped)" "$SLOW_RUNS" "$items | parallel -j2 cat | $check" "<=0.333"
tool "xargs -P2 -n1 (mixed)" "$RUNS" "$items | xargs -P2 -n1 cat | $check"
run_scenario

S3="seq 2000000, -n 1000"
pmap_scenario "$S3" 2000
[ $have_pmap = 1 ] && tool "pmap -n 1000" "$RUNS" "seq 2000000 | $PMAP -j2 -n 1000 true" "RSS<=8MiB"
[ -n "$BASELINE" ] && tool "pmap -n 1000 (baseline)" "$RUNS" "seq 2000000 | $BASELINE -j2 -n 1000 true"
tool "xargs -P2 -n 1000" "$RUNS" "seq 2000000 | xargs -P2 -n 1000 true"
[ $have_parallel = 1 ] && [ "$FULL" = 1 ] && tool "parallel -j2 -n 1000" "$SLOW_RUNS" "seq 2000000 | parallel -j2 -n 1000 true"
run_scenario
[ "$FULL" = 1 ] || echo "  (GNU parallel skipped here: ~100 s; PMAP_BENCH_FULL=1 adds it)" >&2

# Job 1 waits until the last job has run; jobs 2..1001 each print 128 KiB, so
# -k must hold 128 MiB back: bounded memory means spilling to a file.
S4="-k, slow first job, 1000 x 128 KiB"
pmap_scenario "$S4" 1001
cat >"$tmp/slow.sh" <<EOF
if [ "\$1" = 1 ]; then while [ ! -e $tmp/last ]; do sleep 0.02; done; fi
cat $tmp/blob128k
if [ "\$1" = 1001 ]; then : >$tmp/last; fi
EOF
slow="sh $tmp/slow.sh"
check="wc -c | grep -qx $((1001 * 131072))"
[ $have_pmap = 1 ] && tool "pmap -k" "$RUNS" "rm -f $tmp/last; seq 1001 | $PMAP -j2 -k $slow | $check" "RSS<=80MiB"
[ $have_parallel = 1 ] && tool "parallel -j2 -k" "$SLOW_RUNS" "rm -f $tmp/last; seq 1001 | parallel -j2 -k $slow | $check"
run_scenario

# Packing: -N 100 beside xargs -n 100, and -X (as many as fit) beside xargs's own filling.
S5="seq 100000, -N 100"
pmap_scenario "$S5" 1000
[ $have_pmap = 1 ] && tool "pmap -N 100" "$RUNS" "seq 100000 | $PMAP -j2 -N 100 true"
tool "xargs -P2 -n 100" "$RUNS" "seq 100000 | xargs -P2 -n 100 true" "<=0.80"
[ $have_parallel = 1 ] && tool "parallel -j2 -N100" "$SLOW_RUNS" "seq 100000 | parallel -j2 -N100 true" "<=0.20"
run_scenario

S6="seq 100000, -X (as many as fit)"
pmap_scenario "$S6" 1
[ $have_pmap = 1 ] && tool "pmap -X" "$RUNS" "seq 100000 | $PMAP -j2 -X echo 'x{}' | wc -l | grep -qx '[1-9][0-9]*'"
[ $have_pmap = 1 ] && tool "pmap -m" "$RUNS" "seq 100000 | $PMAP -j2 -m true"
tool "xargs -P2 (fills)" "$RUNS" "seq 100000 | xargs -P2 true"
[ $have_parallel = 1 ] && tool "parallel -j2 -X" "$SLOW_RUNS" "seq 100000 | parallel -j2 -X echo 'x{}' | wc -l | grep -qx '[1-9][0-9]*'" "<=0.20"
run_scenario

# --- the table -------------------------------------------------------------

[ ${#ROWS[@]} -gt 0 ] || { echo "no scenario matches PMAP_BENCH_ONLY='$ONLY'" >&2; exit 2; }
medians

# The pmap row a scenario's ratios are taken against.
pmap_ref() {
    case $1 in
        "$S1") echo "$1|pmap" ;;
        "$S2") echo "$1|pmap (grouped)" ;;
        "$S3") echo "$1|pmap -n 1000" ;;
        "$S4") echo "$1|pmap -k" ;;
        "$S5") echo "$1|pmap -N 100" ;;
        "$S6") echo "$1|pmap -X" ;;
    esac
}

printf '\npmap benchmark, %s, %s, %s CPUs, runs: %s (slow peers %s)\n' "$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)" "$RUNS" "$SLOW_RUNS"
fmt='%-34s %-24s %9s %9s %10s %10s %-12s %s\n'
printf "$fmt" scenario tool "median s" "jobs/s" "peak RSS" "pmap/this" goal verdict
printf "$fmt" "--------" "----" "--------" "------" "--------" "---------" "----" "-------"
for key in "${ROWS[@]}"; do
    scen=${key%%|*} name=${key#*|}
    ms=${MED[$key]}
    ref=$(pmap_ref "$scen")
    refms=${MED[$ref]:-}
    goal=${GOAL[$key]}
    wall=- jps=- rss=- ratio=- verdict=-
    if [ -n "$ms" ]; then
        wall=$(seconds "$ms")
        jps=$(per_second "${JOBS[$key]}" "$ms")
        rss=$(mib "${RSS[$key]}")
    fi
    if [ -n "$ms" ] && [ -n "$refms" ] && [ "$key" != "$ref" ]; then
        ratio=$(ratio "$refms" "$ms")
    fi
    case $goal in
        "<="*)
            # pmap's wall over this tool's must stay under the bound.
            [ "$ratio" != - ] && verdict=$(awk -v r="$ratio" -v g="${goal#<=}" 'BEGIN { print ((r <= g) ? "ok" : "MISS") }')
            ;;
        "k<="*)
            # pmap -k's wall over plain pmap's.
            base=${MED["$scen|pmap"]:-}
            if [ -n "$ms" ] && [ -n "$base" ]; then
                ratio=$(ratio "$ms" "$base")
                goal="-k/pmap${goal#k}"
                verdict=$(awk -v r="$ratio" -v g="${goal#-k/pmap<=}" 'BEGIN { print ((r <= g) ? "ok" : "MISS") }')
            fi
            ;;
        "RSS<="*)
            lim=${goal#RSS<=}
            lim=${lim%MiB}
            [ -n "$ms" ] && verdict=$(awk -v k="${RSS[$key]}" -v l="$lim" 'BEGIN { print ((k <= l * 1024) ? "ok" : "MISS") }')
            ;;
    esac
    [ -n "${STATUS[$key]:-}" ] && verdict="FAILED (${STATUS[$key]})"
    [ -z "$goal" ] && goal=-
    printf "$fmt" "$scen" "$name" "$wall" "$jps" "$rss" "$ratio" "$goal" "$verdict"
done
cat <<'EOF'

pmap/this: pmap's median wall over this tool's (below 1: pmap is faster); for
"pmap -k" in the first scenario, pmap -k's wall over plain pmap's.  Goals: pmap
<= 0.80x xargs, <= 0.20x GNU parallel, <= 1.25x the spawn floor, -k <= 1.05x;
grouped 64 KiB output >= 3x faster than GNU parallel; RSS bounds as shown;
-N 100 <= 0.80x xargs -n 100 and <= 0.20x GNU parallel -N100; -X <= 0.20x GNU
parallel -X ("jobs/s" of the -X rows counts one job: they pack ARG_MAX).
EOF
