#!/usr/bin/env bats
# ppipe end to end: one test a behaviour of ppipe(1).
#
# Where the specification leaves a choice, these tests pin ppipe's:
#  - empty input runs no copy and writes nothing (exit 0).
#  - a copy that exits 0 without reading all of its block has not failed.
#  - a block never holds more than --block bytes plus its longest record.
#  - a regular file on standard input is cut into the same blocks as the same
#    bytes from a pipe, starting at the file's current offset.
#  - when stdout's reader goes away: exit 141 and nothing on stderr (as pmap).
# Copies that must finish out of order wait on each other through files and
# `kill -0` on a copy's pid (which succeeds until ppipe has reaped it), never
# on sleeps; the only sleeps are polling intervals.  Anything that could hang
# runs under `timeout -s KILL`: a hang shows as status 137.

load helper

bats_require_minimum_version 1.5.0

# make_records FILE [N]: N records (default 600) of random lengths (fixed
# seed), some empty, some longer than 1 KiB, and a last record of 1,500 bytes
# without newline.
make_records() {
    awk -v count="${2:-600}" 'BEGIN {
        srand(42)
        for (i = 0; i < 6000; i++) base = base sprintf("%c", 33 + int(rand() * 94))
        for (i = 1; i < count; i++) {
            r = rand()
            n = (r < 0.03) ? 1025 + int(rand() * 4000) : (r < 0.06) ? 0 : int(rand() * 150)
            print substr(base, 1 + int(rand() * 1000), n)
        }
        printf "%s", substr(base, 7, 1500)
    }' >"$1"
}

# make_fastq FILE: 400 reads of four lines, of random lengths (fixed seed).
make_fastq() {
    awk 'BEGIN {
        srand(7)
        for (i = 1; i <= 400; i++) {
            n = 20 + int(rand() * 280); s = ""; q = ""
            for (j = 0; j < n; j++) { s = s substr("ACGT", 1 + int(rand() * 4), 1); q = q "I" }
            printf "@read%d\n%s\n+\n%s\n", i, s, q
        }
    }' >"$1"
}

# last_byte FILE: the last byte of FILE in hex ("0a" for a newline).
last_byte() {
    tail -c 1 "$1" | od -An -tx1 | tr -d ' \n'
}

# joined DIR: the files DIR/1, DIR/2, ... concatenated in number order.
joined() {
    local i n
    n=$(find "$1" -type f | wc -l)
    for ((i = 1; i <= n; i++)); do cat "$1/$i"; done
}

# ---------------------------------------------------------------- split: records

@test "ppipe --block 1K -k cat gives back its input byte for byte" {
    make_records in
    run timeout -s KILL 60 bash -c 'ppipe --block 1K -k cat <in >out'
    assert_success
    cmp in out
    run timeout -s KILL 60 bash -c 'cat in | ppipe --block 1K -k cat >out2'
    assert_success
    cmp in out2
}

@test "ppipe cuts blocks only at record boundaries, never inside a record" {
    make_records in
    mkdir blocks
    run timeout -s KILL 60 bash -c 'cat in | ppipe --block 1K sh -c '\''cat >blocks/$PARALLEL_SEQ'\'
    assert_success
    n=$(find blocks -type f | wc -l)
    [ "$n" -gt 20 ]
    # Every block but the last ends with a newline; the last is the
    # unterminated record, passed as it is.
    for ((i = 1; i < n; i++)); do
        [ "$(last_byte "blocks/$i")" = 0a ] || { echo "block $i does not end a record" >&2; false; }
    done
    [ "$(last_byte "blocks/$n")" != 0a ]
    joined blocks | cmp - in
}

@test "ppipe makes blocks of about --block bytes, larger only by a record" {
    make_records in
    mkdir blocks
    run timeout -s KILL 60 bash -c 'ppipe --block 1K sh -c '\''cat >blocks/$PARALLEL_SEQ'\'' <in'
    assert_success
    # Per block: its bytes, and the longest record in it (terminator included).
    run awk '
        FNR == 1 && NR > 1 { check() }
        { b += length($0) + 1; if (length($0) + 1 > m) m = length($0) + 1; f = FILENAME }
        function check() { if (b > 1024 + m) { print f ": " b " bytes, longest record " m; bad++ } b = 0; m = 0 }
        END { check(); print bad + 0 }' blocks/*
    assert_output "0"
}

