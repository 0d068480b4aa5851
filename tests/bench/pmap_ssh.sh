#!/usr/bin/env bash
# tests/bench/pmap_ssh.sh: pmap -S beside GNU parallel -S over real sshd, in one run.
#
#   Two sshd instances on loopback (tests/e2e/sshd.bash), 2 job slots each:
#   1. SSH_BENCH_JOBS (default 1000) x `true`: pmap -S, GNU parallel -S (one
#      ssh per job), GNU parallel -S --controlmaster, and pmap -j4 running the
#      same jobs here (no ssh at all).
#   2. SSH_BENCH_FILES (default 200) x --transfer --return of 100 KB files
#      (`cat {} > {}.out`, --cleanup): jobs/s and MB/s (bytes sent plus bytes
#      returned) beside GNU parallel's (which needs rsync on both ends).
#
# Goals (issue 14): pmap -S >= 10x faster than parallel -S (pmap/this <= 0.10,
# with --controlmaster too), and within 2x of pmap running the same jobs
# locally (pmap/this <= 2.00 on the local row).
#
# The machine is shared and noisy: runs are interleaved round-robin across the
# tools of a scenario and the median wall time is reported; only ratios
# measured in the same run mean anything.  The loopback hosts are this machine:
# the remote side's work competes with the client's for the same CPUs.
#
# Environment: CONC_BIN (default build/bin), RUNS (pmap rows, default 5),
# SLOW_RUNS (GNU parallel rows, default 2), SSH_BENCH_JOBS, SSH_BENCH_FILES,
# SSH_BENCH_ONLY=REGEX (only the scenarios whose names match).
set -u

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-2}
NJOBS=${SSH_BENCH_JOBS:-1000}
NFILES=${SSH_BENCH_FILES:-200}
ONLY=${SSH_BENCH_ONLY:-}
PMAP=$CONC_BIN/pmap

# shellcheck source=../e2e/sshd.bash
. "$ROOT/tests/e2e/sshd.bash"

bench_tmp
trap 'sshd_teardown; rm -rf "$tmp"' EXIT
mkdir "$tmp/sshd"

if [ ! -x "$PMAP" ]; then
    echo "pmap_ssh.sh: pmap not built ($PMAP)" >&2
    exit 2
fi
if ! { sshd_init "$tmp/sshd" && sshd_start h1 pmap && sshd_start h2 pmap; }; then
    echo "pmap_ssh.sh: skipped: sshd cannot start: $SSHD_ERROR"
    exit 0
fi
if ! "$PMAP" --ssh "ssh -F $SSH_CONFIG" -S 1/h1 true ::: 1 >/dev/null 2>"$tmp/probe"; then
    echo "pmap_ssh.sh: pmap -S does not run here ($(head -n 1 "$tmp/probe")): its rows will fail" >&2
fi
have_parallel=1 have_rsync=1
peer parallel "GNU parallel" || have_parallel=0
peer rsync "GNU parallel's --transfer" "apt-get install rsync" || have_rsync=0
# GNU parallel 20221122 quotes --return's names for rsync >= 3.2.4 twice.
export RSYNC_OLD_ARGS=1

HOSTS=2/h1,2/h2
SSH="ssh -F $SSH_CONFIG"

# --- measuring: lib.sh's rows, with each row's jobs, bytes and goal ----------

declare -A JOBS BYTES GOAL
# ssh_scenario NAME JOBS BYTES, then tool NAME RUNS CMD [GOAL] lines, then run_scenario.
ssh_scenario() {
    scenario "$1"
    SCEN_JOBS=$2 SCEN_BYTES=$3
    if [ -n "$ONLY" ] && ! [[ $SCEN =~ $ONLY ]]; then SKIP=1; fi
}
tool() {
    [ "$SKIP" = 1 ] && return 0
    add_tool "$1" "$2" "$3"
    JOBS["$SCEN|$1"]=$SCEN_JOBS
    BYTES["$SCEN|$1"]=$SCEN_BYTES
    GOAL["$SCEN|$1"]=${4:-}
}

mkdir "$tmp/work"
cd "$tmp/work" || exit 125   # the commands run here

# --- scenarios -------------------------------------------------------------

