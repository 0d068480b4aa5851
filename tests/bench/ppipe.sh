#!/usr/bin/env bash
# tests/bench/ppipe.sh: ppipe side by side with its peers, in one run.
#
#   split, -j2:  ppipe -k wc -l   vs GNU parallel --pipe and --pipepart (--block 1M)
#                ppipe -k cat     vs cat | cat (the floor: one copy, no split)
#                ppipe -k gzip -1 vs pigz -p2 -1 and parallel --pipe -k gzip -1
#   broadcast:   ppipe --tee 'wc -l' 'wc -c' cksum vs pee (moreutils) and
#                bash's tee >(wc -l) >(wc -c) | cksum
# ppipe runs twice in each scenario: from a pipe (cat big | ppipe) and with
# the file as its standard input (ppipe < big, where it seeks instead of
# reading); each peer's ratio is taken against the ppipe row that gets its
# input the same way.
#
# The input is PPIPE_BENCH_MB MiB of text lines of 1 to 150 bytes, made once
# in a temporary folder and removed at the end.  Before timing, every row runs
# once with its output checked (line count, bytes, cksum, gunzip | cksum);
# a wrong output marks the row WRONG.  Timed runs write to /dev/null, are
# interleaved round-robin across the tools of a scenario, and the median wall
# time is reported: the machine is shared and noisy, only ratios measured in
# the same run mean anything.  Peak RSS is /usr/bin/time's %M of the whole
# command: the largest single process in it (ppipe itself, a copy, or perl
# for GNU parallel).
#
# Environment: CONC_BIN (default build/bin), BUILD (default build),
# PPIPE_BENCH_MB (default 500), RUNS (default 3), SLOW_RUNS (GNU parallel,
# default 2).  Peers: apt-get install -y parallel pigz moreutils time; a
# missing one is named and its rows are skipped.
set -u
. "$(dirname "$0")/lib.sh"
MB=${PPIPE_BENCH_MB:-500}
RUNS=${RUNS:-3}
SLOW_RUNS=${SLOW_RUNS:-2}
PPIPE=$CONC_BIN/ppipe

[[ $MB =~ ^[1-9][0-9]*$ ]] || { echo "ppipe.sh: PPIPE_BENCH_MB must be a positive number of MiB, not '$MB'" >&2; exit 2; }

have_ppipe=1
[ -x "$PPIPE" ] || { echo "ppipe not built ($PPIPE): its rows are skipped"; have_ppipe=0; }
[ $have_time = 1 ] || echo "$TIME is missing (apt-get install -y time): no peak RSS"
have_parallel=1
peer parallel "GNU parallel" "apt-get install -y parallel" || have_parallel=0
have_pigz=1
peer pigz pigz "apt-get install -y pigz" || have_pigz=0
have_pee=1
peer pee pee "apt-get install -y moreutils" || have_pee=0

bench_tmp
big=$tmp/big

# --- the input ---------------------------------------------------------------

# One MiB of lines of random lengths (fixed seed), repeated: distinct lines
# within gzip's 32 KiB window, so compression does real work.
echo "making $MB MiB of lines in $tmp ..." >&2
awk 'BEGIN {
    srand(1)
    for (i = 0; i < 4096; i++) base = base sprintf("%c", 32 + int(rand() * 95))
    while (size < 1048576) {
        n = int(rand() * 150); line = substr(base, 1 + int(rand() * 3900), n)
        if (size + n + 1 > 1048576) line = substr(base, 1, 1048576 - size - 1)
        print line; size += length(line) + 1
    }
}' >"$tmp/chunk"
for ((i = 0; i < MB; i++)); do cat "$tmp/chunk"; done >"$big"
BYTES=$(wc -c <"$big")
LINES=$(wc -l <"$big")
CKSUM=$(cksum <"$big")
export big

# --- measuring -------------------------------------------------------------

declare -A REF CHECKED

# check KEY CMD EXPECTED: runs CMD once, untimed; its output must be EXPECTED.
check() {
    local key=$1 cmd=$2 expected=$3 got
    got=$(bash -c "$cmd" 2>"$tmp/stderr")
    if [ "$got" = "$expected" ]; then
        CHECKED[$key]=ok
    else
        CHECKED[$key]=WRONG
        echo "  $key: wrong output: $(printf '%s' "$got" | head -c 200 | tr '\n' ' ') (expected $(printf '%s' "$expected" | tr '\n' ' '))" >&2
        echo "  $key: stderr: $(head -c 200 "$tmp/stderr" | tr '\n' ' ')" >&2
    fi
}

# scenario NAME, then tool NAME RUNS REF CMD CHECK EXPECTED lines, then run_scenario.
# REF: the row (in this scenario) that this one's ratio is taken against.
# CMD is timed with its output thrown away; "{ CMD; } | CHECK" must print EXPECTED.
tool() {
    local name=$1 runs=$2 ref=$3 cmd=$4 chk=$5 expected=$6
    add_tool "$name" "$runs" "$cmd"
    REF["$SCEN|$name"]=${ref:+$SCEN|$ref}
    check "$SCEN|$name" "{ $cmd; } | $chk" "$expected"
}

# --- scenarios -------------------------------------------------------------

P=ppipe F="ppipe (file)"
sum='awk "{ n += \$1 } END { print n }"'

