# tests/bench/lib.sh: what the benchmark scripts share.  Sourced (never run)
# by tests/bench/*.sh, each of which still runs on its own:
#
#   . "$(dirname "$0")/lib.sh"
#
# Sets ROOT (this checkout), BUILD and CONC_BIN (from the environment, or
# build/ and build/bin of this checkout), TIME (/usr/bin/time) and have_time.
# The machine is shared and noisy: every script interleaves its runs
# round-robin and reports medians, and only ratios of one run mean anything.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CONC_BIN=${CONC_BIN:-$BUILD/bin}
TIME=/usr/bin/time
have_time=1
[ -x "$TIME" ] || have_time=0
BENCH_NAME=$(basename "$0" .sh)

# bench_tmp: a new temporary folder in $tmp, removed at exit.  A script with
# more to clean up sets its own EXIT trap afterwards (and removes $tmp in it).
bench_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$BENCH_NAME-bench.XXXXXX") || exit 125
    trap 'rm -rf "$tmp"' EXIT
}

# bench_program VAR NAME: sets VAR to $BUILD/bench/NAME (tests/bench/NAME.cpp),
# built first when it is missing; fails when it cannot be built.
bench_program() {
    printf -v "$1" '%s' "$BUILD/bench/$2"
    [ -x "$BUILD/bench/$2" ] || make -s -C "$ROOT" BUILD="$BUILD" "$BUILD/bench/$2" >/dev/null 2>&1
    [ -x "$BUILD/bench/$2" ]
}

# require_program VAR NAME: bench_program, for a script that measures nothing
# without it: exits 1 with a message when it cannot be built.
require_program() {
    bench_program "$1" "$2" || {
        echo "$BENCH_NAME.sh: $BUILD/bench/$2 not built (make $BUILD/bench/$2)" >&2
        exit 1
    }
}

# peer COMMAND LABEL [HOW]: true when COMMAND is installed; otherwise says
# that LABEL's rows are skipped (and HOW to install it) and fails.
peer() {
    command -v "$1" >/dev/null && return 0
    echo "$2 not installed${3:+ ($3)}: its rows are skipped"
    return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# median: the median of the numbers on standard input (separated by blanks
# or newlines); nothing when there are none.
median() {
    tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'
}

# ratio A B [FORMAT]: A / B (printf FORMAT, default %.2f); "-" when either is
# missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf f "\n", a / b }'
}

# fig KEY [FILE]: the value of KEY in FILE (default $out), lines "KEY<TAB>VALUE"
# as the bench programs print them.
fig() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "${2:-$out}"; }

# --- rows measured round-robin ------------------------------------------------
#
# scenario NAME, then one add_tool NAME RUNS CMD a tool, then run_scenario:
# runs each tool's CMD (under bash, output thrown away) RUNS times, the tools
# interleaved.  Each row's key is "SCENARIO|TOOL", listed in ROWS; WALLS[key]
# collects wall milliseconds, RSS[key] the peak RSS in KiB (/usr/bin/time's %M,
# the largest single process), STATUS[key] a failure.  A script sets SKIP=1
# after `scenario` to leave a scenario out.

declare -A WALLS RSS STATUS
declare -a ROWS T_NAME T_RUNS T_CMD
ROWS=()

# measure KEY CMD: runs CMD once, timed.
measure() {
    local key=$1 cmd=$2 t0 t1 rc rss=0
    t0=$(date +%s%N)
    if [ $have_time = 1 ]; then
        "$TIME" -f %M -o "$tmp/rss" bash -c "$cmd" >/dev/null 2>"$tmp/stderr"
        rc=$?
        rss=$(tail -n 1 "$tmp/rss")
    else
        bash -c "$cmd" >/dev/null 2>"$tmp/stderr"
        rc=$?
    fi
    t1=$(date +%s%N)
    [[ $rss =~ ^[0-9]+$ ]] || rss=0
    WALLS[$key]+="$(((t1 - t0) / 1000000)) "
    if [ -z "${RSS[$key]:-}" ] || [ "$rss" -gt "${RSS[$key]}" ]; then RSS[$key]=$rss; fi
    if [ "$rc" -ne 0 ]; then
        STATUS[$key]="exit $rc"
        echo "  $key: exit status $rc: $(head -c 200 "$tmp/stderr" | tr '\n' ' ')" >&2
    fi
}

scenario() {
    SCEN=$1
    T_NAME=() T_RUNS=() T_CMD=()
    SKIP=0
}

add_tool() {
    T_NAME+=("$1") T_RUNS+=("$2") T_CMD+=("$3")
    ROWS+=("$SCEN|$1")
}

run_scenario() {
    [ "$SKIP" = 1 ] && return 0
    local max=0 r i
    for r in "${T_RUNS[@]}"; do [ "$r" -gt "$max" ] && max=$r; done
    echo "== $SCEN (${#T_NAME[@]} tools, up to $max runs each)" >&2
    for ((r = 1; r <= max; r++)); do
        for i in "${!T_NAME[@]}"; do
            [ "$r" -le "${T_RUNS[$i]}" ] || continue
            measure "$SCEN|${T_NAME[$i]}" "${T_CMD[$i]}"
        done
    done
}

# medians: MED[key], the median wall milliseconds of every row.
declare -A MED
medians() {
    local key
    for key in "${ROWS[@]}"; do MED[$key]=$(printf '%s' "${WALLS[$key]:-}" | median); done
}

# seconds MS, per_second COUNT MS, mib KIB: the table's figures.
seconds() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }
per_second() { awk -v n="$1" -v m="$2" 'BEGIN { printf "%.0f", (m > 0) ? n * 1000 / m : 0 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1fM", k / 1024 }'; }