@test "ppipe passes a record longer than the block whole, in a larger block" {
    { echo short; head -c 5000 /dev/zero | tr '\0' x; echo; echo tail; } >in
    mkdir blocks
    run timeout -s KILL 60 bash -c 'ppipe --block 1K sh -c '\''cat >blocks/$PARALLEL_SEQ'\'' <in'
    assert_success
    run grep -l xxxxx blocks/*
    [ "${#lines[@]}" -eq 1 ]
    [ "$(awk 'length($0) == 5000' "${lines[0]}" | wc -l)" -eq 1 ]
    joined blocks | cmp - in
}

@test "ppipe passes a last record without terminator as it is" {
    run timeout -s KILL 60 bash -c "printf 'a\nb' | ppipe -N 1 sh -c 'cat >\$PARALLEL_SEQ'"
    assert_success
    cmp 1 <(printf 'a\n')
    cmp 2 <(printf 'b')
    [ ! -e 3 ]
}

@test "ppipe does not count a copy that exits 0 before reading all its block as failed" {
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 200000 | ppipe -k -N 100000 head -n 1'
    assert_success
    assert_output $'1\n100001'
    assert_equal "$stderr" ""
}

@test "ppipe with empty input runs no copy and writes nothing" {
    run --separate-stderr timeout -s KILL 60 ppipe sh -c 'touch ran; cat' </dev/null
    assert_success
    assert_output ""
    [ ! -e ran ]
}

@test "ppipe -0 cuts at NUL bytes and keeps newlines inside records" {
    run timeout -s KILL 60 bash -c "printf 'a\nb\0c\0d' | ppipe -0 -N 1 sh -c 'cat >\$PARALLEL_SEQ'"
    assert_success
    cmp 1 <(printf 'a\nb\0')
    cmp 2 <(printf 'c\0')
    cmp 3 <(printf 'd')
    [ ! -e 4 ]
}

@test "ppipe -0 --block ends every block on a NUL" {
    for i in $(seq 300); do printf 'record %d\nsecond line\0' "$i"; done >in
    mkdir blocks
    run timeout -s KILL 60 bash -c 'ppipe -0 --block 256 sh -c '\''cat >blocks/$PARALLEL_SEQ'\'' <in'
    assert_success
    n=$(find blocks -type f | wc -l)
    [ "$n" -gt 10 ]
    for ((i = 1; i <= n; i++)); do
        [ "$(last_byte "blocks/$i")" = 00 ]
        [ "$(head -c 6 "blocks/$i")" = record ]
    done
    joined blocks | cmp - in
}

@test "ppipe -d cuts at the given character" {
    run timeout -s KILL 60 bash -c "printf 'x,y\n1,z' | ppipe -d , -N 2 sh -c 'cat >\$PARALLEL_SEQ'"
    assert_success
    cmp 1 <(printf 'x,y\n1,')
    cmp 2 <(printf 'z')
    [ ! -e 3 ]
}

@test "ppipe -d takes the escape \\t for a tab" {
    run timeout -s KILL 60 bash -c "printf 'a\tb\tc' | ppipe -d '\t' -N 1 -k sh -c 'cat; echo \"|\"'"
    assert_success
    assert_output $'a\t|\nb\t|\nc|'
}

# ---------------------------------------------------------------- split: -N, --header, --recsize

@test "ppipe -N gives each block exactly N records, the last block fewer" {
    run timeout -s KILL 60 bash -c 'seq 10 | ppipe -N 3 -k wc -l'
    assert_success
    assert_output $'3\n3\n3\n1'
}

@test "ppipe -N counts records, whatever their size" {
    make_records in
    run timeout -s KILL 60 bash -c 'ppipe -N 100 -k wc -l <in'
    assert_success
    # 599 terminated records and one unterminated (wc -l does not count it).
    [ "${#lines[@]}" -eq 6 ]
    for ((i = 0; i < 5; i++)); do [ "${lines[$i]}" -eq 100 ]; done
    [ "${lines[5]}" -eq 99 ]
}

@test "ppipe --header repeats the header at the top of every block" {
    { echo 'name,value'; seq 2000 | sed 's/^/n,/'; } >data.csv
    mkdir blocks
    run timeout -s KILL 60 bash -c 'cat data.csv | ppipe --header 1 --block 1K sh -c '\''cat >blocks/$PARALLEL_SEQ'\'
    assert_success
    n=$(find blocks -type f | wc -l)
    [ "$n" -gt 5 ]
    for ((i = 1; i <= n; i++)); do
        [ "$(head -n 1 "blocks/$i")" = name,value ]
    done
    # The data lines, in order, each once.
    for ((i = 1; i <= n; i++)); do tail -n +2 "blocks/$i"; done >data
    tail -n +2 data.csv | cmp - data
}

@test "ppipe --header with -N does not count the header as a record" {
    { echo 'h1'; echo 'h2'; seq 1000; } >in
    run timeout -s KILL 60 bash -c 'ppipe --header 2 -N 100 -k awk '\''NR <= 2 { printf "%s ", $0 } END { print NR - 2 }'\'' <in'
    assert_success
    [ "${#lines[@]}" -eq 10 ]
    for line in "${lines[@]}"; do [ "$line" = "h1 h2 100" ]; done
}

@test "ppipe --header repeats the header from a regular file too" {
    { echo 'name,value'; seq 2000 | sed 's/^/n,/'; } >data.csv
    run timeout -s KILL 60 bash -c 'ppipe --header 1 --block 1K -k awk '\''NR == 1 { h = $0 } END { print h, NR - 1 }'\'' <data.csv'
    assert_success
    [ "${#lines[@]}" -gt 5 ]
    run awk '$1 != "name,value" { bad++ } { n += $2 } END { print bad + 0, n }' <<<"$output"
    assert_output "0 2000"
}

@test "ppipe --recsize 4 keeps the four lines of each FASTQ read in one block" {
    make_fastq in
    mkdir blocks
    run timeout -s KILL 60 bash -c 'cat in | ppipe --recsize 4 --block 1K sh -c '\''cat >blocks/$PARALLEL_SEQ'\'
    assert_success
    n=$(find blocks -type f | wc -l)
    [ "$n" -gt 20 ]
    for ((i = 1; i <= n; i++)); do
        [ $(($(wc -l <"blocks/$i") % 4)) -eq 0 ] || { echo "block $i: $(wc -l <"blocks/$i") lines" >&2; false; }
        [[ $(head -n 1 "blocks/$i") == @read* ]]
    done
    joined blocks | cmp - in
}

@test "ppipe --recsize cuts a regular file at the same places as a pipe" {
    make_fastq in
    run timeout -s KILL 60 bash -c 'ppipe --recsize 4 --block 1K -k awk '\''NR == 1 { print } END { print NR }'\'' <in >from-file'
    assert_success
    run timeout -s KILL 60 bash -c 'cat in | ppipe --recsize 4 --block 1K -k awk '\''NR == 1 { print } END { print NR }'\'' >from-pipe'
    assert_success
    cmp from-file from-pipe
    [ "$(grep -c '^@read' from-file)" -gt 20 ]
}

# ---------------------------------------------------------------- split: regular files

@test "ppipe gives the same blocks from a regular file as from a pipe" {
    make_records in 300
    for opts in "" "--block 1K" "--block 4K" "-N 7" "--header 1 --block 1K" "-0 --block 100" "-d x --block 512"; do
        run timeout -s KILL 60 bash -c "ppipe $opts -k sh -c 'printf \"%s \" \$PARALLEL_SEQ; cksum' <in >from-file"
        assert_success
        run timeout -s KILL 60 bash -c "cat in | ppipe $opts -k sh -c 'printf \"%s \" \$PARALLEL_SEQ; cksum' >from-pipe"
        assert_success
        cmp from-file from-pipe || { echo "options: $opts" >&2; false; }
    done
    [ "$(wc -l <from-file)" -gt 10 ]
}

@test "ppipe reads a regular file from its current offset" {
    make_records in
    run timeout -s KILL 60 bash -c '{ dd bs=100 count=1 of=/dev/null status=none; ppipe --block 1K -k cat; } <in >out'
    assert_success
    tail -c +101 in | cmp - out
}

# ---------------------------------------------------------------- split: copies and order

# Block 1 finishes only after ppipe has reaped the copy of block 2.
out_of_order='if [ "$PARALLEL_SEQ" = 1 ]; then while [ ! -s two.pid ]; do sleep 0.05; done;
  while kill -0 "$(cat two.pid)" 2>/dev/null; do sleep 0.05; done; fi; cat; if [ "$PARALLEL_SEQ" = 2 ]; then echo $$ >two.pid; fi'

@test "ppipe -k keeps input order when later blocks finish first" {
    run timeout -s KILL 60 bash -c "seq 2 | ppipe -k -j2 -N 1 sh -c '$out_of_order'"
    assert_success
    assert_output $'1\n2'
}

@test "ppipe writes blocks' outputs in completion order without -k" {
    run timeout -s KILL 60 bash -c "seq 2 | ppipe -j2 -N 1 sh -c '$out_of_order'"
    assert_success
    assert_output $'2\n1'
}

@test "ppipe -k keeps input order when low block numbers sleep longest" {
    # {#} is replaced before sh sees the script: block 1 sleeps 0.91 s,
    # block 12 0.03 s.
    script='sleep "$(printf 0.%02d $((99 - 8 * {#})))"; cat'
    run timeout -s KILL 120 bash -c 'seq 12 | ppipe -k -j4 -N 1 -s "$1"' _ "$script"
    assert_success
    assert_output "$(seq 12)"
}

@test "ppipe -k keeps order over many blocks" {
    seq 100000 >in
    run timeout -s KILL 120 bash -c 'cat in | ppipe -k -j2 --block 4K sh -c '\''if [ $((PARALLEL_SEQ % 3)) = 1 ]; then sleep 0.1; fi; cat'\'' >out'
    assert_success
    cmp in out
}

@test "ppipe writes each block's output whole, never mixed with another's" {
    run timeout -s KILL 60 bash -c 'seq 1000 | ppipe -N 100 -j4 sh -c '\''cat >/dev/null; for i in $(seq 2000); do echo "$PARALLEL_SEQ line $i"; done'\'
    assert_success
    [ "${#lines[@]}" -eq 20000 ]
    assert_equal "$(cut -d' ' -f1 <<<"$output" | uniq | wc -l)" 10
}

@test "ppipe replaces {#} in the arguments with the block number" {
    run timeout -s KILL 60 bash -c 'seq 6 | ppipe -N 2 -k sh -c '\''cat >/dev/null; echo "block $1 x{#}y"'\'' sh {#}'
    assert_success
    assert_output $'block 1 x1y\nblock 2 x2y\nblock 3 x3y'
}

@test "ppipe -s runs one shell string per block with {#} replaced" {
    run timeout -s KILL 60 bash -c "seq 6 | ppipe -N 3 -k -s 'echo {#}: \$(tr \"\\n\" \" \")'"
    assert_success
    assert_output $'1: 1 2 3\n2: 4 5 6'
}

@test "ppipe runs the command without a shell unless -s is given" {
    run timeout -s KILL 60 bash -c 'echo a | ppipe sh -c '\''cat >/dev/null; printf "[%s]\n" "$@"'\'' sh "\$(touch pwned)" "*"'
    assert_success
    assert_output $'[$(touch pwned)]\n[*]'
    [ ! -e pwned ]
}

@test "ppipe sets PARALLEL_SEQ and PARALLEL_JOBSLOT in each copy's environment" {
    run timeout -s KILL 60 bash -c 'seq 9 | ppipe -N 3 -k -j2 sh -c '\''cat >/dev/null; echo "$PARALLEL_SEQ $PARALLEL_JOBSLOT"'\'
    assert_success
    [ "${#lines[@]}" -eq 3 ]
    for i in 0 1 2; do
        read -r seq slot <<<"${lines[$i]}"
        [ "$seq" -eq $((i + 1)) ]
        [ "$slot" -ge 1 ] && [ "$slot" -le 2 ]
    done
}

@test "ppipe -j N runs at most N copies at once" {
    run timeout -s KILL 120 bash -c 'seq 40 | ppipe -j2 -N 2 sh -c '\''touch run.$$; ls run.* | wc -l >>counts; cat >/dev/null; rm run.$$'\'
    assert_success
    [ "$(sort -n counts | tail -n 1)" -le 2 ]
    [ "$(wc -l <counts)" -eq 20 ]
}

@test "ppipe -j N runs N copies at once when there are enough blocks" {
    # Each copy waits until all four have started: only four at once can finish.
    run timeout -s KILL 60 bash -c 'seq 4 | ppipe -j4 -N 1 sh -c '\''cat >/dev/null; touch s.$PARALLEL_SEQ; while [ "$(ls s.* | wc -l)" -lt 4 ]; do sleep 0.05; done'\'
    assert_success
}

@test "ppipe -j takes N%, +N and -N of the online CPUs" {
    for j in 50% 1% +1 -1 -100000; do
        run timeout -s KILL 60 bash -c "seq 4 | ppipe -k -j '$j' -N 2 wc -l"
        assert_success
        assert_output $'2\n2'
    done
}

@test "ppipe copies each run in their own process group" {
    run timeout -s KILL 60 bash -c 'echo a | ppipe sh -c '\''cat >/dev/null; echo $$ $(cut -d" " -f5 /proc/$$/stat)'\'
    assert_success
    read -r pid pgid <<<"$output"
    [ "$pid" = "$pgid" ]
}

@test "ppipe keeps memory bounded by the blocks in flight" {
    [ -x /usr/bin/time ] || skip "/usr/bin/time not installed"
    [ -z "${CONC_SANITIZED:-}" ] || skip "ASan's shadow memory makes RSS meaningless"
    # 200 MB through 1 MiB blocks, -j2: about 4 MiB of blocks in flight.
    run timeout -s KILL 300 bash -c 'yes 0123456789abcdef | head -c 200000000 | /usr/bin/time -f %M -o rss ppipe -j2 -k --block 1M cat | wc -c'
    assert_success
    assert_output 200000000
    echo "peak RSS: $(tail -n 1 rss) KiB"
    [ "$(tail -n 1 rss)" -lt 32768 ]
}

@test "ppipe -k round-trips through gzip -1 into a valid gzip file" {
    seq 500000 >f
    run timeout -s KILL 120 bash -c 'ppipe -k gzip -1 <f >f.gz'
    assert_success
    gzip -t f.gz
    gunzip <f.gz | cmp - f
    run timeout -s KILL 120 bash -c 'cat f | ppipe -k -j2 --block 64K gzip -1 >g.gz'
    assert_success
    gzip -t g.gz
    gunzip <g.gz | cmp - f
}

# ---------------------------------------------------------------- split: --round-robin

@test "ppipe --round-robin loses no record and never mixes two inside a line" {
    awk 'BEGIN { for (i = 1; i <= 20000; i++) { s = i ":"; for (j = 0; j < 30; j++) s = s i; print s } }' >in
    sort in >expected
    run timeout -s KILL 120 bash -c 'cat in | ppipe --round-robin -j2 --block 4K cat | sort >out'
    assert_success
    cmp expected out
    run timeout -s KILL 120 bash -c 'ppipe --round-robin -j3 --block 4K cat <in | sort >out2'
    assert_success
    cmp expected out2
}

# two_long_lines FILE: a line of 3,000,000 a's and one of 3,000,000 b's,
# longer than any buffer a tool would hold a line in.
two_long_lines() {
    { head -c 3000000 /dev/zero | tr '\0' a; echo; head -c 3000000 /dev/zero | tr '\0' b; echo; } >"$1"
}

# uniform_lines: prints "LINES BAD", BAD the lines of stdin that are not one
# letter (a, b) repeated 3,000,000 times.
uniform_lines() {
    awk '{ if (length($0) != 3000000 || $0 !~ /^(a+|b+)$/) bad++ } END { print NR, bad + 0 }'
}

@test "ppipe --round-robin never mixes two copies inside a line longer than 1 MiB" {
    two_long_lines in
    # Each copy gets one line (blocks of at most 1 MiB: a record each).
    run timeout -s KILL 60 bash -c 'ppipe --round-robin -j2 --block 1M cat <in >out'
    assert_success
    run uniform_lines <out
    assert_output "2 0"
}

@test "ppipe --round-robin starts -j copies once and feeds them every block" {
    seq 200000 >in
    run timeout -s KILL 120 bash -c 'ppipe --round-robin -j3 --block 1K sh -c '\''echo $$ >>starts; wc -l'\'' <in'
    assert_success
    [ "$(wc -l <starts)" -eq 3 ]
    [ "${#lines[@]}" -eq 3 ]
    run awk '{ n += $1 } END { print n }' <<<"$output"
    assert_output 200000
}

@test "ppipe refuses -k with --round-robin with exit 2" {
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 3 | ppipe -k --round-robin sh -c "touch ran; cat"'
    assert_failure 2
    [[ $stderr == ppipe:* ]]
    [[ $stderr == *"Try 'ppipe --help'." ]]
    [ ! -e ran ]
}

# ---------------------------------------------------------------- --tee

@test "ppipe --tee gives every command the whole stream" {
    seq 300000 >big
    run timeout -s KILL 60 bash -c 'ppipe --tee -k cksum "cat >copy" "wc -l" <big'
    assert_success
    assert_output "$(cksum <big)"$'\n'"300000"
    cmp copy big
}

@test "ppipe --tee goes on for the others when a reader exits early" {
    seq 1000000 >big
    size=$(wc -c <big)
    run --separate-stderr timeout -s KILL 60 bash -c 'cat big | ppipe --tee "head -n 1" "wc -c" "wc -c"'
    assert_success
    run sort <<<"$output"
    assert_output "1"$'\n'"$size"$'\n'"$size"
    # The same from a regular file.
    run --separate-stderr timeout -s KILL 60 bash -c 'ppipe --tee -k "wc -c" "head -n 1" "wc -c" <big'
    assert_success
    assert_output "$size"$'\n'"1"$'\n'"$size"
}

@test "ppipe --tag prefixes each line with the command's index and a tab" {
    run timeout -s KILL 60 bash -c "printf 'a\nb\n' | ppipe --tee --tag cat 'tr a-z A-Z'"
    assert_success
    run sort <<<"$output"
    assert_output $'1\ta\n1\tb\n2\tA\n2\tB'
    # Each command's lines keep their order.
    [ "$(grep '^1' <<<"$output" | cut -f2 | tr -d '\n')" = ab ]
}

# Command 1 writes only once command 2 has ended.
tee_slow_first='while [ ! -e two.done ]; do sleep 0.05; done; cat'
tee_fast_second='tr a-z A-Z; touch two.done'

@test "ppipe --tee -k writes each command's output as one block in command order" {
    run timeout -s KILL 60 bash -c "printf 'a\nb\n' | ppipe --tee -k '$tee_slow_first' '$tee_fast_second'"
    assert_success
    assert_output $'a\nb\nA\nB'
}

@test "ppipe --tee -k --tag tags the blocks in command order" {
    run timeout -s KILL 60 bash -c "printf 'a\nb\n' | ppipe --tee -k --tag '$tee_slow_first' '$tee_fast_second'"
    assert_success
    assert_output $'1\ta\n1\tb\n2\tA\n2\tB'
}

@test "ppipe --tee writes the commands' output a whole line at a time" {
    long='awk -v c=X '\''BEGIN { s = c; while (length(s) < 100000) s = s s; s = substr(s, 1, 100000); for (i = 0; i < 5; i++) print s }'\'
    run timeout -s KILL 60 ppipe --tee "${long/X/a}" "${long/X/b}" "${long/X/c}" </dev/null
    assert_success
    # Each line 100,000 times one letter.  (awk: bash's ${line//a/} takes
    # seconds on such a line.)
    run awk '{ if (length($0) != 100000 || $0 !~ /^(a+|b+|c+)$/) bad++ } END { print NR, bad + 0 }' <<<"$output"
    assert_output "15 0"
}

@test "ppipe --tee writes a line longer than 1 MiB whole, never mixed with another command's" {
    two_long_lines in
    run timeout -s KILL 60 bash -c 'ppipe --tee cat "tr ab ba" <in >out'
    assert_success
    run uniform_lines <out
    assert_output "4 0"
}

@test "ppipe --tee --tag ends a last line that lacks its newline" {
    run timeout -s KILL 60 ppipe --tee --tag 'printf one' 'printf "two\nthree"' </dev/null
    assert_success
    run sort <<<"$output"
    assert_output $'1\tone\n2\tthree\n2\ttwo'
}

@test "ppipe --tee holds the stream back for a slow reader instead of buffering it" {
    [ -x /usr/bin/time ] || skip "/usr/bin/time not installed"
    [ -z "${CONC_SANITIZED:-}" ] || skip "ASan's shadow memory makes RSS meaningless"
    # The first reader sleeps while 100 MB wait for it.
    run timeout -s KILL 300 bash -c 'head -c 100000000 /dev/zero | /usr/bin/time -f %M -o rss ppipe --tee -k "sleep 2; wc -c" "wc -c"'
    assert_success
    assert_output $'100000000\n100000000'
    echo "peak RSS: $(tail -n 1 rss) KiB"
    [ "$(tail -n 1 rss)" -lt 32768 ]
}

@test "ppipe --tee exits 123 and counts the commands that failed" {
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 1000 | ppipe --tee "cat >/dev/null" "cat >/dev/null; exit 3" "wc -l"'
    assert_failure 123
    assert_output "1000"
    assert_equal "$stderr" "ppipe: 1 of 3 commands failed"
}

@test "ppipe --tee with one command is a usage error" {
    run --separate-stderr timeout -s KILL 60 bash -c 'echo a | ppipe --tee "touch ran"'
    assert_failure 2
    assert_equal "${stderr%%$'\n'*}" "ppipe: --tee needs at least two commands"
    [[ $stderr == *"Try 'ppipe --help'." ]]
    [ ! -e ran ]
}

# ---------------------------------------------------------------- --duplex

# A sends the numbers 1 to 5 and checks each answer; B squares what it reads.
duplex_a='for i in 1 2 3 4 5; do echo $i; read -r sq; [ "$sq" = $((i * i)) ] || exit 1; done; echo checked >result'
duplex_b='while read -r n; do echo $((n * n)); done'

@test "ppipe --duplex connects two commands both ways" {
    run --separate-stderr timeout -s KILL 60 ppipe --duplex "$duplex_a" "$duplex_b" </dev/null
    assert_success
    assert_output ""
    assert_equal "$(cat result)" checked
}

@test "ppipe --duplex -v copies the traffic to stderr with its direction" {
    run --separate-stderr timeout -s KILL 60 ppipe --duplex -v "$duplex_a" "$duplex_b" </dev/null
    assert_success
    assert_equal "$(cat result)" checked
    [ "$(grep -c '^A>B: ' <<<"$stderr")" -eq 5 ]
    [ "$(grep -c '^B>A: ' <<<"$stderr")" -eq 5 ]
    grep -qx 'A>B: 3' <<<"$stderr"
    grep -qx 'B>A: 9' <<<"$stderr"
    # Each answer follows its question.
    assert_equal "$(grep -A1 -x 'A>B: 4' <<<"$stderr" | tail -n 1)" "B>A: 16"
}

@test "ppipe --duplex passes the commands' stderr through" {
    run --separate-stderr timeout -s KILL 60 ppipe --duplex 'echo hi; read -r x; echo "A got $x" >&2' 'read -r x; echo "B got $x" >&2; echo bye'
    assert_success
    grep -qx 'A got bye' <<<"$stderr"
    grep -qx 'B got hi' <<<"$stderr"
}

@test "ppipe --duplex runs the bc example of its manual" {
    run --separate-stderr timeout -s KILL 60 ppipe --duplex 'for i in 1 2 3; do echo "$i * $i"; read -r r; [ "$r" -eq $((i * i)) ] || exit 1; done; echo ok >result' 'bc'
    assert_success
    assert_equal "$(cat result)" ok
}

@test "ppipe --duplex exits 123 and names the command that failed" {
    run --separate-stderr timeout -s KILL 60 ppipe --duplex 'echo 1; read -r x' 'read -r n; echo $n; exit 3'
    assert_failure 123
    # B is named, with its command; A, which exited 0, is not.
    grep -q '^ppipe: B .*exit 3' <<<"$stderr"
    ! grep -q '^ppipe: A ' <<<"$stderr"
}

@test "ppipe --duplex with three commands is a usage error" {
    run --separate-stderr timeout -s KILL 60 ppipe --duplex 'touch ran' 'touch ran' 'touch ran'
    assert_failure 2
    [[ $stderr == ppipe:*--duplex* ]]
    [[ $stderr == *"Try 'ppipe --help'." ]]
    [ ! -e ran ]
}

@test "ppipe --duplex with one command is a usage error" {
    run --separate-stderr timeout -s KILL 60 ppipe --duplex 'touch ran'
    assert_failure 2
    [[ $stderr == ppipe:*--duplex* ]]
    [ ! -e ran ]
}

# ---------------------------------------------------------------- exit status and messages

@test "ppipe exits 123 and counts the failed blocks when a copy fails" {
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 10 | ppipe -N 1 sh -c '\''cat >/dev/null; [ "$PARALLEL_SEQ" != 3 ]'\'
    assert_failure 123
    assert_equal "$stderr" "ppipe: 1 of 10 blocks failed"
}

@test "ppipe exits 123 when a copy is killed by a signal" {
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 4 | ppipe -N 2 sh -c '\''cat >/dev/null; kill -9 $$'\'
    assert_failure 123
    assert_equal "$stderr" "ppipe: 2 of 2 blocks failed"
}

@test "ppipe exits 127 when the command is not found" {
    run -127 --separate-stderr timeout -s KILL 60 bash -c 'seq 3 | ppipe no-such-command-ppipe-test'
    assert_failure 127
    [[ $stderr == ppipe:*no-such-command-ppipe-test* ]]
}

@test "ppipe exits 126 when the command cannot be executed" {
    printf 'not a program\n' >notexec
    chmod -x notexec
    run -126 --separate-stderr timeout -s KILL 60 bash -c 'seq 3 | ppipe ./notexec'
    assert_failure 126
    [[ $stderr == ppipe:*notexec* ]]
}

# usage_error OPTIONS...: ppipe OPTIONS refuses with exit 2, a one-line
# message and the hint, and runs nothing.
usage_error() {
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 3 | ppipe "$@" sh -c "touch ran; cat"' _ "$@"
    assert_failure 2
    [[ $stderr == ppipe:* ]]
    [[ $stderr == *"Try 'ppipe --help'." ]]
    [ "$(wc -l <<<"$stderr")" -le 2 ]
    [ ! -e ran ]
}

@test "ppipe --block 0 is a usage error" {
    usage_error --block 0
    [[ $stderr == "ppipe: --block"* ]]
}

@test "ppipe --block x is a usage error that names the value" {
    usage_error --block x
    [[ $stderr == "ppipe: --block"*"'x'"* ]]
}

@test "ppipe --block-size is --block under another name" {
    usage_error --block-size 12Q
    [[ $stderr == ppipe:*12Q* ]]
    run timeout -s KILL 60 bash -c 'seq 100 | ppipe --block-size 64 -k cat'
    assert_success
    assert_output "$(seq 100)"
}

@test "ppipe -N 0 is a usage error" {
    usage_error -N 0
    [[ $stderr == "ppipe: -N"* || $stderr == "ppipe: --records"* ]]
}

@test "ppipe --header x is a usage error" {
    usage_error --header x
    [[ $stderr == "ppipe: --header"* ]]
}

@test "ppipe refuses a directory as standard input with exit 2" {
    run --separate-stderr timeout -s KILL 60 ppipe sh -c 'touch ran; cat' < /
    assert_failure 2
    [ "$stderr" = "ppipe: standard input is a directory" ]
    [ ! -e ran ]
}

@test "ppipe --recsize 0 is a usage error" {
    usage_error --recsize 0
    [[ $stderr == "ppipe: --recsize"* ]]
}

@test "ppipe -j x is a usage error" {
    usage_error -j x
    [[ $stderr == "ppipe: -j"* ]]
}

@test "ppipe rejects an unknown option with exit 2" {
    usage_error --no-such-option
}

@test "ppipe without a command is a usage error" {
    run --separate-stderr timeout -s KILL 60 ppipe </dev/null
    assert_failure 2
    [[ $stderr == ppipe:* ]]
    [[ $stderr == *"Try 'ppipe --help'." ]]
}

@test "ppipe --help prints usage on stdout and exits 0" {
    run --separate-stderr ppipe --help
    assert_success
    [[ $output == *ppipe* ]]
    [[ $output == *--tee* ]]
    [[ $output == *--duplex* ]]
    [ -z "$stderr" ]
}

@test "ppipe --version prints the tool and package" {
    run ppipe --version
    assert_success
    [[ $output == "ppipe (conc) "* ]]
}

@test "ppipe --bar leaves stdout alone and draws nothing when stderr is not a terminal" {
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 1000 | ppipe --bar -k --block 1K cat'
    assert_success
    assert_output "$(seq 1000)"
    assert_equal "$stderr" ""
    run --separate-stderr timeout -s KILL 60 bash -c 'seq 1000 | ppipe --bar=always -k --block 1K cat'
    assert_success
    assert_output "$(seq 1000)"
    [ -n "$stderr" ]
}

# ---------------------------------------------------------------- closed output and signals

@test "ppipe stops quietly with exit 141 when the reader closes stdout" {
    run --separate-stderr timeout -s KILL 60 bash -c 'yes | ppipe -j2 --block 64K cat | head -n 1; exit ${PIPESTATUS[1]}'
    assert_failure 141
    assert_output "y"
    assert_equal "$stderr" ""
}

@test "ppipe stops its copies when the reader closes stdout" {
    # Block 1 never ends; the other slot prints one line per block, forever.
    run --separate-stderr timeout -s KILL 60 bash -c "seq 1000000000 | ppipe -j2 -N 1 sh -c 'if [ \$PARALLEL_SEQ = 1 ]; then echo \$\$ >slow.pid; exec sleep 1000; fi; cat' | head -n 5; exit \${PIPESTATUS[1]}"
    assert_failure 141
    [ "${#lines[@]}" -eq 5 ]
    assert_equal "$stderr" ""
    dead "$(cat slow.pid)"
}

@test "ppipe reading a regular file stops with exit 141 when the reader closes stdout" {
    yes | head -n 3000000 >big
    run --separate-stderr timeout -s KILL 60 bash -c 'ppipe -k -j2 --block 64K cat <big | head -n 1; exit ${PIPESTATUS[0]}'
    assert_failure 141
    assert_output "y"
    assert_equal "$stderr" ""
}

@test "ppipe --tee stops quietly with exit 141 when the reader closes stdout" {
    run --separate-stderr timeout -s KILL 60 bash -c 'yes | ppipe --tee cat cat | head -n 1; exit ${PIPESTATUS[1]}'
    assert_failure 141
    assert_output "y"
    assert_equal "$stderr" ""
}

@test "ppipe on SIGTERM stops every copy and exits 143, leaving no child behind" {
    marker="ppipe-e2e-marker-$$-$BATS_TEST_NUMBER"
    seq 4 >in
    # Each copy starts a grandchild that carries the marker in its arguments.
    ppipe -j2 -N 1 sh -c 'sh -c "sleep 1000; :" "$0" & echo $! >gc$PARALLEL_SEQ.pid; echo $$ >job$PARALLEL_SEQ.pid; cat >/dev/null; wait' "$marker" <in >out 2>err 3>&- &
    pid=$!
    echo "$pid" >ppipe.pid
    wait_for_content job1.pid
    wait_for_content job2.pid
    kill -TERM "$pid"
    ended "$pid"
    [ "$status" -eq 143 ]
    for f in job1 job2 gc1 gc2; do dead "$(cat $f.pid)"; done
    [ ! -e job3.pid ]
    run pgrep -f -- "$marker"
    assert_failure 1
}

@test "ppipe --tee on SIGTERM stops every command and exits 143" {
    mkfifo never
    ppipe --tee 'echo $$ >t1.pid; exec sleep 1000' 'echo $$ >t2.pid; cat >/dev/null' <never >out 2>err 3>&- &
    pid=$!
    echo "$pid" >ppipe.pid
    exec 5>never
    wait_for_content t1.pid
    wait_for_content t2.pid
    kill -TERM "$pid"
    ended "$pid"
    exec 5>&-
    [ "$status" -eq 143 ]
    dead "$(cat t1.pid)"
    dead "$(cat t2.pid)"
}

@test "ppipe --duplex on SIGTERM stops both commands and exits 143" {
    ppipe --duplex 'echo $$ >a.pid; exec sleep 1000' 'echo $$ >b.pid; cat' </dev/null >out 2>err 3>&- &
    pid=$!
    echo "$pid" >ppipe.pid
    wait_for_content a.pid
    wait_for_content b.pid
    kill -TERM "$pid"
    ended "$pid"
    [ "$status" -eq 143 ]
    dead "$(cat a.pid)"
    dead "$(cat b.pid)"
}

@test "ppipe's copies end when ppipe is killed with SIGKILL" {
    [ "$(uname -s)" = Linux ] || skip "needs Linux's parent-death signal"
    seq 4 >in
    ppipe -j2 -N 1 sh -c 'echo $$ >job$PARALLEL_SEQ.pid; cat >/dev/null; exec sleep 1000' <in >out 2>err 3>&- &
    pid=$!
    wait_for_content job1.pid
    wait_for_content job2.pid
    kill -KILL "$pid"
    wait "$pid" || true
    dead "$(cat job1.pid)"
    dead "$(cat job2.pid)"
}
