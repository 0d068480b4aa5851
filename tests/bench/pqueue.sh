#!/usr/bin/env bash
# tests/bench/pqueue.sh: pqueue side by side with its peers, in one run.
#
#   1. 1,000,000 short lines (seq) from one producer to one consumer, end to
#      end: `pqueue get --follow q` draining while `pqueue put q` reads the
#      file, on a queue made with --maxsize 100000.  Peers: mq_peer (a C++
#      program moving each line with mq_send/mq_receive between two processes,
#      tests/bench/mq_peer.cpp) and Python's multiprocessing.Queue (one
#      producer, one consumer process).  Goals: pqueue >= 10,000,000 items/s,
#      >= 50x mq_peer, >= 50x Python.
#   2. One `pqueue put q x` and one `pqueue get q`, each against starting
#      /bin/true (spawn_median: round-robin, median of N).  Goal: <= 1.5x.
# Runs are interleaved round-robin; the machine is shared and noisy: only
# the ratios of one run mean anything.  "CPU ms" is user + system time of
# every process of a run (/usr/bin/time; children that were waited for
# included), which a loaded machine inflates far less than the wall time.
# Peak RSS is /usr/bin/time's %M: the larger of pqueue put and get; mq_peer's
# parent; Python's parent.
#
# Environment: CONC_BIN (default build/bin), BUILD (default build), RUNS
# (default 5), SLOW_RUNS (Python, default 2), ITEMS (default 1000000),
# SPAWNS (single operations, default 2000).
set -u
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-2}
ITEMS=${ITEMS:-1000000}
SPAWNS=${SPAWNS:-2000}
PQUEUE=$CONC_BIN/pqueue

[ -x "$PQUEUE" ] || { echo "pqueue.sh: pqueue is not built ($PQUEUE)" >&2; exit 2; }
[ $have_time = 1 ] || { echo "pqueue.sh: $TIME is missing: apt-get install -y time" >&2; exit 2; }
have_mq=1; bench_program MQ mq_peer || { echo "mq_peer not built ($MQ): its rows are skipped"; have_mq=0; }
have_spawn=1; bench_program SPAWN spawn_median || { echo "spawn_median not built ($SPAWN): its rows are skipped"; have_spawn=0; }
have_python=1; peer python3 python3 || have_python=0

bench_tmp
Q=conc-bench-$$
trap '"$PQUEUE" rm -f "$Q" "$Q.one"; rm -rf "$tmp"' EXIT
seq "$ITEMS" >"$tmp/lines"

cat >"$tmp/mp_queue.py" <<'EOF'
# One producer (this process) puts each line of a file into a
# multiprocessing.Queue(100000); one consumer process writes them out.
import multiprocessing as mp, sys

def consume(q):
    out = sys.stdout.write
    for item in iter(q.get, None):
        out(item)
    sys.stdout.flush()

if __name__ == "__main__":
    q = mp.Queue(100000)
    c = mp.Process(target=consume, args=(q,))
    c.start()
    put = q.put
    with open(sys.argv[1]) as f:
        for line in f:
            put(line)
    put(None)
    c.join()
    sys.exit(c.exitcode)
EOF

FMT='%M %U %S'
rss_of() { tail -1 "$1" | awk '{ print $1 }'; }
cpu_of() { tail -1 "$1" | awk '{ printf "%d", ($2 + $3) * 1000 }'; }
declare -A T M C

# check NAME FILE: FILE must hold every line once, in order for one consumer.
check() { cmp -s "$2" "$tmp/lines" || echo "  $1: the output differs from the input" >&2; }

run_pqueue() {
    "$PQUEUE" rm -f "$Q"
    "$PQUEUE" create --maxsize 100000 "$Q"
    local t0 t1 g m1 m2
    t0=$(now_ms)
    "$TIME" -f "$FMT" -o "$tmp/rss.get" "$PQUEUE" get --follow "$Q" >"$tmp/out.pqueue" &
    g=$!
    "$TIME" -f "$FMT" -o "$tmp/rss.put" "$PQUEUE" put "$Q" <"$tmp/lines"
    "$PQUEUE" close "$Q"
    wait "$g"
    t1=$(now_ms)
    T[pqueue]+="$((t1 - t0)) "
    m1=$(rss_of "$tmp/rss.get") m2=$(rss_of "$tmp/rss.put")
    M[pqueue]+="$((m1 > m2 ? m1 : m2)) "
    C[pqueue]+="$(($(cpu_of "$tmp/rss.get") + $(cpu_of "$tmp/rss.put"))) "
    check pqueue "$tmp/out.pqueue"
}

run_mq() {
    local t0 t1
    t0=$(now_ms)
    "$TIME" -f "$FMT" -o "$tmp/rss.mq" "$MQ" "$tmp/lines" >"$tmp/out.mq" 2>"$tmp/mq.err"
    t1=$(now_ms)
    T[mq]+="$((t1 - t0)) "
    M[mq]+="$(rss_of "$tmp/rss.mq") "
    C[mq]+="$(cpu_of "$tmp/rss.mq") "
    MQ_MAXMSG=$(sed -n 's/^mq_peer: maxmsg //p' "$tmp/mq.err")
    check mq_peer "$tmp/out.mq"
}

