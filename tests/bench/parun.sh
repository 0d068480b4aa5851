#!/usr/bin/env bash
# tests/bench/parun.sh: parun side by side with its peers, in one run.
#
#   1. 200 x /bin/true started at once: parun vs a bash loop of `&` and `wait`
#      (goal: parun within 1.5x of it); parun and npx concurrently with 20
#      commands each (goal: parun at least 10x faster).
#   2. 4 commands each printing 200,000 lines: parun's prefixed output vs the
#      same commands writing unprefixed into one file (goal: >= 50% of its
#      throughput) and vs concurrently (goal: >= 5x).
# concurrently is installed from npm into a temporary folder; when npm or the
# network is missing its rows say so.  Runs are interleaved, medians reported;
# the machine is shared and noisy: only the ratios of one run mean anything.
#
# Environment: CONC_BIN (default build/bin), RUNS (default 5), SLOW_RUNS (concurrently, default 3).
set -u
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-3}
PARUN=$CONC_BIN/parun
[ -x "$PARUN" ] || { echo "parun.sh: parun is not built ($PARUN)" >&2; exit 2; }

bench_tmp

concurrently=
if command -v npm >/dev/null; then
    if npm install --silent --no-audit --no-fund --prefix "$tmp/npm" concurrently >/dev/null 2>"$tmp/npm.err" &&
        [ -x "$tmp/npm/node_modules/.bin/concurrently" ]; then
        concurrently=$tmp/npm/node_modules/.bin/concurrently
    else
        echo "concurrently could not be installed from npm: its rows are skipped ($(head -c 200 "$tmp/npm.err" | tr '\n' ' '))"
    fi
else
    echo "npm is not installed: concurrently's rows are skipped"
fi

# ms CMD: wall milliseconds of bash -c CMD (stdout to /dev/null).
ms() {
    local t0 t1
    t0=$(date +%s%N)
    bash -c "$1" >/dev/null 2>"$tmp/err" || echo "  failed: $1: $(head -c 200 "$tmp/err")" >&2
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}

declare -A T
# bench KEY RUNS CMD: appends RUNS timings of CMD to T[KEY] (called round-robin).
bench() { T[$1]+="$(ms "$3") "; }

trues=() ; for i in $(seq 200); do trues+=(/bin/true); done
trues20=(); for i in $(seq 20); do trues20+=(/bin/true); done
printf -v P200 '%q ' "${trues[@]}"
printf -v C20 '%q ' "${trues20[@]}"
W='awk "BEGIN { for (i = 1; i <= 200000; i++) print \"line \" i }"'
printf -v W4 '%q ' "$W" "$W" "$W" "$W"

for ((r = 1; r <= RUNS; r++)); do
    bench parun200 1 "$PARUN $P200"
    bench parun20 1 "$PARUN $C20"
    bench bash200 1 'for i in $(seq 200); do /bin/true & done; wait'
    bench parun4 1 "$PARUN $W4 >/dev/null"
    bench file4 1 "( for i in 1 2 3 4; do $W & done; wait ) >$tmp/out"
    if [ -n "$concurrently" ] && [ "$r" -le "$SLOW_RUNS" ]; then
        bench conc20 1 "$concurrently $C20"
        bench conc4 1 "$concurrently $W4 >/dev/null"
    fi
done

m() { echo "${T[$1]:-}" | median; }
lines=800000
echo
echo "parun benchmark, $(date -u +%Y-%m-%d), $(nproc) CPUs, median of $RUNS (concurrently: $SLOW_RUNS)"
printf '| %-44s | %9s | %10s | %-22s |\n' scenario "median ms" "lines/s" "ratio (goal)"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "-----------" "------------" "------------------------"
p200=$(m parun200) b200=$(m bash200) c20=$(m conc20) p20=$(m parun20)
printf '| %-44s | %9s | %10s | %-22s |\n' "parun, 200 x /bin/true" "$p200" "" ""
printf '| %-44s | %9s | %10s | %-22s |\n' "bash & ... wait, 200 x /bin/true" "$b200" "" "parun/bash $(ratio "$p200" "$b200") (<=1.5)"
printf '| %-44s | %9s | %10s | %-22s |\n' "parun, 20 x /bin/true" "$p20" "" ""
printf '| %-44s | %9s | %10s | %-22s |\n' "concurrently, 20 x /bin/true" "${c20:-skipped}" "" "conc/parun20 $(ratio "$c20" "$p20") (>=10)"
p4=$(m parun4) f4=$(m file4) c4=$(m conc4)
tput() { awk -v n=$lines -v t="$1" 'BEGIN { if (t == "" || t == 0) print "-"; else printf "%.0f", n / (t / 1000) }'; }
printf '| %-44s | %9s | %10s | %-22s |\n' "parun, 4 x 200,000 lines, prefixed" "$p4" "$(tput "$p4")" ""
printf '| %-44s | %9s | %10s | %-22s |\n' "4 x 200,000 lines into one file, unprefixed" "$f4" "$(tput "$f4")" "parun/file $(ratio "$f4" "$p4") (>=0.5)"
printf '| %-44s | %9s | %10s | %-22s |\n' "concurrently, 4 x 200,000 lines" "${c4:-skipped}" "$(tput "$c4")" "parun/conc $(ratio "$c4" "$p4") (>=5)"
