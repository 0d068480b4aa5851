#!/usr/bin/env bats
# parun end to end: one test a behaviour of issue 9.
#
# Choices these tests pin (see parun(1)):
#  - a line's prefix is "NAME | ", NAME padded to the longest name.
#  - -j 0 is refused (parun runs every command at once unless -j N is given).
#  - "N of M commands failed": M is every command given, run or not.
# Commands that must end in a known order wait on files (./await FILE), never
# on sleeps; the only sleeps are polling intervals.  Every parun run is under
# `timeout -s KILL 30`, and checked not to have hit it.

load helper

bats_require_minimum_version 1.5.0

# ---------------------------------------------------------------- output

@test "parun prefixes each line with its command's name padded to one width" {
    run --separate-stderr timeout -s KILL 30 parun --names a,bbb 'echo one' 'echo two'
    not_hung
    assert_success
    run sort <<<"$output"
    assert_output $'a   | one\nbbb | two'
}

@test "parun names commands by their index when no names are given" {
    run timeout -s KILL 30 parun 'echo x'
    assert_success
    assert_output '1 | x'
}

@test "parun writes stderr lines to stderr with the same prefix" {
    run --separate-stderr timeout -s KILL 30 parun --names web 'echo out; echo err >&2'
    assert_success
    assert_output 'web | out'
    assert_equal "$stderr" 'web | err'
}

@test "parun prefixes and terminates a last line that has no newline" {
    run timeout -s KILL 30 bash -c "parun --names a 'printf \"x\\ny\"'"
    assert_output $'a | x\na | y'
    run timeout -s KILL 30 bash -c "parun --names a 'printf \"x\\ny\"' | tail -c 1 | od -An -c"
    assert_output --partial '\n'
}

@test "parun never mixes lines: 4 writers of 100,000 lines each, checked line by line" {
    run timeout -s KILL 60 bash -c '
        w() { echo "awk \"BEGIN { for (i = 1; i <= 100000; i++) print \\\"w$1-\\\" i }\""; }
        parun "$(w 1)" "$(w 2)" "$(w 3)" "$(w 4)" >out'
    not_hung
    assert_success
    run awk '
        NF != 3 || $2 != "|" || $3 != "w" $1 "-" (++n[$1]) { print "bad line " NR ": " $0; bad = 1; exit 1 }
        END { if (!bad) for (k = 1; k <= 4; k++) if (n[k] != 100000) { print "writer " k ": " n[k] " lines"; exit 1 } }' out
    assert_success
    run wc -l <out
    assert_output 400000
}

@test "parun --group writes each command's output as one block when it ends" {
    make_await
    # a ends only once b is gone (reaped: kill -0 fails), however loaded the machine.
    run timeout -s KILL 30 parun --group --names a,b \
        'echo a1; ./await go; while kill -0 "$(cat go)" 2>/dev/null; do sleep 0.01; done; echo a2' \
        'echo b1; echo b2; echo $$ >go.tmp; mv go.tmp go'
    not_hung
    assert_success
    assert_output $'b | b1\nb | b2\na | a1\na | a2'
}

@test "parun --raw writes the commands' bytes through unprefixed" {
    run timeout -s KILL 30 parun --raw 'printf abc'
    assert_success
    assert_output 'abc'
}

@test "parun --hide drops the named commands' output" {
    run timeout -s KILL 30 parun --names a,b --hide a 'echo A; echo A2 >&2' 'echo B'
    assert_success
    assert_output 'b | B'
}

@test "parun --stdin gives its standard input to one command, /dev/null to the others" {
    run timeout -s KILL 30 bash -c "echo data | parun --names a,b --stdin b 'cat; echo a-end' 'cat'"
    assert_success
    run sort <<<"$output"
    assert_output $'a | a-end\nb | data'
}

@test "parun -v prints each command on stderr as it starts" {
    run --separate-stderr timeout -s KILL 30 parun -v --names w 'echo hi'
    assert_success
    assert_output 'w | hi'
    assert_equal "${stderr%% (pid*}" 'parun: w'
    assert_equal "${stderr##*): }" 'echo hi'
}

