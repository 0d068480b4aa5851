#!/usr/bin/env bash
# libconc benchmarks: thread_pool and fork_pool against their peers (a plain
# mutex+condvar thread queue, std::async, Python's multiprocessing.Pool), and
# sync_bench when it is built.  Run by `make bench` with BUILD=<abs build dir>.
# The machine is shared and noisy: read the ratios, not the absolute figures.
set -eu
. "$(dirname "$0")/lib.sh"
N=${N:-1000000}
RUNS=${RUNS:-5}
export RUNS
require_program pool_bench pool_bench

bench_tmp
out=$tmp/out

echo "pool_bench ($N items, median of $RUNS runs)..." >&2
for fig in thread_pool_submit thread_pool_imap_chunk1000 plain_queue_submit std_async; do
    "$pool_bench" "$N" "$fig" | tee -a "$out" >&2
done

if ! command -v python3 >/dev/null; then
    echo "libconc.sh: no python3: fork_pool measured alone" >&2
    "$pool_bench" "$N" fork_pool_imap_chunk1000 | tee -a "$out" >&2
else
    # fork_pool and its Python peer run alternately, one run each per round,
    # so both see the same load on a shared machine; the figures are the
    # medians of RUNS rounds, and the ratio is the median of the rounds' ratios.
    echo "fork_pool vs python3 multiprocessing.Pool(2).imap, chunksize=1000, $RUNS alternating rounds..." >&2
    cat > "$out.py" <<'PY'
import multiprocessing, sys, time
def square_of_str(s):
    return str(int(s) * int(s))
if __name__ == "__main__":
    n, runs = int(sys.argv[1]), int(sys.argv[2])
    items = [str(i) for i in range(n)]
    rates = []
    with multiprocessing.Pool(2) as pool:
        for _ in range(runs):
            t = time.perf_counter()
            for r in pool.imap(square_of_str, items, chunksize=1000):
                pass
            rates.append(n / (time.perf_counter() - t))
    rates.sort()
    print("python_pool_imap_chunk1000\t%.0f" % rates[len(rates) // 2])
PY
    : > "$out.pairs"
    for _ in $(seq "$RUNS"); do
        c=$(RUNS=1 "$pool_bench" "$N" fork_pool_imap_chunk1000 | cut -f2)
        p=$(python3 "$out.py" "$N" 1 | cut -f2)
        printf '%s\t%s\n' "$c" "$p" | tee -a "$out.pairs" >&2
    done
    printf 'fork_pool_imap_chunk1000\t%s\n' "$(cut -f1 "$out.pairs" | median)" >> "$out"
    printf 'python_pool_imap_chunk1000\t%s\n' "$(cut -f2 "$out.pairs" | median)" >> "$out"
    printf 'fork_pool_over_python_paired\t%s\n' "$(awk -F'\t' '{ printf "%.4f\n", $1 / $2 }' "$out.pairs" | median)" >> "$out"
fi

# row NAME PEER GOAL_TEXT GOAL_RATIO: ratio = NAME / PEER
row() {
    local a b ratio verdict
    a=$(fig "$1"); b=$(fig "$2")
    if [ -z "$a" ] || [ -z "$b" ]; then
        printf '%-28s %14s %-28s %14s %9s  %-14s %s\n' "$1" "${a:--}" "$2" "${b:--}" "-" "$3" "not measured"
        return
    fi
    ratio=$(ratio "$a" "$b")
    verdict=$(awk -v r="$ratio" -v g="$4" 'BEGIN { print (r >= g ? "ok" : "MISSED") }')
    printf '%-28s %14.0f %-28s %14.0f %8sx  %-14s %s\n' "$1" "$a" "$2" "$b" "$ratio" "$3" "$verdict"
}

echo
printf '%-28s %14s %-28s %14s %9s  %-14s %s\n' "conc (items/s)" "" "peer (items/s)" "" "ratio" "goal" ""
row thread_pool_submit plain_queue_submit ">= 0.67x" 0.67
row thread_pool_submit std_async "(reference)" 0
row thread_pool_imap_chunk1000 plain_queue_submit "(reference)" 0
row fork_pool_imap_chunk1000 python_pool_imap_chunk1000 ">= 20x" 20
pr=$(fig fork_pool_over_python_paired)
if [ -n "$pr" ]; then
    awk -v r="$pr" 'BEGIN { printf "%-28s %14s %-28s %14s %8.2fx  %-14s %s\n", "fork_pool_imap_chunk1000", "", "python, median of round ratios", "", r, ">= 20x", (r >= 20 ? "ok" : "MISSED") }'
fi
imap=$(fig thread_pool_imap_chunk1000)
awk -v r="$imap" -v c="$(nproc)" 'BEGIN { printf "%-28s %14.0f %-28s %14s %9s  %-14s %s\n", "thread_pool_imap_chunk1000", r, "(absolute, " c " CPUs)", "", "", ">= 1e7/s", (r >= 1e7 ? "ok" : "MISSED") }'

if [ -x "$BUILD/bench/sync_bench" ]; then
    # conc::mutex against pthread_mutex_t (pairs of lock/unlock per second,
    # medians of 5); see sync_bench.cpp for why the single-threaded peer
    # cannot be matched by any lock shared between processes.
    echo
    echo "sync_bench (median of 5 runs each)..." >&2
    "$BUILD/bench/sync_bench" > "$out.sync"
    sfig() { fig "$1" "$out.sync"; }
    srow() {
        awk -v a="$(sfig "$1")" -v b="$(sfig "$2")" -v n="$1" -v p="$2" -v g="$3" 'BEGIN {
            r = b / a
            printf "%-36s %12.0f %-44s %12.0f %7.2fx  %s\n", n, a, p, b, r, (g == "" ? "(reference)" : (r <= g ? "<= " g "x ok" : "<= " g "x MISSED"))
        }'
    }
    printf '%-36s %12s %-44s %12s %8s  %s\n' "conc (lock/unlock per s)" "" "peer" "" "peer/conc" "goal"
    srow conc_mutex_uncontended pthread_mutex_uncontended_single_threaded 1.5
    srow conc_mutex_uncontended_threaded pthread_mutex_uncontended_threaded 1.5
    srow conc_mutex_uncontended pthread_pshared_mutex_uncontended 1.5
    srow conc_mutex_uncontended pthread_robust_pshared_mutex_uncontended ""
    srow conc_mutex_contended_2proc pthread_pshared_mutex_contended_2proc ""
fi
