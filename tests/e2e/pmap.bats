#!/usr/bin/env bats
# pmap end to end: one test a behaviour of the specification.
#
# Where the specification leaves a choice, these tests pin pmap's (see pmap(1)):
#  - --retries N means N tries in all, as in GNU parallel (--retries 3: 3 runs).
#  - a job that cannot run because an argument is too long counts as a failed
#    job (exit 123), and the message contains "too long" and the job number.
#  - --halt now,fail=1 exits with GNU's exit status of the failing job;
#    --halt now,success=1 exits 0.
#  - with -a FILE or ::: items, jobs inherit pmap's standard input.
#  - the first SIGINT is passed on as SIGINT; a job that ignores it is
#    killed by the second SIGINT (or by the grace period, whichever is first).
#  - when stdout's reader goes away, nothing is written on stderr.
#  - --dry-run prints commands in input order.
#  - pmap with no COMMAND at all is a usage error (GNU parallel would run the
#    items as commands).
#  - messages: usage errors start with "pmap: " and end with "Try 'pmap --help'."
#  - --bar draws nothing when stderr is not a terminal.
# Jobs that must finish out of order wait on each other through files and
# `kill -0` on a job's pid (which succeeds until pmap has reaped that job), never
# on sleeps; the only sleeps are polling intervals.

load helper

bats_require_minimum_version 1.5.0