@test "parun --dry-run prints the commands as a Procfile and runs nothing" {
    run timeout -s KILL 30 parun --dry-run --names a,b 'touch ran' 'echo b'
    assert_success
    assert_output $'a: touch ran\nb: echo b'
    [ ! -e ran ]
}

@test "parun --summary prints a table of name, status, time and restarts on stderr" {
    run --separate-stderr timeout -s KILL 30 parun --summary --names ok,bad 'true' 'exit 3'
    assert_failure 123
    assert_equal "$(sed -n 1p <<<"$stderr" | tr -s ' ')" 'NAME STATUS TIME RESTARTS'
    assert_equal "$(grep '^ok ' <<<"$stderr" | awk '{print $2, $3, $NF}')" 'exit 0 0'
    assert_equal "$(grep '^bad ' <<<"$stderr" | awk '{print $2, $3, $NF}')" 'exit 3 0'
}

@test "parun --prefix writes the index, padded name and pid before each line" {
    run timeout -s KILL 30 parun --prefix '[{index}] {name} {pid}:' --names a,bb 'echo $$; echo x' 'true'
    assert_success
    pid=$(sed -n '1s/.* //p' <<<"$output")
    assert_equal "$(sed -n 1p <<<"$output")" "[1] a  $pid: $pid"
    assert_equal "$(sed -n 2p <<<"$output")" "[1] a  $pid: x"
}

@test "parun --prefix {time} stamps each line with the time of day and milliseconds" {
    run timeout -s KILL 30 parun --prefix '{time}' 'echo a; echo b'
    assert_success
    assert_equal "$(grep -cE '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3} [ab]$' <<<"$output")" 2
}

@test "parun refuses an unknown --prefix field and --prefix with --raw" {
    run --separate-stderr timeout -s KILL 30 parun --prefix '{host}' 'touch started'
    assert_failure 2
    assert_equal "${stderr%%$'\n'*}" 'parun: --prefix: unknown field {host}: expected {name}, {index}, {pid} or {time}'
    run --separate-stderr timeout -s KILL 30 parun --raw --prefix '{name}' 'touch started'
    assert_failure 2
    [ ! -e started ]
}

@test "parun --color=always writes each name and bar in its own colour" {
    run timeout -s KILL 30 parun --color=always --names a,b 'echo x' 'true'
    assert_success
    assert_output $'\e[36ma |\e[0m x'
}

@test "parun writes no colour where stdout is no terminal, and refuses a bad --color" {
    run timeout -s KILL 30 parun --color=auto 'echo x'
    assert_output '1 | x'
    run --separate-stderr timeout -s KILL 30 parun --color=sometimes 'touch started'
    assert_failure 2
    [ ! -e started ]
}

@test "parun --color=auto honours NO_COLOR on a terminal" {
    command -v script >/dev/null || skip "no script(1)"
    run timeout -s KILL 30 script -qec "NO_COLOR=1 parun 'echo x'" /dev/null
    assert_success
    assert_output --partial '1 | x'
    refute_output --partial $'\e['
    run timeout -s KILL 30 script -qec "parun 'echo x'" /dev/null
    assert_output --partial $'\e[36m1 |\e[0m x'
}

# ---------------------------------------------------------------- wait policies and exit status

@test "parun --wait all exits 0 when every command succeeded" {
    run timeout -s KILL 30 parun 'true' 'true' 'true'
    assert_success
}

@test "parun --wait all exits 123 and says how many commands failed" {
    run --separate-stderr timeout -s KILL 30 parun 'exit 1' 'true' 'exit 4'
    assert_failure 123
    assert_equal "$stderr" 'parun: 2 of 3 commands failed'
}

@test "parun --wait first exits with the status of the first command to end and stops the rest" {
    make_await
    run --separate-stderr timeout -s KILL 30 parun --wait first --names slow,fast \
        'echo $$ >slow.pid; ./await never' 'exit 5'
    not_hung
    assert_failure 5
    dead "$(cat slow.pid)"
}

