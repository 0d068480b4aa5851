#!/usr/bin/env bats
# pqueue end to end: one test a behaviour of pqueue(1).
#
# Every queue a test makes is named $Q or $Q.something ($Q holds the bats pid
# and the test's number), and teardown removes them and fails the test if
# anything of theirs is left in /dev/shm.  A test that needs a process to be
# blocked waits until the kernel says it sleeps in a futex (the queue's wait)
# or a pipe (its reader's), never on a bare sleep; sleeps are only polling
# intervals, and the random moments at which processes are killed.

load helper

bats_require_minimum_version 1.5.0

Q=pqt$$-$BATS_TEST_NUMBER

eval "helper_$(declare -f teardown)"
teardown() {
    local n left
    for n in $(pqueue ls 2>/dev/null | grep -F "$Q"); do pqueue rm -f "$n"; done
    helper_teardown
    left=$(ls /dev/shm | grep -F "$Q" || true)
    if [ -n "$left" ]; then
        echo "left in /dev/shm: $left" >&2
        return 1
    fi
}

# blocked PID: waits until PID sleeps in a futex (waiting on the queue) or in
# a pipe (waiting for its reader); 60 s at most.
blocked() {
    local i w
    for i in $(seq 600); do
        w=$(cat "/proc/$1/wchan" 2>/dev/null) || { echo "process $1 is gone" >&2; return 1; }
        case $w in *futex* | *pipe*) return 0 ;; esac
        sleep 0.1
    done
    echo "process $1 never blocked (wchan: $w)" >&2
    return 1
}

# execd PID NAME: waits until PID, just started with &, runs NAME (the
# shell's child has exec'd it); 60 s at most.
execd() {
    local i comm
    for i in $(seq 6000); do
        read -r comm <"/proc/$1/comm" 2>/dev/null || { echo "process $1 is gone" >&2; return 1; }
        [ "$comm" = "$2" ] && return 0
        sleep 0.01
    done
    echo "process $1 never ran $2" >&2
    return 1
}

# stat_field NAME KEY: one value of pqueue stat.
stat_field() { pqueue stat "$1" | sed -n "s/^$2: //p"; }

# ---------------------------------------------------------------- items

@test "pqueue put then get returns the item followed by a newline" {
    run pqueue put "$Q" 'hello world'
    assert_success
    run pqueue get "$Q"
    assert_success
    assert_output 'hello world'
    run bash -c "pqueue put $Q x && pqueue get $Q | od -An -c"
    assert_output --regexp '^ +x +\\n$'
}

@test "pqueue get returns items in the order they were put" {
    pqueue put "$Q" one two
    printf 'three\nfour\n' | pqueue put "$Q"
    run pqueue get -n 4 "$Q"
    assert_success
    assert_output $'one\ntwo\nthree\nfour'
}

@test "pqueue keeps NUL bytes, invalid UTF-8 and empty items of newline records intact" {
    printf 'a\0b\n\377\376\n\nlast' | pqueue put "$Q"
    assert_equal "$(pqueue size "$Q")" 4
    pqueue get -n 4 "$Q" >out
    printf 'a\0b\n\377\376\n\nlast\n' >want
    cmp out want
}

@test "pqueue put -0 and get -0 carry items that hold newlines" {
    printf 'one\ntwo\0\377x\0three' | pqueue put -0 "$Q"
    run pqueue size "$Q"
    assert_output 3
    pqueue get -0 --all "$Q" >out
    printf 'one\ntwo\0\377x\0three\0' >want
    cmp out want
}

@test "pqueue -d uses any byte as the delimiter, both ways" {
    printf 'a:b:c' | pqueue put -d : "$Q"
    run pqueue get -d '\t' -n 3 "$Q"
    assert_output $'a\tb\tc\t'
}

@test "pqueue moves a 4 MiB item whole" {
    head -c 3000000 /dev/urandom | base64 -w0 >big
    echo >>big
    pqueue put "$Q" <big
    pqueue get "$Q" >out
    cmp big out
}

@test "pqueue put takes an argument that starts with a dash after the name or after --" {
    pqueue put "$Q" a -x
    pqueue put -- "$Q" --y
    run pqueue get -n 3 "$Q"
    assert_output $'a\n-x\n--y'
}