S1="wc -l, -j2"
scenario "$S1"
[ $have_ppipe = 1 ] && tool "$P" "$RUNS" "" "cat \$big | $PPIPE -j2 -k wc -l" "$sum" "$LINES"
[ $have_ppipe = 1 ] && tool "$F" "$RUNS" "" "$PPIPE -j2 -k wc -l <\$big" "$sum" "$LINES"
[ $have_parallel = 1 ] && tool "parallel --pipe" "$SLOW_RUNS" "$P" "cat \$big | parallel --will-cite --pipe -j2 -k --block 1M wc -l" "$sum" "$LINES"
[ $have_parallel = 1 ] && tool "parallel --pipepart" "$SLOW_RUNS" "$F" "parallel --will-cite --pipepart -a \$big -j2 -k --block 1M wc -l" "$sum" "$LINES"
run_scenario

S2="cat, -j2"
scenario "$S2"
[ $have_ppipe = 1 ] && tool "$P" "$RUNS" "" "cat \$big | $PPIPE -j2 -k cat" "cksum" "$CKSUM"
[ $have_ppipe = 1 ] && tool "$F" "$RUNS" "" "$PPIPE -j2 -k cat <\$big" "cksum" "$CKSUM"
tool "cat | cat" "$RUNS" "$P" "cat \$big | cat" "cksum" "$CKSUM"
tool "cat <big | cat" "$RUNS" "$F" "cat <\$big | cat" "cksum" "$CKSUM"
run_scenario

S3="gzip -1, -j2"
scenario "$S3"
[ $have_ppipe = 1 ] && tool "$P" "$RUNS" "" "cat \$big | $PPIPE -j2 -k gzip -1" "gunzip | cksum" "$CKSUM"
[ $have_ppipe = 1 ] && tool "$F" "$RUNS" "" "$PPIPE -j2 -k gzip -1 <\$big" "gunzip | cksum" "$CKSUM"
[ $have_pigz = 1 ] && tool "pigz -p2 -1" "$RUNS" "$F" "pigz -p2 -1 <\$big" "gunzip | cksum" "$CKSUM"
[ $have_parallel = 1 ] && tool "parallel --pipe -k" "$SLOW_RUNS" "$P" "cat \$big | parallel --will-cite --pipe -j2 -k gzip -1" "gunzip | cksum" "$CKSUM"
run_scenario

# The three answers, in any order: sorted for the check.  bash's process
# substitutions write to fd 3, the command's own stdout: without it their
# counts would go into cksum with tee's output.
S4="tee to wc -l, wc -c, cksum"
scenario "$S4"
expected=$(printf '%s\n' "$LINES" "$BYTES" "$CKSUM" | sort)
[ $have_ppipe = 1 ] && tool "$P" "$RUNS" "" "cat \$big | $PPIPE --tee 'wc -l' 'wc -c' cksum" "sort" "$expected"
[ $have_ppipe = 1 ] && tool "$F" "$RUNS" "" "$PPIPE --tee 'wc -l' 'wc -c' cksum <\$big" "sort" "$expected"
[ $have_pee = 1 ] && tool "pee" "$RUNS" "$F" "pee 'wc -l' 'wc -c' cksum <\$big" "sort" "$expected"
tool "tee >(wc -l) >(wc -c) | cksum" "$RUNS" "$F" "{ tee >(wc -l >&3) >(wc -c >&3) <\$big | cksum; } 3>&1" "sort" "$expected"
run_scenario

# --- the table -------------------------------------------------------------

medians

printf '\nppipe benchmark, %s, %s, %s CPUs, %s MiB input, runs: %s (GNU parallel %s)\n' \
    "$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)" "$MB" "$RUNS" "$SLOW_RUNS"
fmt='%-28s %-32s %9s %9s %10s %11s %s\n'
printf "$fmt" scenario tool "median s" "MB/s" "peak RSS" "ppipe/this" output
printf "$fmt" "--------" "----" "--------" "----" "--------" "----------" "------"
for key in "${ROWS[@]}"; do
    scen=${key%%|*} name=${key#*|}
    ms=${MED[$key]}
    ref=${REF[$key]}
    refms=
    [ -n "$ref" ] && refms=${MED[$ref]:-}
    wall=- mbs=- rss=- ratio=-
    if [ -n "$ms" ]; then
        wall=$(seconds "$ms")
        mbs=$(awk -v m="$ms" -v b="$BYTES" 'BEGIN { printf "%.0f", (m > 0) ? b / 1048576 * 1000 / m : 0 }')
        [ $have_time = 1 ] && rss=$(mib "${RSS[$key]}")
    fi
    if [ -n "$ms" ] && [ -n "$refms" ]; then
        ratio=$(ratio "$refms" "$ms")
        [ "$ref" = "$scen|$F" ] && ratio+=" (file)"
    fi
    verdict=${CHECKED[$key]:-}
    [ -n "${STATUS[$key]:-}" ] && verdict="FAILED (${STATUS[$key]})"
    printf "$fmt" "$scen" "$name" "$wall" "$mbs" "$rss" "$ratio" "$verdict"
done
cat <<'EOF'

MB/s: MiB of input per second of wall time.  ppipe/this: the wall time of
ppipe (reading the same way: a pipe, or "(file)" for ppipe <big) over this
tool's; below 1, ppipe is faster.  output: the row's output checked once
before timing.
EOF