run_python() {
    local t0 t1
    t0=$(now_ms)
    "$TIME" -f "$FMT" -o "$tmp/rss.py" python3 "$tmp/mp_queue.py" "$tmp/lines" >"$tmp/out.py"
    t1=$(now_ms)
    T[python]+="$((t1 - t0)) "
    M[python]+="$(rss_of "$tmp/rss.py") "
    C[python]+="$(cpu_of "$tmp/rss.py") "
    check python "$tmp/out.py"
}

MQ_MAXMSG=
for ((r = 1; r <= RUNS; r++)); do
    run_pqueue
    [ "$have_mq" = 1 ] && run_mq
    [ "$have_python" = 1 ] && [ "$r" -le "$SLOW_RUNS" ] && run_python
done

single=
if [ "$have_spawn" = 1 ]; then
    "$PQUEUE" rm -f "$Q.one"
    "$PQUEUE" create "$Q.one"
    single=$("$SPAWN" "$SPAWNS" /bin/true -- "$PQUEUE" put "$Q.one" x -- "$PQUEUE" get "$Q.one")
fi

m() { echo "${T[$1]:-}" | median; }
cpu() { echo "${C[$1]:-}" | median; }
rss() { local k; k=$(echo "${M[$1]:-}" | median); [ -n "$k" ] && awk -v k="$k" 'BEGIN { printf "%.1f M", k / 1024 }'; }
rate() { awk -v n="$ITEMS" -v t="$1" 'BEGIN { if (t == "" || t == 0) print "-"; else printf "%.0f", n / (t / 1000) }'; }
goal() { awk -v r="$1" -v g="$2" 'BEGIN { if (r == "-") print "-"; else print (r >= g ? "ok" : "missed") }'; }
comma() { echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }

p=$(m pqueue) q=$(m mq) y=$(m python)
echo
echo "pqueue benchmark, $(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg); median of $RUNS (Python: $SLOW_RUNS)"
printf '| %-52s | %9s | %12s | %7s | %8s | %-30s |\n' "$(comma "$ITEMS") lines, 1 producer -> 1 consumer" "median ms" "items/s" "CPU ms" "peak RSS" "pqueue is (goal)"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "-----------" "--------------" "---------" "----------" "--------------------------------"
pr=$(rate "$p")
printf '| %-52s | %9s | %12s | %7s | %8s | %-30s |\n' "pqueue put, pqueue get --follow; --maxsize 100000" "$p" "$(comma "$pr")" "$(cpu pqueue)" "$(rss pqueue)" \
    "$(awk -v r="$pr" 'BEGIN { printf "%s (>= 10,000,000)", (r >= 10000000 ? "ok" : "missed") }')"
if [ -n "${T[mq]:-}" ]; then
    x=$(ratio "$q" "$p" %.1f)
    printf '| %-52s | %9s | %12s | %7s | %8s | %-30s |\n' "mq_send/mq_receive, 2 processes, maxmsg $MQ_MAXMSG" "$q" "$(comma "$(rate "$q")")" "$(cpu mq)" "$(rss mq)" "${x}x faster, $(goal "$x" 50) (>= 50x)"
fi
if [ -n "${T[python]:-}" ]; then
    x=$(ratio "$y" "$p" %.1f)
    printf '| %-52s | %9s | %12s | %7s | %8s | %-30s |\n' "Python multiprocessing.Queue(100000)" "$y" "$(comma "$(rate "$y")")" "$(cpu python)" "$(rss python)" "${x}x faster, $(goal "$x" 50) (>= 50x)"
fi
if [ -n "$single" ]; then
    echo
    echo "one operation, $SPAWNS rounds of each, round-robin (microseconds: median, 10th and 90th percentile)"
    printf '| %-28s | %8s | %8s | %8s | %-22s |\n' "command" "median" "p10" "p90" "÷ /bin/true (goal)"
    printf '|%s|%s|%s|%s|%s|\n' "------------------------------" "----------" "----------" "----------" "------------------------"
    base=$(echo "$single" | awk 'NR == 1 { print $1 }')
    echo "$single" | while read -r med p10 p90 cmd; do
        label=${cmd//$PQUEUE/pqueue}
        label=${label//$Q.one/q}
        if [ "$label" = /bin/true ]; then
            printf '| %-28s | %8s | %8s | %8s | %-22s |\n' "$label" "$med" "$p10" "$p90" ""
        else
            x=$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
            printf '| %-28s | %8s | %8s | %8s | %-22s |\n' "$label" "$med" "$p10" "$p90" \
                "$x $(awk -v x="$x" 'BEGIN { print (x <= 1.5 ? "ok" : "missed") }') (<= 1.5)"
        fi
    done
fi