@test "pqueue get -n takes that many items and --all takes what is there" {
    pqueue put "$Q" 1 2 3 4 5
    run pqueue get -n 2 "$Q"
    assert_output $'1\n2'
    run pqueue get --all "$Q"
    assert_success
    assert_output $'3\n4\n5'
    run pqueue get --all "$Q"
    assert_failure 1
    assert_output ''
}

@test "pqueue create --lifo gives the last item put first" {
    pqueue create --lifo "$Q"
    pqueue put "$Q" a b c
    run pqueue get --all "$Q"
    assert_output $'c\nb\na'
}

@test "pqueue create --priority gives the lowest priority first, in order among equals" {
    pqueue create --priority "$Q"
    pqueue put -p 5 "$Q" five-a
    pqueue put -p 1 "$Q" one-a
    pqueue put -p -3 "$Q" minus-three
    pqueue put -p 5 "$Q" five-b
    pqueue put "$Q" zero
    printf 'one-b\none-c\n' | pqueue put -p 1 "$Q"
    run pqueue get --all "$Q"
    assert_output $'minus-three\nzero\none-a\none-b\none-c\nfive-a\nfive-b'
}

@test "pqueue put -p on a missing queue makes a priority queue, and is refused by a fifo queue" {
    pqueue put -p 2 "$Q" x
    run stat_field "$Q" kind
    assert_output priority
    pqueue put "$Q.fifo" y
    run pqueue put -p 1 "$Q.fifo" z
    assert_failure 2
    assert_output --partial "is a fifo queue, without priorities"
    assert_equal "$(pqueue size "$Q.fifo")" 1
}

@test "pqueue moves every item of 4 producers to 4 consumers exactly once (4 x 100,000)" {
    pqueue create --maxsize 1000 "$Q"
    for c in 1 2 3 4; do
        timeout -s KILL 300 pqueue get --follow "$Q" >"out.$c" &
        echo $! >"c$c.pid"
    done
    for p in 1 2 3 4; do
        seq -f "p$p-%g" 100000 | timeout -s KILL 300 pqueue put "$Q" &
        echo $! >"p$p.pid"
    done
    for p in 1 2 3 4; do wait "$(cat "p$p.pid")"; done
    pqueue close "$Q"
    for c in 1 2 3 4; do
        ended "$(cat "c$c.pid")"
        assert_success
    done
    cat out.* | sort >all
    run uniq -d all
    assert_output ''
    run wc -l <all
    assert_output 400000
    for p in 1 2 3 4; do seq -f "p$p-%g" 100000; done | sort >want
    cmp all want
    run stat_field "$Q" items
    assert_output 0
}