@test "parun --wait error exits 123 at the first failure and stops the rest" {
    make_await
    run --separate-stderr timeout -s KILL 30 parun --wait error --names slow,bad \
        'echo $$ >slow.pid; ./await never' 'exit 5'
    not_hung
    assert_failure 123
    assert_equal "$stderr" 'parun: 1 of 2 commands failed'
    dead "$(cat slow.pid)"
}

@test "parun --wait error exits 0 when every command succeeded" {
    make_await
    run timeout -s KILL 30 parun --wait error './await go' 'echo go >go'
    not_hung
    assert_success
}

@test "parun --wait NAME exits with that command's status and stops the others" {
    make_await
    run --separate-stderr timeout -s KILL 30 parun --wait client --names server,client \
        'echo $$ >server.pid; echo up >up; ./await never' './await up; exit 7'
    not_hung
    assert_failure 7
    dead "$(cat server.pid)"
}

@test "parun --wait NAME serves two loopback HTTP servers until the client is done" {
    command -v python3 >/dev/null || skip "no python3"
    command -v curl >/dev/null || skip "no curl"
    echo hello >index.html
    run --separate-stderr timeout -s KILL 30 parun --wait client --hide a,b --names a,b,client \
        'echo $$ >a.pid; exec python3 -m http.server 18731 --bind 127.0.0.1' \
        'echo $$ >b.pid; exec python3 -m http.server 18732 --bind 127.0.0.1' \
        'for p in 18731 18732; do i=0; until curl -fs http://127.0.0.1:$p/index.html; do i=$((i+1)); [ $i -lt 300 ] || exit 9; sleep 0.1; done; done'
    not_hung
    assert_success
    assert_output $'client | hello\nclient | hello'
    dead "$(cat a.pid)"
    dead "$(cat b.pid)"
}

@test "parun --timeout stops every command and exits 124" {
    make_await
    expect_124=1
    run --separate-stderr timeout -s KILL 30 parun --timeout 500ms 'echo $$ >c.pid; ./await never'
    assert_failure 124
    assert_equal "$stderr" 'parun: timed out after 500ms'
    dead "$(cat c.pid)"
}

@test "parun --grace gives a command that ignores TERM that long before KILL" {
    make_await
    expect_124=1
    run timeout -s KILL 30 parun --timeout 200ms --grace 300ms 'trap "" TERM; echo $$ >c.pid; ./await never'
    assert_failure 124
    dead "$(cat c.pid)"
}

# ---------------------------------------------------------------- -j

@test "parun -j 2 never runs more than 2 commands at once and runs them all" {
    mkdir running
    cmd='touch running/$PARALLEL_SEQ; ls running | wc -l >>counts; sleep 0.2; rm running/$PARALLEL_SEQ; echo done'
    run timeout -s KILL 30 parun -j 2 "$cmd" "$cmd" "$cmd" "$cmd" "$cmd" "$cmd"
    not_hung
    assert_success
    assert_equal "$(grep -c done <<<"$output")" 6
    max=$(sort -n counts | tail -1 | tr -d ' ')
    [ "$max" -le 2 ]
}

@test "parun -j 1 starts the commands in order" {
    run timeout -s KILL 30 parun -j 1 'echo a' 'echo b' 'echo c'
    assert_success
    assert_output $'1 | a\n2 | b\n3 | c'
}

# ---------------------------------------------------------------- --restart and --ready

@test "parun --restart N starts a failing command again N times and the summary counts them" {
    run --separate-stderr timeout -s KILL 30 parun --restart 3 --summary --names f 'echo run >>runs; exit 1'
    assert_failure 123
    assert_equal "$(wc -l <runs | tr -d ' ')" 4
    assert_equal "$(grep '^f ' <<<"$stderr" | awk '{print $NF}')" 3
}