# gone PID: true once PID no longer exists (60 s at most).
gone() {
    local i
    for i in $(seq 600); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- input

@test "pmap runs the command once per line of standard input" {
    run pmap -j2 echo < <(printf 'a\nb\nc\n')
    assert_success
    run sort <<<"$output"
    assert_output $'a\nb\nc'
}

@test "pmap reads a last record that has no newline" {
    run bash -c "printf 'a\nb' | pmap -k echo"
    assert_success
    assert_output $'a\nb'
}

@test "pmap reads no jobs from empty input and exits 0" {
    run pmap echo never </dev/null
    assert_success
    assert_output ""
}

@test "pmap -0 reads NUL-terminated items that may hold newlines and blanks" {
    run bash -c "printf 'a b\0c\nd\0' | pmap -0 -k printf '[%s]\n'"
    assert_success
    assert_output $'[a b]\n[c\nd]'
}

@test "pmap -d splits the input at the given character" {
    run bash -c "printf 'a,b c,d' | pmap -k -d , echo"
    assert_success
    assert_output $'a\nb c\nd'
}

@test "pmap -a reads items from a file" {
    printf 'x\ny\n' >items
    run pmap -k -a items echo got
    assert_success
    assert_output $'got x\ngot y'
}

@test "pmap takes the words after ::: as items" {
    run pmap -k echo got ::: 'a b' c
    assert_success
    assert_output $'got a b\ngot c'
}

@test "pmap reads input lazily so an endless input works" {
    run timeout 60 bash -c 'yes | pmap -j2 echo | head -n 5'
    assert_success
    assert_output $'y\ny\ny\ny\ny'
}

@test "pmap memory does not grow with the number of items" {
    [ -x /usr/bin/time ] || skip "/usr/bin/time not installed"
    run bash -c 'seq 1000000 | /usr/bin/time -f %M -o rss pmap -j2 -n 1000 true'
    assert_success
    # Generous: the benchmark's goal is 8 MiB.  (ASan's shadow memory makes RSS meaningless.)
    [ -n "${CONC_SANITIZED:-}" ] || [ "$(tail -n 1 rss)" -lt 32768 ]
}

# ---------------------------------------------------------------- command

@test "pmap appends the item as the last argument when there is no replacement string" {
    run pmap echo first ::: last
    assert_success
    assert_output "first last"
}

@test "pmap replaces {} anywhere inside an argument" {
    run pmap -k echo 'x{}y' '{}.bak' ::: a b
    assert_success
    assert_output $'xay a.bak\nxby b.bak'
}

@test "pmap replaces {.} {/} {//} and {/.} as GNU parallel does" {
    run pmap echo '{.}' '{/}' '{//}' '{/.}' ::: dir/x.tar.gz
    assert_success
    assert_output "dir/x.tar x.tar.gz dir x.tar"
}

@test "pmap {.} removes the extension of the last path component only" {
    run pmap echo '{.}' ::: a.b/c
    assert_success
    assert_output "a.b/c"
}

@test "pmap {//} is a dot when the item has no directory" {
    run pmap echo '{//}' ::: file.txt
    assert_success
    assert_output "."
}

@test "pmap {#} is the job number in input order" {
    run pmap -k echo '{#}' '{}' ::: a b c
    assert_success
    assert_output $'1 a\n2 b\n3 c'
}

@test "pmap {%} is a job slot between 1 and -j" {
    run bash -c "seq 30 | pmap -j3 echo '{%}' | sort -u"
    assert_success
    for slot in $output; do
        [ "$slot" -ge 1 ] && [ "$slot" -le 3 ]
    done
}

@test "pmap -I changes the string that stands for the item" {
    run pmap -I XX echo 'XX' 'XX.out' '{}' ::: a
    assert_success
    assert_output "a a.out {}"
}

@test "pmap --colsep splits each record into columns {1} {2}" {
    # GNU parallel: {} is every column, one argument each (was the whole record before issue 13).
    run bash -c "printf 'a,b\nc,d,e\n' | pmap -k --colsep , echo '{2}' '{1}' '[{3}]' '{}'"
    assert_success
    assert_output $'b a [] a b\nd c [e] c d e'
}

@test "pmap -s runs the command as one sh -c script" {
    run pmap -s 'echo {} | tr a b' ::: aaa
    assert_success
    assert_output "bbb"
}

@test "pmap -n gives up to N items to each job" {
    run bash -c "seq 5 | pmap -k -n 2 echo"
    assert_success
    assert_output $'1 2\n3 4\n5'
}

@test "pmap -n turns {} into one argument per item" {
    run pmap -k -n 2 sh -c 'echo $# "$1|$2"' sh '{}' ::: 'a b' c d
    assert_success
    assert_output $'2 a b|c\n1 d|'
}

@test "pmap -X repeats a word with a replacement inside it once per item" {
    # GNU parallel: -n alone splits {} ("xa b"); repeating the word is -X (changed in issue 13).
    run pmap -k -N 2 -X echo 'x{}' ::: a b c
    assert_success
    assert_output $'xa xb\nxc'
}

# ---------------------------------------------------------------- jobs

@test "pmap -j N runs at most N jobs at once" {
    run bash -c "seq 20 | pmap -j2 sh -c 'touch run.\$\$; ls run.* | wc -l >>counts; rm run.\$\$' sh"
    assert_success
    [ "$(sort -n counts | tail -n 1)" -le 2 ]
    [ "$(wc -l <counts)" -eq 20 ]
}

@test "pmap -j N runs N jobs at once when there are enough items" {
    # Each job waits until all four have started: only four at once can finish.
    run timeout 60 pmap -j4 sh -c 'touch s.$1; while [ "$(ls s.* | wc -l)" -lt 4 ]; do sleep 0.05; done' sh ::: 1 2 3 4
    assert_success
}

@test "pmap -j 0 runs as many jobs at once as possible" {
    run timeout 60 bash -c "seq 16 | pmap -j0 sh -c 'touch s.\$1; while [ \"\$(ls s.* | wc -l)\" -lt 16 ]; do sleep 0.05; done' sh"
    assert_success
}

@test "pmap runs as many jobs as online CPUs by default" {
    n=$(getconf _NPROCESSORS_ONLN)
    run timeout 60 bash -c "seq $n | pmap sh -c 'touch s.\$1; while [ \"\$(ls s.* | wc -l)\" -lt $n ]; do sleep 0.05; done' sh"
    assert_success
    run bash -c "seq 20 | pmap sh -c 'touch run.\$\$; ls run.* | wc -l >>counts; rm run.\$\$' sh"
    assert_success
    [ "$(sort -n counts | tail -n 1)" -le "$n" ]
}

@test "pmap runs each job in its own process group" {
    run pmap sh -c 'echo $$ $(cut -d" " -f5 /proc/$$/stat)' sh ::: a
    assert_success
    read -r pid pgid <<<"$output"
    [ "$pid" = "$pgid" ]
}

@test "pmap gives jobs /dev/null as standard input when items come from stdin" {
    run bash -c "echo a | pmap sh -c 'readlink /proc/\$\$/fd/0' sh"
    assert_success
    assert_output "/dev/null"
}

@test "pmap jobs inherit standard input when items come from -a or :::" {
    run bash -c "echo hello | pmap sh -c 'cat' sh ::: a"
    assert_success
    assert_output "hello"
}

@test "pmap sets PMAP_SEQ and PMAP_SLOT in each job's environment" {
    run pmap -k -j2 sh -c 'echo "$PMAP_SEQ $PMAP_SLOT"' sh ::: a b c
    assert_success
    [ "${#lines[@]}" -eq 3 ]
    for i in 0 1 2; do
        read -r seq slot <<<"${lines[$i]}"
        [ "$seq" -eq $((i + 1)) ]
        [ "$slot" -ge 1 ] && [ "$slot" -le 2 ]
    done
}

# ---------------------------------------------------------------- order and output

# Job 1 finishes only after pmap has reaped job 2.
out_of_order='if [ "$1" = 1 ]; then while [ ! -s two.pid ]; do sleep 0.05; done;
  while kill -0 "$(cat two.pid)" 2>/dev/null; do sleep 0.05; done; fi; echo "$1"; if [ "$1" = 2 ]; then echo $$ >two.pid; fi'

@test "pmap -k keeps input order when jobs finish out of order" {
    run timeout 60 pmap -k -j2 sh -c "$out_of_order" sh ::: 1 2
    assert_success
    assert_output $'1\n2'
}

@test "pmap writes outputs in completion order by default" {
    run timeout 60 pmap -j2 sh -c "$out_of_order" sh ::: 1 2
    assert_success
    assert_output $'2\n1'
}

@test "pmap -k with a slow first job buffers the rest without losing output" {
    head -c 65536 /dev/zero | tr '\0' x >blob
    script='if [ "$1" = 1 ]; then while [ ! -e last ]; do sleep 0.05; done; fi; cat blob; echo " $1"; if [ "$1" = 2000 ]; then touch last; fi'
    if [ -x /usr/bin/time ]; then time=(/usr/bin/time -f %M -o rss); else time=(); fi
    run timeout 600 bash -c "seq 2000 | ${time[*]} pmap -k -j2 sh -c '$script' sh >out"
    assert_success
    [ "$(wc -l <out)" -eq 2000 ]
    run awk '{ if (length($1) != 65536 || $2 != NR) bad++ } END { print bad + 0 }' out
    assert_output "0"
    # 125 MiB of output was held back: bounded memory means it was spilled.
    if [ -f rss ] && [ -z "${CONC_SANITIZED:-}" ]; then [ "$(tail -n 1 rss)" -le $((80 * 1024)) ]; fi
}

@test "pmap groups each job's standard output so jobs never interleave" {
    run pmap -j4 sh -c 'for i in $(seq 2000); do echo "$1 line $i"; done' sh ::: a b c d
    assert_success
    [ "${#lines[@]}" -eq 8000 ]
    run bash -c "printf '%s\n' \"\$1\" | cut -d' ' -f1 | uniq | wc -l" _ "$output"
    assert_output "4"
}

@test "pmap groups each job's standard error as one block too" {
    run bash -c "pmap -j4 sh -c 'for i in \$(seq 2000); do echo \"\$1 e \$i\" >&2; done' sh ::: a b c d 2>err >/dev/null"
    assert_success
    [ "$(wc -l <err)" -eq 8000 ]
    [ "$(cut -d' ' -f1 err | uniq | wc -l)" -eq 4 ]
}

@test "pmap --line-buffer never splits a line between jobs" {
    run pmap -j2 --line-buffer sh -c 'for i in 1 2 3 4 5; do head -c 100000 /dev/zero | tr "\0" "$1"; echo; done' sh ::: a b
    assert_success
    [ "${#lines[@]}" -eq 10 ]
    for line in "${lines[@]}"; do
        [ "${#line}" -eq 100000 ]
        [ -z "${line//${line:0:1}/}" ]
    done
}

# Job 1 prints a line, then waits until job 2 has seen that line in the output
# file: only a mode that passes lines on while the job runs lets both finish.
@test "pmap --line-buffer writes lines while the job still runs" {
    run timeout 60 bash -c "pmap -j2 --line-buffer sh -c 'if [ \"\$1\" = 1 ]; then echo ready; while [ ! -e go ]; do sleep 0.05; done; else while ! grep -q ready out; do sleep 0.05; done; touch go; fi' sh ::: 1 2 >out"
    assert_success
    assert_equal "$(cat out)" "ready"
}

@test "pmap -u passes output straight through" {
    run timeout 60 bash -c "pmap -j2 -u sh -c 'if [ \"\$1\" = 1 ]; then echo ready; while [ ! -e go ]; do sleep 0.05; done; else while ! grep -q ready out; do sleep 0.05; done; touch go; fi' sh ::: 1 2 >out"
    assert_success
    assert_equal "$(cat out)" "ready"
}

@test "pmap --tag prefixes each output line with the item and a tab" {
    run pmap -k --tag sh -c 'echo one; echo two' sh ::: a 'b c'
    assert_success
    assert_output $'a\tone\na\ttwo\nb c\tone\nb c\ttwo'
}

@test "pmap --line-buffer --tag tags a last line that lacks its newline" {
    run pmap --line-buffer --tag sh -c 'printf "one\ntwo"' sh ::: a
    assert_success
    assert_output $'a\tone\na\ttwo'
}

# ---------------------------------------------------------------- timeouts, retries, halting

@test "pmap --timeout stops a job that runs too long and counts it as failed" {
    SECONDS=0
    run pmap --timeout 1 sleep ::: 100
    assert_failure 123
    [ "$SECONDS" -lt 60 ]
    assert_output --partial "pmap: 1 of 1 jobs failed"
}

@test "pmap --timeout signals the job's whole process group" {
    run pmap --timeout 1 sh -c 'sleep 100 & echo $! >gc.pid; wait' sh ::: a
    assert_failure 123
    gone "$(cat gc.pid)"
}

@test "pmap --timeout kills a job that ignores SIGTERM" {
    SECONDS=0
    run pmap --timeout 1 sh -c 'trap "" TERM; sleep 100' sh ::: a
    assert_failure 123
    [ "$SECONDS" -lt 60 ]
}

@test "pmap --retries runs a failing job again up to N tries" {
    run pmap --retries 3 sh -c 'echo try >>tries; exit 1' sh ::: a
    assert_failure 123
    [ "$(wc -l <tries)" -eq 3 ]
}

@test "pmap --retries stops retrying once the job succeeds" {
    run pmap --retries 5 sh -c 'echo try >>tries; [ "$(wc -l <tries)" -ge 2 ]' sh ::: a
    assert_success
    [ "$(wc -l <tries)" -eq 2 ]
}

@test "pmap --halt now,fail=1 kills the running jobs and starts no more" {
    SECONDS=0
    run timeout 60 bash -c "seq 10 | pmap -j2 --halt now,fail=1 sh -c 'echo \$1 >>started; if [ \$1 = 1 ]; then while [ ! -e two ]; do sleep 0.05; done; exit 3; fi; touch two; sleep 100' sh"
    assert_failure 3
    [ "$SECONDS" -lt 60 ]
    [ "$(wc -l <started)" -eq 2 ]
}

@test "pmap --halt soon,fail=1 lets running jobs finish and starts no more" {
    # Job 2 finishes only after pmap has reaped the failed job 1.
    run timeout 60 bash -c "seq 10 | pmap -j2 --halt soon,fail=1 sh -c 'echo \$1 >>started; if [ \$1 = 1 ]; then while [ ! -e two ]; do sleep 0.05; done; echo \$\$ >one.pid; exit 3; fi; touch two; while [ ! -s one.pid ]; do sleep 0.05; done; while kill -0 \$(cat one.pid) 2>/dev/null; do sleep 0.05; done; echo finished \$1' sh"
    assert_failure 3
    assert_output --partial "finished 2"
    [ "$(wc -l <started)" -eq 2 ]
}

@test "pmap --halt now,success=1 stops at the first success" {
    run timeout 60 bash -c "seq 10 | pmap -j2 --halt now,success=1 sh -c 'echo \$1 >>started; if [ \$1 = 1 ]; then exit 0; fi; sleep 100' sh"
    assert_success
    [ "$(wc -l <started)" -le 2 ]
}

@test "pmap --delay spaces out job starts" {
    run pmap -j3 --delay 1 sh -c 'date +%s%N >>starts' sh ::: a b c
    assert_success
    [ "$(wc -l <starts)" -eq 3 ]
    # Lower bounds only: 1 s apart, measured inside the jobs, leaves 0.5 s of slack.
    run awk 'NR > 1 && $1 - prev < 500000000 { bad++ } { prev = $1 } END { print bad + 0 }' <(sort -n starts)
    assert_output "0"
}

# ---------------------------------------------------------------- joblog and resume

@test "pmap --joblog writes a header and one row per finished job" {
    run pmap --joblog log.tsv sh -c 'exit $1' sh ::: 0 3
    assert_failure 123
    run head -n 1 log.tsv
    # GNU parallel's 9 columns (issue 13: was pmap's own 7-column layout).
    assert_output $'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand'
    [ "$(wc -l <log.tsv)" -eq 3 ]
    run awk -F'\t' 'NR > 1 { print $1, $2, $7, $8, NF }' log.tsv
    assert_line "1 : 0 0 9"
    assert_line "2 : 3 0 9"
    run awk -F'\t' 'NR > 1 && ($3 !~ /^[0-9]+\.[0-9][0-9][0-9]$/ || $4 !~ /^ *[0-9]+\.[0-9][0-9][0-9]$/ || length($4) < 10) { bad++ } END { print bad + 0 }' log.tsv
    assert_output "0"
}

@test "pmap --joblog records the signal that ended a job" {
    run pmap --joblog log.tsv sh -c 'kill -9 $$' sh ::: a
    assert_failure 123
    run awk -F'\t' 'NR == 2 { print $7, $8 }' log.tsv
    assert_output "0 9"
}

@test "pmap --joblog shows the command shell-quoted on one line" {
    run pmap --joblog log.tsv echo ::: $'a b\nc'
    assert_success
    [ "$(wc -l <log.tsv)" -eq 2 ]
    # GNU parallel writes a newline of the command as a NUL byte (issue 13: was \n).
    run bash -c "tr '\\0' @ <log.tsv | awk -F'\\t' 'NR == 2 { print \$9 }'"
    assert_output "echo 'a b@c'"
}

@test "pmap --resume skips the jobs already in the joblog" {
    run pmap --joblog log.tsv sh -c 'echo $1; [ $1 != b ]' sh ::: a b c
    assert_failure 123
    run pmap --joblog log.tsv --resume sh -c 'echo ran $1' sh ::: a b c d
    assert_success
    assert_output "ran d"
    [ "$(grep -c '^Seq' log.tsv)" -eq 1 ]
    [ "$(wc -l <log.tsv)" -eq 5 ]
}

@test "pmap --resume-failed runs again only the jobs that failed" {
    run pmap --joblog log.tsv sh -c '[ $1 != b ]' sh ::: a b c
    assert_failure 123
    run pmap --joblog log.tsv --resume-failed sh -c 'echo ran $1' sh ::: a b c
    assert_success
    assert_output "ran b"
}

@test "pmap --resume with a missing joblog runs every job" {
    run pmap -k --joblog new.tsv --resume echo ::: a b
    assert_success
    assert_output $'a\nb'
    [ "$(wc -l <new.tsv)" -eq 3 ]
}

# ---------------------------------------------------------------- showing commands

@test "pmap --dry-run prints each command shell-quoted and runs nothing" {
    run pmap --dry-run touch '{}' ::: 'a b' c "it's"
    assert_success
    assert_output $'touch \'a b\'\ntouch c\ntouch \'it\'\\\'\'s\''
    [ ! -e c ] && [ ! -e 'a b' ]
}

@test "pmap --dry-run output run by sh gives the items back literally" {
    printf '%s\0' '$(touch pwned)' '`touch pwned`' 'a;b' "q'\"" $'x\ny' >items
    run bash -c "pmap -0 --dry-run printf '[%s]' <items | sh"
    assert_success
    assert_output "$(printf '[%s]' '$(touch pwned)' '`touch pwned`' 'a;b' "q'\"" $'x\ny')"
    [ ! -e pwned ]
}

@test "pmap -v prints each command on standard error as it starts" {
    run --separate-stderr pmap -v echo ::: 'a b'
    assert_success
    assert_output "a b"
    [[ $stderr == *"echo 'a b'"* ]]
}

@test "pmap --bar leaves standard output alone" {
    run --separate-stderr pmap -k --bar echo ::: a b
    assert_success
    assert_output $'a\nb'
}

@test "pmap draws no progress bar without --bar, even on a terminal" {
    command -v script >/dev/null || skip "script(1) not installed"
    run script -qec "pmap true ::: 1 2 3" /dev/null
    assert_success
    refute_output --partial "pmap:"
    run script -qec "pmap --bar true ::: 1 2 3" /dev/null
    assert_success
    assert_output --partial "pmap: 3/3"
}

# ---------------------------------------------------------------- exit status and messages

@test "pmap exits 123 and counts the failures when a job fails" {
    run --separate-stderr pmap sh -c 'exit $1' sh ::: 0 1 0 5
    assert_failure 123
    [ "$stderr" = "pmap: 2 of 4 jobs failed" ]
}

@test "pmap exits 123 when a job is killed by a signal" {
    run pmap sh -c 'kill -9 $$' sh ::: a
    assert_failure 123
}

@test "pmap exits 127 when the command is not found" {
    run -127 --separate-stderr pmap no-such-command-pmap-test ::: a b
    assert_failure 127
    [[ $stderr == pmap:*no-such-command-pmap-test* ]]
}

@test "pmap exits 126 when the command cannot be executed" {
    printf 'not a program\n' >notexec
    chmod -x notexec
    run --separate-stderr pmap ./notexec ::: a
    assert_failure 126
    [[ $stderr == pmap:*notexec* ]]
}

@test "pmap rejects an unknown option with exit 2" {
    run --separate-stderr pmap --no-such-option echo
    assert_failure 2
    [[ $stderr == pmap:* ]]
    [[ $stderr == *"Try 'pmap --help'." ]]
}

@test "pmap rejects -j x with exit 2" {
    run --separate-stderr pmap -j x echo ::: a
    assert_failure 2
    [[ $stderr == pmap:* ]]
    [[ $stderr == *"Try 'pmap --help'." ]]
}

@test "pmap rejects -j +x and -j 0% with exit 2" {
    for j in +x 0% 1.5 --1; do
        run --separate-stderr pmap -j "$j" echo ::: a
        assert_failure 2
        [[ $stderr == "pmap: -j: "* ]]
        [[ $stderr == *"Try 'pmap --help'." ]]
    done
}

@test "pmap -j takes N%, +N and -N of the online CPUs, at least one job" {
    for j in 50% 1% +1 -1 -100000; do
        run pmap -k -j "$j" echo ::: a b
        assert_success
        assert_output $'a\nb'
    done
}

@test "pmap reports a missing -a file with exit 2" {
    run --separate-stderr pmap -a missing.txt echo
    assert_failure 2
    [[ $stderr == "pmap: cannot open 'missing.txt': No such file or directory"* ]]
}

@test "pmap reports an -a that is a directory with exit 2" {
    mkdir adir
    run pmap -a adir echo
    assert_failure 2
    assert_output --partial "adir"
    assert_output --partial "Is a directory"
}

@test "pmap rejects --resume without --joblog with exit 2" {
    run --separate-stderr pmap --resume echo ::: a
    assert_failure 2
    [[ $stderr == pmap:*--joblog* ]]
}

@test "pmap rejects ::: with no items with exit 2" {
    run --separate-stderr pmap echo :::
    assert_failure 2
    [[ $stderr == pmap:* ]]
}

@test "pmap rejects a bad --halt value with exit 2" {
    run --separate-stderr pmap --halt sometimes echo ::: a
    assert_failure 2
    [[ $stderr == *"--halt"* ]]
}

# Changed for GNU parallel (issue 13): with no command each record is a
# command line, so no command and no input runs nothing: 'parallel </dev/null' exits 0.
@test "pmap with no command and no input runs nothing and exits 0" {
    run --separate-stderr pmap </dev/null
    assert_success
    assert_output ""
    [ -z "$stderr" ]
}

@test "pmap --help prints usage on stdout and exits 0" {
    run --separate-stderr pmap --help
    assert_success
    [[ $output == *pmap* ]]
    [ -z "$stderr" ]
}

@test "pmap --version prints the tool and package" {
    run pmap --version
    assert_success
    [[ $output == "pmap (conc) "* ]]
}

@test "pmap reports an item too long to be one argument and runs the other jobs" {
    run --separate-stderr bash -c "{ echo a; head -c 200000 /dev/zero | tr '\0' x; echo; echo b; } | pmap -k -j1 echo"
    assert_failure 123
    assert_output $'a\nb'
    [[ $stderr == pmap:* ]]
    [[ $stderr == *"too long"* ]]
    [[ $stderr == *2* ]]
}

# ---------------------------------------------------------------- signals and closed output

@test "pmap passes SIGTERM to its jobs and exits 143 leaving no child behind" {
    pmap sh -c 'sleep 100 & echo $! >gc.pid; echo $$ >job.pid; wait' sh ::: a >out 2>err &
    pid=$!
    wait_for gc.pid
    wait_for job.pid
    kill -TERM "$pid"
    ended "$pid"
    [ "$status" -eq 143 ]
    gone "$(cat job.pid)"
    gone "$(cat gc.pid)"
}

@test "pmap passes SIGHUP to its jobs and exits 129" {
    pmap sh -c 'echo $$ >job.pid; sleep 100' sh ::: a >out 2>err &
    pid=$!
    wait_for job.pid
    kill -HUP "$pid"
    ended "$pid"
    [ "$status" -eq 129 ]
    gone "$(cat job.pid)"
}

@test "pmap on SIGINT starts no new jobs and exits 130" {
    # Background jobs of a script ignore SIGINT; env restores the default.
    env --default-signal=INT pmap -j1 sh -c 'echo $1 >>started; echo $$ >job.pid; sleep 100' sh ::: a b c >out 2>err &
    pid=$!
    wait_for job.pid
    kill -INT "$pid"
    ended "$pid"
    [ "$status" -eq 130 ]
    gone "$(cat job.pid)"
    [ "$(wc -l <started)" -eq 1 ]
}

@test "pmap on a second SIGINT kills jobs that ignore the first" {
    env --default-signal=INT pmap sh -c 'trap "" INT TERM; echo $$ >job.pid; sleep 100' sh ::: a >out 2>err &
    pid=$!
    wait_for job.pid
    kill -INT "$pid"
    sleep 0.5
    kill -INT "$pid" 2>/dev/null || true
    SECONDS=0
    ended "$pid"
    [ "$status" -eq 130 ]
    [ "$SECONDS" -lt 60 ]
    gone "$(cat job.pid)"
}

@test "pmap stops quietly and kills its jobs when the reader closes stdout" {
    # Job 1 runs until killed; the other slot prints one line per job, forever.
    run timeout 60 bash -c "seq 1000000000 | pmap -j2 sh -c 'if [ \$1 = 1 ]; then echo \$\$ >slow.pid; sleep 1000; fi; echo \$1' sh 2>err | head -n 5"
    assert_success
    [ "${#lines[@]}" -eq 5 ]
    [ ! -s err ]
    gone "$(cat slow.pid)"
}

# ---------------------------------------------------------------- security

hostile_items() {
    printf '%s\0' '$(touch pwned)' '`touch pwned`' '; rm -rf ./victim' "it's \"quoted\"" $'two\nlines' '*' '$HOME' '-n' ''
}
hostile_expected() {
    printf '[%s]\n' '$(touch pwned)' '`touch pwned`' '; rm -rf ./victim' "it's \"quoted\"" $'two\nlines' '*' '$HOME' '-n' ''
}

@test "pmap passes hostile items to the command literally" {
    mkdir victim
    hostile_items >items
    run pmap -0 -k printf '[%s]\n' <items
    assert_success
    assert_output "$(hostile_expected)"
    [ ! -e pwned ] && [ -d victim ]
}

@test "pmap passes hostile items literally through {} replacements" {
    mkdir victim
    hostile_items >items
    run pmap -0 -k printf '[%s]\n' '{}' <items
    assert_success
    assert_output "$(hostile_expected)"
    [ ! -e pwned ] && [ -d victim ]
}

@test "pmap -s quotes hostile items so the shell sees them as data" {
    mkdir victim
    hostile_items >items
    run pmap -0 -k -s "printf '[%s]\n' {}" <items
    assert_success
    assert_output "$(hostile_expected)"
    [ ! -e pwned ] && [ -d victim ]
}

@test "pmap -s quotes hostile items appended to the script" {
    mkdir victim
    hostile_items >items
    run pmap -0 -k -s "printf '[%s]\n'" <items
    assert_success
    assert_output "$(hostile_expected)"
    [ ! -e pwned ] && [ -d victim ]
}

@test "pmap -I with a hostile item still passes it literally" {
    run pmap -I @@ printf '[%s]' 'x@@y' ::: '$(touch pwned);`id`'
    assert_success
    assert_output '[x$(touch pwned);`id`y]'
    [ ! -e pwned ]
}

@test "pmap never globs an item" {
    touch a1 a2
    run pmap echo ::: 'a*'
    assert_success
    assert_output 'a*'
}

# ---- engine defects (issue 8) ----
#
# Anything that could hang runs under `timeout -s KILL` (pmap ignored TERM when
# it hung) and the test first checks it did not time out.  Jobs record their
# pids in *.pid files; teardown kills what is left of them after a failure.

# gc.sh: a grandchild that ignores TERM, INT and HUP, keeps no output pipe open
# and records its pid in gc.pid.
make_stubborn_grandchild() {
    printf '%s\n' "trap '' TERM INT HUP" 'echo $$ >gc.pid' 'while :; do sleep 1; done' >gc.sh
}


# 1. A write error on standard output.

@test "pmap -k stops with one message and exit 125 when standard output is full" {
    [ -w /dev/full ] || skip "no /dev/full"
    run --separate-stderr timeout -s KILL 30 bash -c 'pmap -k echo ::: a b >/dev/full'
    not_hung
    assert_failure 125
    assert_equal "$stderr" "pmap: write error on standard output: No space left on device"
}

@test "pmap stops with one message and exit 125 when standard output is full" {
    [ -w /dev/full ] || skip "no /dev/full"
    run --separate-stderr timeout -s KILL 30 bash -c 'pmap echo ::: a b >/dev/full'
    not_hung
    assert_failure 125
    assert_equal "$stderr" "pmap: write error on standard output: No space left on device"
}

@test "pmap --tag stops with one message and exit 125 when standard output is full" {
    [ -w /dev/full ] || skip "no /dev/full"
    run --separate-stderr timeout -s KILL 30 bash -c 'pmap --tag echo ::: a b >/dev/full'
    not_hung
    assert_failure 125
    assert_equal "$stderr" "pmap: write error on standard output: No space left on device"
}

@test "pmap --line-buffer names standard output when it is full" {
    [ -w /dev/full ] || skip "no /dev/full"
    run --separate-stderr timeout -s KILL 30 bash -c 'pmap --line-buffer echo ::: a b >/dev/full'
    not_hung
    assert_failure 125
    assert_equal "$stderr" "pmap: write error on standard output: No space left on device"
}

@test "pmap with many jobs and a full standard output says so once and exits 125" {
    [ -w /dev/full ] || skip "no /dev/full"
    run --separate-stderr timeout -s KILL 30 bash -c 'seq 1000 | pmap -j2 echo >/dev/full'
    not_hung
    assert_failure 125
    [ "$(grep -c 'write error on standard output' <<<"$stderr")" -eq 1 ]
}

@test "pmap stops its running jobs when standard output is full" {
    [ -w /dev/full ] || skip "no /dev/full"
    make_await
    # Job 2 runs until killed; job 1 prints once job 2 has started.
    run --separate-stderr timeout -s KILL 30 bash -c "pmap -j2 sh -c 'echo \$\$ >job\$1.pid; if [ \$1 = 2 ]; then echo \$\$ >slow.pid; exec sleep 300; fi; ./await slow.pid; echo \$1' sh ::: 1 2 >/dev/full"
    not_hung
    assert_failure 125
    [ "$(grep -c 'write error on standard output: No space left on device' <<<"$stderr")" -eq 1 ]
    dead "$(cat slow.pid)"
}

@test "pmap with standard output closed says so once and exits 125" {
    run --separate-stderr timeout -s KILL 30 bash -c 'pmap echo ::: a b >&-'
    not_hung
    assert_failure 125
    assert_equal "$stderr" "pmap: write error on standard output: Bad file descriptor"
}

# 2. -u and a reader that goes away.

@test "pmap -u stops starting jobs and exits 141 when the reader closes stdout" {
    run timeout -s KILL 60 bash -c "seq 100000 | pmap -u -j2 sh -c 'echo x >>counter; echo \$1' sh | head -n 1; echo \${PIPESTATUS[1]} >status"
    not_hung
    assert_success
    [ "${#lines[@]}" -eq 1 ]
    assert_equal "$(cat status)" 141
    [ "$(wc -l <counter)" -lt 1000 ]
}

# 3. Counting records must not consume input that cannot be read twice.

@test "pmap --bar runs every item of -a FIFO" {
    mkfifo f
    run timeout -s KILL 30 bash -c 'seq 5 >f & pmap --bar=always -a f echo 2>/dev/null'
    not_hung
    assert_success
    run sort -n <<<"$output"
    assert_output $'1\n2\n3\n4\n5'
}

@test "pmap --bar runs every item of -a /dev/stdin on a pipe" {
    run timeout -s KILL 30 bash -c 'seq 5 | pmap --bar=always -a /dev/stdin echo 2>/dev/null'
    not_hung
    assert_success
    run sort -n <<<"$output"
    assert_output $'1\n2\n3\n4\n5'
}

@test "pmap --halt with a percentage halts on items from a pipe" {
    run --separate-stderr timeout -s KILL 30 bash -c "seq 10 | pmap --halt soon,fail=50% -j1 sh -c 'echo \$1; exit 1' sh"
    not_hung
    assert_failure 123
    [ "${#lines[@]}" -ge 1 ] && [ "${#lines[@]}" -lt 10 ]
}

@test "pmap --halt with a percentage halts on items from -a FIFO" {
    mkfifo f
    run --separate-stderr timeout -s KILL 30 bash -c "seq 10 >f & pmap --halt soon,fail=50% -j1 -a f sh -c 'echo \$1; exit 1' sh"
    not_hung
    assert_failure 123
    [ "${#lines[@]}" -ge 1 ] && [ "${#lines[@]}" -lt 10 ]
}

# 4. A total known from the start.

@test "pmap --halt soon,fail=30% of 10 ::: items halts at the 3rd failure" {
    run --separate-stderr timeout -s KILL 30 pmap -j1 --halt soon,fail=30% sh -c 'echo $1; exit 1' sh ::: 1 2 3 4 5 6 7 8 9 10
    not_hung
    assert_failure 123
    assert_output $'1\n2\n3'
}

@test "pmap --halt soon,fail=30% of 10 items from -a FILE halts at the 3rd failure" {
    seq 10 >items
    run --separate-stderr timeout -s KILL 30 pmap -j1 --halt soon,fail=30% -a items sh -c 'echo $1; exit 1' sh
    not_hung
    assert_failure 123
    assert_output $'1\n2\n3'
}

@test "pmap --bar shows the total and a percentage from the first frame with ::: items" {
    run timeout -s KILL 30 bash -c 'pmap --bar=always -j1 true ::: 1 2 3 4 5 6 7 8 9 10 2>err'
    not_hung
    assert_success
    first=$(tr '\r' '\n' <err | grep -m 1 .)
    echo "first frame: $first"
    [[ $first == *"/10 "* ]]
    [[ $first == *%* ]]
}

# 5. The last frame of the bar.

@test "pmap --bar's last frame shows every job done, also with --resume" {
    run timeout -s KILL 30 bash -c 'pmap --bar=always -j2 true ::: $(seq 50) 2>err'
    not_hung
    assert_success
    last=$(tr '\r' '\n' <err | grep . | tail -n 1)
    echo "last frame: $last"
    [[ $last == "pmap: 50/50 "*"100%"* ]]
    # Three jobs already done: the run ends with every job done all the same.
    pmap --joblog log true ::: 1 2 3
    run timeout -s KILL 30 bash -c 'pmap --bar=always -j2 --joblog log --resume true ::: $(seq 50) 2>err'
    not_hung
    assert_success
    last=$(tr '\r' '\n' <err | grep . | tail -n 1)
    echo "last frame with --resume: $last"
    [[ $last =~ ^pmap:\ ([0-9]+)/([0-9]+)\ .*100% ]]
    assert_equal "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
}

# 6. --halt on success.

@test "pmap --halt now,success=1 exits 0 when a job succeeds after one failed" {
    run --separate-stderr timeout -s KILL 30 pmap -j1 --halt now,success=1 sh -c 'exit $1' sh ::: 3 0
    not_hung
    assert_success
}

# 7. --colsep.

@test "pmap --colsep '\\t' splits at tabs" {
    run timeout -s KILL 30 bash -c "printf 'a\tb\n' | pmap --colsep '\t' echo {2} {1}"
    not_hung
    assert_success
    assert_output "b a"
}

@test "pmap --colsep trims blanks around each column" {
    run timeout -s KILL 30 bash -c "printf ' a , b \n' | pmap --colsep , echo '[{1}]' '[{2}]'"
    not_hung
    assert_success
    assert_output "[a] [b]"
}

@test "pmap --colsep without a replacement string passes the columns as separate arguments" {
    run timeout -s KILL 30 bash -c "printf 'a,b\n' | pmap --colsep , printf '%s|'"
    not_hung
    assert_success
    assert_output "a|b|"
}

# 8. --dry-run and the joblog.

@test "pmap --dry-run neither changes nor creates the joblog" {
    printf 'keep me\n' >log
    run timeout -s KILL 30 pmap --dry-run --joblog log echo ::: a
    not_hung
    assert_success
    assert_equal "$(od -c log)" "$(printf 'keep me\n' | od -c)"
    run timeout -s KILL 30 pmap --dry-run --joblog new.log echo ::: a
    not_hung
    assert_success
    [ ! -e new.log ]
}

# 9. Jobs pmap stopped are not finished.

@test "pmap --resume runs again the jobs a SIGTERM stopped" {
    # timeout passes the TERM on to pmap.
    timeout -s KILL 60 pmap -j2 --joblog log sh -c 'echo $$ >job$1.pid; exec sleep 300' sh ::: 1 2 >out 2>err 3>&- &
    echo $! >pmap.pid
    wait_for_content job1.pid
    wait_for_content job2.pid
    kill -TERM "$(cat pmap.pid)"
    ended "$(cat pmap.pid)"
    [ "$status" -eq 143 ]
    run --separate-stderr timeout -s KILL 30 pmap -k -j2 --joblog log --resume sh -c 'echo ran $1' sh ::: 1 2
    not_hung
    assert_success
    assert_output $'ran 1\nran 2'
}

@test "pmap --resume runs again a job that --halt now killed" {
    make_await
    # Job 1 fails once job 2 has started; pmap kills job 2.
    run --separate-stderr timeout -s KILL 30 pmap -j2 --joblog log --halt now,fail=1 sh -c 'echo $$ >job$1.pid; if [ $1 = 1 ]; then ./await job2.pid; exit 1; fi; exec sleep 300' sh ::: 1 2
    not_hung
    assert_failure 1   # GNU: --halt now,fail=1 exits with the failing job's status
    dead "$(cat job2.pid)"
    run --separate-stderr timeout -s KILL 30 pmap -j2 --joblog log --resume sh -c 'echo ran $1' sh ::: 1 2
    not_hung
    assert_success
    assert_output "ran 2"
}

# 10. -k --line-buffer streams the oldest job.

@test "pmap -k --line-buffer writes the oldest job's lines while it still runs" {
    make_await
    timeout -s KILL 60 pmap -k --line-buffer -j2 sh -c 'echo $$ >job$1.pid; echo first-$1; ./await go; echo second-$1' sh ::: 1 2 >out 2>err 3>&- &
    bg=$!
    seen=no
    for i in $(seq 200); do
        if grep -q '^first-1$' out; then seen=yes; break; fi
        sleep 0.1
    done
    echo go >go
    ended "$bg"
    [ "$status" -ne 137 ]
    assert_equal "$seen" yes
    assert_equal "$(head -n 2 out)" $'first-1\nsecond-1'
}

# 11. Grandchildren whose job leader has exited.

@test "pmap --timeout kills a grandchild that outlives its job's leader" {
    make_stubborn_grandchild
    run --separate-stderr timeout -s KILL 30 pmap --timeout 1s sh -c 'sh ./gc.sh >/dev/null 2>&1 & wait' sh ::: 1
    not_hung
    assert_failure 123
    dead "$(cat gc.pid)"
}

@test "pmap --halt now kills a grandchild that outlives its job's leader" {
    make_stubborn_grandchild
    make_await
    run --separate-stderr timeout -s KILL 30 pmap -j2 --halt now,fail=1 sh -c 'if [ $1 = 1 ]; then ./await gc.pid; exit 1; fi; sh ./gc.sh >/dev/null 2>&1 & wait' sh ::: 1 2
    not_hung
    assert_failure 1   # the failing job's status, as GNU parallel
    dead "$(cat gc.pid)"
}

@test "pmap on SIGTERM kills a grandchild that outlives its job's leader" {
    make_stubborn_grandchild
    # timeout passes the TERM on to pmap.
    timeout -s KILL 60 pmap sh -c 'sh ./gc.sh >/dev/null 2>&1 & wait' sh ::: 1 >out 2>err 3>&- &
    echo $! >pmap.pid
    wait_for_content gc.pid
    kill -TERM "$(cat pmap.pid)"
    ended "$(cat pmap.pid)"
    [ "$status" -eq 143 ]
    dead "$(cat gc.pid)"
}

# 12. pmap killed outright.

@test "pmap's jobs end when pmap is killed with SIGKILL" {
    [ "$(uname -s)" = Linux ] || skip "needs Linux's parent-death signal"
    pmap -j2 sh -c 'echo $$ >job$1.pid; exec sleep 300' sh ::: 1 2 >out 2>err 3>&- &
    pmap=$!
    wait_for_content job1.pid
    wait_for_content job2.pid
    kill -KILL "$pmap"
    wait "$pmap" || true
    dead "$(cat job1.pid)"
    dead "$(cat job2.pid)"
}

# 13. Joblog errors.

@test "pmap names the joblog it cannot open or write" {
    run --separate-stderr timeout -s KILL 30 pmap --joblog /nonexistent/dir/log echo ::: a
    not_hung
    [ "$status" -ne 0 ]
    [[ $stderr == *"/nonexistent/dir/log"* ]]
    [ -w /dev/full ] || skip "no /dev/full"
    run --separate-stderr timeout -s KILL 30 pmap --joblog /dev/full echo ::: a
    not_hung
    [ "$status" -ne 0 ]
    [[ $stderr == *"cannot write the joblog '/dev/full': No space left on device"* ]]
}

# ---- what the shared engine owes the shell ----

@test "pmap keeps a signal ignored when it started ignored, for itself and its jobs" {
    # The job sends itself INT: with INT ignored it lives on and says so.
    run --separate-stderr timeout -s KILL 30 bash -c "trap '' INT; exec pmap sh -c 'kill -INT \$\$; echo survived {}' ::: 1 2"
    not_hung
    assert_success
    assert_equal "$(sort <<<"$output")" $'survived 1\nsurvived 2'
    # Without the trap the job dies of it, and pmap reports the failure.
    run --separate-stderr timeout -s KILL 30 pmap sh -c 'kill -INT $$; echo survived' ::: 1
    not_hung
    assert_failure 123
    assert_output ""
}

@test "pmap ignores INT sent to it when INT was ignored at its start" {
    make_await
    bash -c "trap '' INT; exec pmap sh -c 'echo \$\$ >job.pid; ./await go; echo done' ::: 1" >out 2>err 3>&- &
    pmap=$!
    wait_for_content job.pid
    kill -INT "$pmap"
    echo go >go
    ended "$pmap"
    [ "$status" -eq 0 ]
    assert_equal "$(cat out)" done
}

@test "pmap runs with standard input closed" {
    run --separate-stderr timeout -s KILL 30 bash -c 'pmap -k echo ::: a b <&-'
    not_hung
    assert_success
    assert_output $'a\nb'
}

@test "pmap --line-buffer writes a line longer than its bound in pieces, every byte once" {
    run --separate-stderr timeout -s KILL 60 bash -c "pmap --line-buffer sh -c 'head -c 3000000 /dev/zero | tr \"\\\\0\" a; echo' ::: 1 2 | wc -c"
    not_hung
    assert_success
    assert_output 6000002
}

@test "pmap logs a timed-out job as failed even if it caught TERM and exited 0" {
    run --separate-stderr timeout -s KILL 30 pmap --joblog log --timeout 0.5s sh -c 'trap "exit 0" TERM; sleep 30 & wait' sh ::: 1
    not_hung
    assert_failure 123
    assert_equal "$(cut -f7 log | tail -n 1)" -1
    # --resume-failed runs it again.
    run --separate-stderr timeout -s KILL 30 pmap --joblog log --resume-failed echo again ::: 1
    not_hung
    assert_success
    assert_output "again 1"
}