S1="$NJOBS x true, 2 hosts x 2 slots"
ssh_scenario "$S1" "$NJOBS" 0
tool "pmap -S" "$RUNS" "seq $NJOBS | $PMAP --ssh '$SSH' -S $HOSTS true"
[ $have_parallel = 1 ] && tool "parallel -S" "$SLOW_RUNS" "seq $NJOBS | parallel --ssh '$SSH' -S $HOSTS true" "<=0.10"
[ $have_parallel = 1 ] && tool "parallel -S --controlmaster" "$SLOW_RUNS" "seq $NJOBS | parallel --controlmaster --ssh '$SSH' -S $HOSTS true" "<=0.10"
tool "pmap -j4 (local)" "$RUNS" "seq $NJOBS | $PMAP -j4 true" "<=2.00"
run_scenario

# 100 KB files of random bytes; every run starts with no result and checks
# that each result came back whole.
S2="$NFILES x --transfer --return, 100 KB"
mkdir "$tmp/work/in"
for i in $(seq "$NFILES"); do head -c 102400 /dev/urandom >"$tmp/work/in/f$i"; done
fresh="rm -f in/*.out"
check="[ \$(cat in/*.out | wc -c) -eq $((NFILES * 102400)) ]"
trc="--transfer --return {}.out --cleanup 'cat {} > {}.out'"
ssh_scenario "$S2" "$NFILES" $((NFILES * 102400 * 2))
tool "pmap -S" "$RUNS" "$fresh; ls in/f* | $PMAP --ssh '$SSH' -S $HOSTS $trc && $check"
if [ $have_parallel = 1 ] && [ $have_rsync = 1 ]; then
    tool "parallel -S" "$SLOW_RUNS" "$fresh; ls in/f* | parallel --ssh '$SSH' -S $HOSTS $trc && $check"
    tool "parallel -S --controlmaster" "$SLOW_RUNS" "$fresh; ls in/f* | parallel --controlmaster --ssh '$SSH' -S $HOSTS $trc && $check"
fi
run_scenario

# --- the table -------------------------------------------------------------

[ ${#ROWS[@]} -gt 0 ] || { echo "no scenario matches SSH_BENCH_ONLY='$ONLY'" >&2; exit 2; }
medians

printf '\npmap -S benchmark, %s, %s, %s CPUs, loopback sshd (%s), runs: %s (GNU parallel %s)\n' \
    "$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)" "$(ssh -V 2>&1 | cut -d, -f1)" "$RUNS" "$SLOW_RUNS"
fmt='%-38s %-28s %9s %9s %8s %10s %-8s %s\n'
printf "$fmt" scenario tool "median s" "jobs/s" "MB/s" "pmap/this" goal verdict
printf "$fmt" "--------" "----" "--------" "------" "----" "---------" "----" "-------"
for key in "${ROWS[@]}"; do
    scen=${key%%|*} name=${key#*|}
    ms=${MED[$key]}
    refms=${MED["$scen|pmap -S"]:-}
    goal=${GOAL[$key]}
    wall=- jps=- mbs=- ratio=- verdict=-
    if [ -n "$ms" ]; then
        wall=$(seconds "$ms")
        jps=$(awk -v m="$ms" -v n="${JOBS[$key]}" 'BEGIN { printf "%.1f", (m > 0) ? n * 1000 / m : 0 }')
        [ "${BYTES[$key]}" -gt 0 ] &&
            mbs=$(awk -v m="$ms" -v b="${BYTES[$key]}" 'BEGIN { printf "%.1f", (m > 0) ? b / 1048576 * 1000 / m : 0 }')
    fi
    if [ -n "$ms" ] && [ -n "$refms" ] && [ "$name" != "pmap -S" ]; then
        ratio=$(ratio "$refms" "$ms")
    fi
    if [[ $goal == "<="* ]] && [ "$ratio" != - ]; then
        verdict=$(awk -v r="$ratio" -v g="${goal#<=}" 'BEGIN { print ((r <= g) ? "ok" : "MISS") }')
    fi
    [ -n "${STATUS[$key]:-}" ] && verdict="FAILED (${STATUS[$key]})"
    [ -z "$goal" ] && goal=-
    printf "$fmt" "$scen" "$name" "$wall" "$jps" "$mbs" "$ratio" "$goal" "$verdict"
done
cat <<'EOF'

pmap/this: pmap -S's median wall over this row's (below 1: pmap -S is faster).
Goals: pmap -S <= 0.10x GNU parallel -S, plain and with --controlmaster (10x
faster); pmap -S <= 2.00x pmap -j4 running the same jobs locally.  MB/s counts
the bytes sent and the bytes returned.
EOF