@test "parun --restart stops restarting once the command succeeds" {
    run timeout -s KILL 30 parun --restart -1 --restart-delay 10ms 'echo x >>runs; [ $(wc -l <runs) -ge 3 ]'
    assert_success
    assert_equal "$(wc -l <runs | tr -d ' ')" 3
}

@test "parun --restart-delay exp still restarts" {
    run timeout -s KILL 30 parun --restart 2 --restart-delay exp 'echo x >>runs; exit 1'
    assert_failure 123
    assert_equal "$(wc -l <runs | tr -d ' ')" 3
}

@test "parun --ready starts later commands only once NAME printed a matching line" {
    make_await
    run timeout -s KILL 30 parun --ready 'db=^accepting' --names db,app \
        'echo booting; [ -e app.started ] && echo early >order; echo accepting connections; ./await app.started' \
        'echo yes >app.started'
    not_hung
    assert_success
    [ ! -e order ]
}

@test "parun --ready counts a command that exits 0 as ready" {
    run timeout -s KILL 30 parun --ready 'a=never' --names a,b 'true' 'echo b ran'
    assert_success
    assert_output 'b | b ran'
}

@test "parun --ready starts nothing after a command that failed before it was ready" {
    run --separate-stderr timeout -s KILL 30 parun --ready 'a=never' --names a,b 'exit 1' 'touch b.ran'
    assert_failure 123
    [ ! -e b.ran ]
    assert_equal "${stderr%%$'\n'*}" 'parun: a ended before it was ready: 1 command not started'
}

# ---------------------------------------------------------------- Procfile

@test "parun -f reads names and commands from a Procfile, skipping comments and blank lines" {
    printf '%s\n' '# services' '' 'web: echo w' '  # indented comment' 'db:echo d' >Procfile
    run timeout -s KILL 30 parun -f Procfile
    assert_success
    run sort <<<"$output"
    assert_output $'db  | d\nweb | w'
}

@test "parun -f - reads the Procfile from standard input" {
    run timeout -s KILL 30 bash -c "printf 'x: echo hi\n' | parun -f -"
    assert_success
    assert_output 'x | hi'
}

@test "parun -f names the file and line of a malformed line, exits 2 and starts nothing" {
    printf '%s\n' 'a: touch started' '# ok' 'no colon here' >Procfile
    run --separate-stderr timeout -s KILL 30 parun -f Procfile
    assert_failure 2
    assert_equal "$stderr" "parun: Procfile:3: expected 'name: command'"
    [ ! -e started ]
}

@test "parun -f refuses a duplicate name, naming both lines" {
    printf '%s\n' 'a: true' 'b: true' 'a: touch started' >Procfile
    run --separate-stderr timeout -s KILL 30 parun -f Procfile
    assert_failure 2
    assert_equal "$stderr" "parun: Procfile:3: the name 'a' is already used on line 1"
    [ ! -e started ]
}

@test "parun -f refuses an empty command with its line number" {
    printf '%s\n' 'a:   ' >Procfile
    run --separate-stderr timeout -s KILL 30 parun -f Procfile
    assert_failure 2
    assert_equal "$stderr" "parun: Procfile:1: the command for 'a' is empty"
}

@test "parun -f on a missing file exits 2 and says why" {
    run --separate-stderr timeout -s KILL 30 parun -f nothing-here
    assert_failure 2
    assert_equal "$stderr" "parun: cannot open 'nothing-here': No such file or directory"
}

# ---------------------------------------------------------------- bad input

@test "parun refuses an empty command string and starts nothing" {
    run --separate-stderr timeout -s KILL 30 parun 'touch started' ' '
    assert_failure 2
    assert_equal "${stderr%%$'\n'*}" 'parun: command 2 is empty'
    [ ! -e started ]
}

@test "parun refuses duplicate --names and a wrong number of them" {
    run --separate-stderr timeout -s KILL 30 parun --names a,a 'true' 'true'
    assert_failure 2
    assert_equal "${stderr%%$'\n'*}" "parun: --names: the name 'a' is given twice"
    run --separate-stderr timeout -s KILL 30 parun --names a 'true' 'true'
    assert_failure 2
    assert_equal "${stderr%%$'\n'*}" "parun: --names: 1 names for 2 commands"
}