@test "pqueue survives producers killed with SIGKILL: each put the prefix of its records, each delivered once" {
    pqueue create --maxsize 100 "$Q"
    timeout -s KILL 300 pqueue get --follow "$Q" >out.c1 &
    echo $! >c1.pid
    timeout -s KILL 300 pqueue get --follow "$Q" >out.c2 &
    echo $! >c2.pid
    for p in $(seq 12); do
        seq -f "p$p-%g" 200000 | pqueue put "$Q" &
        pid=$!
        sleep "0.0$((RANDOM % 10))"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" || true
    done
    seq -f "last-%g" 1000 | pqueue put "$Q"          # the queue still takes items
    pqueue close "$Q"
    ended "$(cat c1.pid)"; assert_success
    ended "$(cat c2.pid)"; assert_success
    cat out.c1 out.c2 >all
    run bash -c "sort all | uniq -d"
    assert_output ''
    assert_equal "$(wc -l <all)" "$(stat_field "$Q" puts)"
    assert_equal "$(stat_field "$Q" gets)" "$(stat_field "$Q" puts)"
    assert_equal "$(stat_field "$Q" items)" 0
    # A producer put its records in order: what came out is 1..m, no gap.
    for p in $(seq 12); do
        m=$(grep -c "^p$p-" all || true)
        [ "$m" -eq 0 ] || [ "$(grep "^p$p-" all | sed "s/^p$p-//" | sort -n | awk '$1 != NR { print; exit }')" = "" ]
    done
    assert_equal "$(grep -c '^last-' all)" 1000
}

@test "pqueue survives consumers killed with SIGKILL: the others get every other item once" {
    pqueue create --maxsize 100 "$Q"
    for p in 1 2; do
        seq -f "p$p-%g" 100000 | timeout -s KILL 300 pqueue put "$Q" &
        echo $! >"p$p.pid"
    done
    timeout -s KILL 300 pqueue get --follow "$Q" >out.stable &
    echo $! >stable.pid
    for v in $(seq 12); do
        pqueue get --follow "$Q" >"out.victim$v" &
        pid=$!
        sleep "0.0$((RANDOM % 10))"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" || true
    done
    for p in 1 2; do wait "$(cat "p$p.pid")"; done
    pqueue close "$Q"
    ended "$(cat stable.pid)"; assert_success
    # whole lines only: a consumer killed in a write(2) may have left part of one
    cat out.* | grep -E '^p[12]-[0-9]+$' | sort >all
    run uniq -d all
    assert_output ''
    assert_equal "$(stat_field "$Q" puts)" 200000
    assert_equal "$(stat_field "$Q" gets)" 200000
    assert_equal "$(stat_field "$Q" items)" 0
    delivered=$(wc -l <all)
    # What is missing was held by a killed consumer: at most one batch each.
    [ "$delivered" -le 200000 ] && [ "$delivered" -ge $((200000 - 12 * 100)) ]
    run pqueue stat --check "$Q"
    assert_success
}

# ---------------------------------------------------------------- waiting

@test "pqueue get blocks on an empty queue until an item is put" {
    pqueue create "$Q"
    pqueue get "$Q" >out &
    pid=$!
    blocked "$pid"
    pqueue put "$Q" woken
    ended "$pid"
    assert_success
    assert_equal "$(cat out)" woken
}

@test "pqueue get blocked on an empty queue exits 1 when the queue is closed" {
    pqueue create "$Q"
    pqueue get "$Q" >out 2>err &
    pid=$!
    blocked "$pid"
    pqueue close "$Q"
    ended "$pid"
    assert_failure 1
    assert_equal "$(cat out err)" ''
}

@test "pqueue get blocked on an empty queue exits 1 with a message when the queue is removed" {
    pqueue create "$Q"
    pqueue get "$Q" >out 2>err &
    pid=$!
    blocked "$pid"
    pqueue rm "$Q"
    ended "$pid"
    assert_failure 1
    assert_equal "$(cat err)" "pqueue: get '$Q': the queue was removed"
}

@test "pqueue put blocks on a full queue until a get makes room" {
    pqueue create --maxsize 2 "$Q"
    pqueue put "$Q" a b
    pqueue put "$Q" c &
    pid=$!
    blocked "$pid"
    assert_equal "$(pqueue get "$Q")" a
    ended "$pid"
    assert_success
    run pqueue get --all "$Q"
    assert_output $'b\nc'
}

@test "pqueue put blocked on a full queue exits 1 with a message when the queue is closed" {
    pqueue create --maxsize 1 "$Q"
    pqueue put "$Q" a
    pqueue put "$Q" b 2>err &
    pid=$!
    blocked "$pid"
    pqueue close "$Q"
    ended "$pid"
    assert_failure 1
    assert_equal "$(cat err)" "pqueue: put '$Q': the queue is closed"
}

@test "pqueue get --follow takes items as they come and exits 0 once the queue is closed and drained" {
    pqueue create "$Q"
    pqueue get --follow "$Q" >out &
    pid=$!
    pqueue put "$Q" 1 2
    wait_for_content out
    pqueue put "$Q" 3
    pqueue close "$Q"
    ended "$pid"
    assert_success
    assert_equal "$(cat out)" $'1\n2\n3'
}

@test "pqueue put from standard input puts what it read before it waits for more" {
    pqueue create "$Q"
    mkfifo in
    pqueue put "$Q" <in &
    pid=$!
    exec 5>in
    echo first >&5
    run pqueue get --timeout 60 "$Q"   # arrives while the producer still runs
    assert_output first
    exec 5>&-
    wait "$pid"
}

@test "pqueue --timeout ends a get on an empty queue with 124, and a put on a full one" {
    pqueue create --maxsize 1 "$Q"
    start=$(date +%s%N)
    run pqueue get --timeout 0.3 "$Q"
    assert_failure 124
    assert_output ''
    [ $(( ($(date +%s%N) - start) / 1000000 )) -ge 300 ]
    pqueue put "$Q" a
    run pqueue put --timeout 0.2 "$Q" b
    assert_failure 124
    assert_output "pqueue: put '$Q': timed out waiting for room"
    run pqueue put --timeout 0 "$Q" b
    assert_failure 124
    assert_equal "$(pqueue get --all "$Q")" a
    run pqueue get --timeout 0 "$Q"
    assert_failure 124
}

@test "pqueue --nowait exits 1 at once: get silently on an empty queue, put with a message on a full one" {
    pqueue create --maxsize 2 "$Q"
    run pqueue get --nowait "$Q"
    assert_failure 1
    assert_output ''
    run pqueue put --nowait "$Q" a b c
    assert_failure 1
    assert_output "pqueue: put '$Q': the queue is full (2 items were put)"
    run pqueue get --all "$Q"
    assert_output $'a\nb'
}

@test "pqueue put into a closed queue exits 1; get drains it, then exits 1" {
    pqueue put "$Q" a
    pqueue close "$Q"
    run pqueue put "$Q" b
    assert_failure 1
    assert_output "pqueue: put '$Q': the queue is closed"
    run pqueue get "$Q"
    assert_success
    assert_output a
    run pqueue get "$Q"
    assert_failure 1
    assert_equal "$(stat_field "$Q" closed)" yes
}

@test "pqueue join waits until every item put is marked done" {
    pqueue put "$Q" a b c
    pqueue join "$Q" &
    pid=$!
    blocked "$pid"
    pqueue get -n 3 "$Q" >/dev/null
    pqueue done -n 2 "$Q"
    assert_equal "$(stat_field "$Q" unfinished)" 1
    kill -0 "$pid"
    pqueue done "$Q"
    ended "$pid"
    assert_success
    run pqueue join "$Q"
    assert_success
}

@test "pqueue join --timeout exits 124 while tasks are unfinished; done past the count exits 2" {
    pqueue put "$Q" a
    run pqueue join --timeout 0.2 "$Q"
    assert_failure 124
    run pqueue done -n 2 "$Q"
    assert_failure 2
    assert_output --partial "pqueue: done '$Q': "
    assert_equal "$(stat_field "$Q" unfinished)" 1
}

# ---------------------------------------------------------------- signals and write errors

@test "pqueue get stopped by SIGTERM while waiting exits 143 and takes nothing" {
    pqueue create "$Q"
    pqueue get "$Q" >out &
    pid=$!
    blocked "$pid"
    kill -TERM "$pid"
    ended "$pid"
    assert_failure 143
    pqueue put "$Q" x
    assert_equal "$(pqueue get "$Q")" x
}

@test "pqueue get consumers stopped by SIGTERM at any moment as items flow: every item printed or left, once" {
    # Each consumer is stopped wherever it is: waiting, taking, or writing.
    # Whatever the moment, the items it printed and those left in the queue are
    # every item put, each once (a stop never takes an item away with it).
    pqueue create "$Q"
    local i n=1000
    { for i in $(seq $n); do pqueue put "$Q" "item-$i"; done; } &   # one wake-up per item
    producer=$!
    for i in $(seq 150); do
        pqueue get --follow "$Q" >"out.$i" &
        pid=$!
        execd "$pid" pqueue   # a signal to the shell's child before its exec would be lost
        sleep "0.00$((RANDOM % 10))"
        kill -TERM "$pid"
        dead "$pid"
        ended "$pid"
        assert_equal "$status" 143
    done
    wait "$producer"
    pqueue get --all "$Q" >rest || true
    cat out.* rest | sort >all
    seq -f 'item-%g' $n | sort >want
    cmp all want
}

@test "pqueue put stopped by SIGINT while waiting for room exits 130" {
    pqueue create --maxsize 1 "$Q"
    pqueue put "$Q" a
    env --default-signal=INT pqueue put "$Q" b &   # a background job starts with INT ignored
    pid=$!
    blocked "$pid"
    kill -INT "$pid"
    ended "$pid"
    assert_failure 130
    assert_equal "$(pqueue get --all "$Q")" a
}

@test "pqueue get stopped by SIGTERM while its reader is slow puts back every item it did not write" {
    seq -f 'item-%g' 100000 | pqueue put "$Q"
    mkfifo f
    exec 5<>f                      # a reader that never reads
    pqueue get --all "$Q" >f &
    pid=$!
    blocked "$pid"                 # in write(2): the pipe is full
    kill -TERM "$pid"
    ended "$pid"
    assert_failure 143
    dd if=f iflag=nonblock bs=1M of=piped 2>/dev/null || true
    exec 5<&-
    pqueue get --all "$Q" >rest
    [ -s piped ] && [ -s rest ]
    # the whole lines in the pipe and the items put back are every item once
    # (an item cut in the pipe went back whole)
    { head -n "$(wc -l <piped)" piped; cat rest; } | sort >all
    seq -f 'item-%g' 100000 | sort >want
    cmp all want
}

@test "pqueue get whose reader has gone exits 141 and puts the items back in order" {
    pqueue put "$Q" a b c
    run python3 -c '
import os, sys
r, w = os.pipe()
os.close(r)                      # the reader is gone before the first write
os.dup2(w, 1)
os.execvp("pqueue", ["pqueue", "get", "-n", "2", sys.argv[1]])' "$Q"
    assert_failure 141
    assert_output ''
    run pqueue get --all "$Q"
    assert_output $'a\nb\nc'
    assert_equal "$(stat_field "$Q" gets)" 3
}

@test "pqueue get that cannot write exits 125 with a message and puts the item back" {
    pqueue put "$Q" a
    run bash -c "pqueue get $Q >/dev/full"
    assert_failure 125
    assert_output "pqueue: cannot write to standard output: No space left on device"
    assert_equal "$(pqueue get "$Q")" a
}

# ---------------------------------------------------------------- the other commands

@test "pqueue size, empty and full answer like test" {
    pqueue create --maxsize 2 "$Q"
    assert_equal "$(pqueue size "$Q")" 0
    run pqueue empty "$Q"; assert_success; assert_output ''
    run pqueue full "$Q"; assert_failure 1
    pqueue put "$Q" a b
    assert_equal "$(pqueue size "$Q")" 2
    run pqueue empty "$Q"; assert_failure 1
    run pqueue full "$Q"; assert_success
}

@test "pqueue stat prints every key as key: value" {
    pqueue create --maxsize 10 --bytes 64K --mode 0640 "$Q"
    pqueue put "$Q" abc de
    pqueue get "$Q" >/dev/null
    run pqueue stat "$Q"
    assert_success
    assert_line 'kind: fifo'
    assert_line 'items: 1'
    assert_line 'bytes: 2'
    assert_line 'capacity: 65536'
    assert_line 'maxsize: 10'
    assert_line 'closed: no'
    assert_line 'unfinished: 2'
    assert_line 'puts: 2'
    assert_line 'gets: 1'
    assert_line 'mode: 0640'
    assert_line "owner: $(id -un)"
}

@test "pqueue create again with the same settings succeeds, with others exits 2 and changes nothing" {
    pqueue create --maxsize 5 "$Q"
    run pqueue create --maxsize 5 "$Q"
    assert_success
    run pqueue create --maxsize 6 "$Q"
    assert_failure 2
    assert_output --partial "pqueue: create '$Q': "
    run pqueue create --lifo --maxsize 5 "$Q"
    assert_failure 2
    assert_equal "$(stat_field "$Q" maxsize)" 5
    assert_equal "$(stat_field "$Q" kind)" fifo
}

@test "pqueue ls lists the queues and rm removes them, leaving nothing in /dev/shm" {
    pqueue create "$Q.a"
    pqueue put "$Q.b" x
    run bash -c "pqueue ls | grep -F '$Q'"
    assert_output "$Q.a"$'\n'"$Q.b"
    pqueue rm "$Q.a" "$Q.b"
    run bash -c "pqueue ls | grep -F '$Q'"
    assert_output ''
    assert_equal "$(ls /dev/shm | grep -cF "$Q")" 0
    run pqueue rm "$Q.a"
    assert_failure 2
    assert_output "pqueue: rm: no queue '$Q.a'"
    run pqueue rm -f "$Q.a"
    assert_success
}

@test "pqueue commands other than put and get refuse a queue that does not exist" {
    for cmd in size empty full stat close done join; do
        run pqueue "$cmd" "$Q.none"
        assert_failure 2
        assert_output "pqueue: no queue '$Q.none'"
    done
    assert_equal "$(ls /dev/shm | grep -cF "$Q")" 0
}

@test "pqueue keeps a queue in a file when the name is a path" {
    pqueue put ./q.file one two
    [ -f q.file ]
    run pqueue get --all ./q.file
    assert_output $'one\ntwo'
    pqueue rm ./q.file
    [ ! -e q.file ]
}

@test "a pipeline of get --follow and put moves a queue into another, as over ssh" {
    seq 1000 | pqueue put "$Q.src"
    pqueue close "$Q.src"
    pqueue get --follow "$Q.src" | pqueue put "$Q.dst"
    assert_equal "$(pqueue size "$Q.dst")" 1000
    run bash -c "pqueue get --all $Q.dst | sort -n | uniq | wc -l"
    assert_output 1000
}

@test "pqueue get --follow feeds a pool of pmap workers" {
    seq 200 | pqueue put "$Q"
    pqueue close "$Q"
    run bash -c "pqueue get --follow $Q | pmap -j4 sh -c 'echo \$((\$1 * 2))' sh | sort -n | tail -1"
    assert_output 400
}

@test "a second user cannot open a private queue, and can open one made with --mode 0666" {
    [ "$(id -u)" = 0 ] || skip "needs root to run a command as nobody"
    command -v setpriv >/dev/null || skip "setpriv is not installed"
    id nobody >/dev/null 2>&1 || skip "no user nobody"
    pqueue put "$Q" secret
    as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$CONC_BIN/pqueue" "$@"; }
    run as_nobody get --nowait "$Q"
    assert_failure 2
    assert_output "pqueue: cannot open queue '$Q': Permission denied"
    assert_equal "$(pqueue size "$Q")" 1
    pqueue create --mode 0666 "$Q.shared"
    run as_nobody put "$Q.shared" hi
    assert_success
    assert_equal "$(pqueue get "$Q.shared")" hi
}

# ---------------------------------------------------------------- bad input

@test "pqueue refuses bad queue names with exit 2 and a clear message" {
    long=$(printf 'a%.0s' $(seq 101))
    for name in '../x' '' "$long" 'a b' 'dir/q' 'x*'; do
        run pqueue put "$name" item
        assert_failure 2
        assert_output --partial "pqueue: bad queue name '$name': "
    done
    run pqueue put "${long:1}" ok     # 100 characters are fine
    assert_success
    pqueue rm "${long:1}"
}

@test "pqueue refuses bad sizes, counts and durations with exit 2" {
    for args in '--bytes 0' '--bytes x' '--bytes -1' '--bytes 2T' '--maxsize -1' '--maxsize x' '--mode 0999' '--mode x'; do
        run pqueue create $args "$Q"
        assert_failure 2
        assert_line --index 1 "Try 'pqueue --help'."
    done
    run pqueue get -n 0 "$Q"; assert_failure 2
    run pqueue get --timeout soon "$Q"; assert_failure 2
    run pqueue put -p high "$Q" x; assert_failure 2
    run pqueue get --all --follow "$Q"; assert_failure 2
    run pqueue get --nowait --timeout 1 "$Q"; assert_failure 2
    assert_equal "$(ls /dev/shm | grep -cF "$Q")" 0
}

@test "pqueue refuses an item bigger than the queue with exit 2 and puts nothing" {
    pqueue create --bytes 4K "$Q"
    run pqueue put "$Q" small "$(head -c 5000 /dev/zero | tr '\0' x)" after
    assert_failure 2
    assert_output --partial "pqueue: put '$Q': item 2 has 5000 bytes, more than the queue can hold"
    assert_equal "$(pqueue get --all "$Q")" small
}

@test "pqueue without a command, or with an unknown one, exits 2; --help and --version exit 0" {
    run pqueue
    assert_failure 2
    assert_output --partial "pqueue: no command given"
    run pqueue frobnicate q
    assert_failure 2
    assert_output --partial "pqueue: unknown command 'frobnicate'"
    run pqueue --help
    assert_success
    assert_output --partial "Usage: pqueue COMMAND"
    run pqueue get --help
    assert_success
    assert_output --partial "--follow"
    run pqueue -V
    assert_output --regexp '^pqueue \(conc\) '
}