@test "parun refuses -j 0" {
    run --separate-stderr timeout -s KILL 30 parun -j 0 'touch started'
    assert_failure 2
    [ ! -e started ]
}

@test "parun refuses a --wait, --ready, --hide or --stdin naming no command" {
    for opt in "--wait=nope" "--ready=nope=x" "--hide=nope" "--stdin=nope"; do
        run --separate-stderr timeout -s KILL 30 parun "$opt" 'touch started'
        assert_failure 2
        assert_equal "${stderr%%$'\n'*}" "parun: ${opt%%=*}: no command is named 'nope'"
    done
    [ ! -e started ]
}

@test "parun refuses a bad --ready regex with regerror's words" {
    run --separate-stderr timeout -s KILL 30 parun --ready '1=(' 'touch started'
    assert_failure 2
    [[ $stderr == "parun: --ready: invalid regular expression '(': "* ]]
    [ ! -e started ]
}

@test "parun refuses an unknown option and a missing command" {
    run --separate-stderr timeout -s KILL 30 parun --frobnicate 'true'
    assert_failure 2
    run --separate-stderr timeout -s KILL 30 parun
    assert_failure 2
    assert_equal "${stderr%%$'\n'*}" 'parun: no command given'
}

# ---------------------------------------------------------------- signals: no child left behind

@test "parun on SIGINT stops every command's group, grandchildren included, and exits 130" {
    make_await
    env --default-signal=INT parun --names a,b \
        'echo $$ >a.pid; ./await never & echo $! >agc.pid; wait' 'echo $$ >b.pid; ./await never' >out 2>err &
    pid=$!
    wait_for_content a.pid agc.pid b.pid
    kill -INT "$pid"
    run timeout -s KILL 30 tail --pid="$pid" -f /dev/null
    ended "$pid"
    assert_equal "$status" 130
    for f in a.pid agc.pid b.pid; do dead "$(cat $f)"; done
    assert_equal "$(ps -o pid= -g "$(cat a.pid)" | wc -l)" 0
}

@test "parun on SIGTERM stops every command and exits 143" {
    make_await
    parun --names a 'echo $$ >a.pid; ./await never' >out 2>err &
    pid=$!
    wait_for_content a.pid
    kill -TERM "$pid"
    ended "$pid"
    assert_equal "$status" 143
    dead "$(cat a.pid)"
    assert_equal "$(ps -o pid= -g "$(cat a.pid)" | wc -l)" 0
}

@test "parun killed with kill -9 leaves no command running" {
    make_await
    parun --names a,b 'echo $$ >a.pid; exec ./await never' 'echo $$ >b.pid; exec ./await never' >out 2>err &
    pid=$!
    wait_for_content a.pid b.pid
    kill -KILL "$pid"
    wait "$pid" || true
    dead "$(cat a.pid)"
    dead "$(cat b.pid)"
}

@test "parun keeps signals that were ignored at start ignored for its commands" {
    run timeout -s KILL 30 bash -c "trap '' INT; exec parun 'kill -INT \$\$; echo survived'"
    not_hung
    assert_success
    assert_output '1 | survived'
}

# ---------------------------------------------------------------- write errors

@test "parun stops with one message and exit 125 when standard output is full" {
    [ -w /dev/full ] || skip "no /dev/full"
    make_await
    run --separate-stderr timeout -s KILL 30 bash -c "parun 'echo a' 'echo \$\$ >c.pid; ./await never' >/dev/full"
    not_hung
    assert_failure 125
    assert_equal "$stderr" "parun: write error on standard output: No space left on device"
    dead "$(cat c.pid)"
}

@test "parun stops quietly with exit 141 when its reader goes away" {
    run --separate-stderr timeout -s KILL 30 bash -c "parun 'yes' | head -1; exit \${PIPESTATUS[0]}"
    not_hung
    assert_failure 141
    assert_output '1 | y'
    assert_equal "$stderr" ""
}
