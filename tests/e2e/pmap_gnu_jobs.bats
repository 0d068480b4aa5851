#!/usr/bin/env bats
# pmap beside GNU parallel (20221122): jobs and slots, environment, the shell,
# no command, and --pipe/--pipepart handed over to ppipe (issue 13).  Each
# test names the GNU parallel command it mirrors; the expected output is
# what GNU parallel printed for it, written in (CI does not run GNU parallel).
# Where pmap differs on purpose (pmap(1), DIFFERENCES FROM GNU PARALLEL) the
# test says so.

bats_require_minimum_version 1.5.0
load helper

# --- -j, -P ---

# parallel -j 10.5% -k echo {%} ::: a b c   ->  1 1 1 (ceil(ncpus * 0.105) = 1 below 10 CPUs)
@test "gnu: -j P% may have decimals and is rounded up" {
    [ "$(nproc)" -lt 10 ] || skip "needs fewer than 10 CPUs"
    run pmap -j 10.5% -k echo {%} ::: a b c
    assert_success
    assert_output $'1\n1\n1'
}

# parallel -P 1 -k echo {%} ::: a b   ->  1 1
@test "gnu: -P is -j" {
    run pmap -P 1 -k echo {%} ::: a b
    assert_success
    assert_output $'1\n1'
}

# parallel -j 0 -k echo ::: a b c   ->  a b c
@test "gnu: -j 0 runs as many as possible" {
    run pmap -j 0 -k echo ::: a b c
    assert_success
    assert_output $'a\nb\nc'
}

# parallel -j -100 echo ::: a   ->  "parallel: Error: Cannot run any jobs." exit 255.
# Difference: pmap runs one job at a time.
@test "gnu: -j -N below one CPU runs one job at a time (a documented difference)" {
    run pmap -j -100 -k echo {%} ::: a b
    assert_success
    assert_output $'1\n1'
}

# echo 1 > jf; parallel -j jf -k sh rv.sh ::: 1 2 3   ->  one / 2 met 3 / 3 met 2
# Job 1 writes 2 into jf; jobs 2 and 3 each wait for the other (60 s at
# most), which they can meet only if the file was read again when job 1 ended.
# (GNU notices a change of the file's time in whole seconds: job 1 must sleep 1.2 s there.)
@test "gnu: -j FILE is read again when a job ends" {
    cat >rv.sh <<'SH'
if [ "$1" = 1 ]; then echo 2 > jf; echo one; exit 0; fi
touch "m$1"; o=$((5 - $1)); i=0
while [ ! -e "m$o" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "m$o" ] && echo "$1 met $o" || echo "$1 alone"
SH
    echo 1 >jf
    run timeout 120 pmap -j jf -k sh rv.sh ::: 1 2 3
    assert_success
    assert_output $'one\n2 met 3\n3 met 2'
}

# A -j FILE with no number in it, and a -j value that is neither: exit 2 (GNU: 255).
@test "gnu: -j FILE holding no number, or no such file, is a usage error" {
    echo lots >jf
    run --separate-stderr pmap -j jf echo ::: a
    assert_failure 2
    [[ $stderr == "pmap: -j: the file 'jf' holds no job count: "* ]]
    run --separate-stderr pmap -j nofile echo ::: a
    assert_failure 2
    [[ $stderr == "pmap: -j: "*"(nor a file holding one)"* ]]
}

# --- --delay, --load, --memfree, --nice, --workdir, --env ---

# parallel --delay 0.3 -j3 -k echo ::: a b c  ->  a b c, the last start 0.6 s or more after the first
@test "gnu: --delay spaces the starts" {
    t0=$(date +%s%N)
    run pmap --delay 0.3 -j3 -k echo ::: a b c
    t1=$(date +%s%N)
    assert_success
    assert_output $'a\nb\nc'
    [ $((t1 - t0)) -ge 600000000 ]
}

# parallel --load 100000 -k echo ::: a b  ->  a b;  parallel --load 0 echo ::: a  ->  a (0: no limit)
@test "gnu: --load that is met starts jobs; --load 0 is no limit" {
    run pmap --load 100000 -k echo ::: a b
    assert_success
    assert_output $'a\nb'
    run pmap --load 0 echo ::: a
    assert_success
    assert_output a
}

# timeout 3 parallel --load 1 echo ::: a  ->  nothing, 124: pmap itself is runnable
# when it looks, so the load is never below 1.
@test "gnu: --load that cannot be met starts no job" {
    run timeout 3 pmap --load 1 echo ::: a
    assert_failure 124
    assert_output ""
}

# parallel --memfree 1K echo ::: a  ->  a;  timeout 3 parallel --memfree 1000T echo ::: a  ->  nothing, 124
@test "gnu: --memfree starts jobs only while that much memory is free" {
    run pmap --memfree 1K echo ::: a
    assert_success
    assert_output a
    run timeout 3 pmap --memfree 1000T echo ::: a
    assert_failure 124
    assert_output ""
}

@test "gnu: --load and --memfree refuse values that are no number" {
    run --separate-stderr pmap --load lots echo ::: a
    assert_failure 2
    [[ $stderr == "pmap: --load: invalid load 'lots'"* ]]
    run --separate-stderr pmap --memfree lots echo ::: a
    assert_failure 2
    [[ $stderr == "pmap: --memfree: "* ]]
}

# parallel --nice 5 'nice; true' ::: 1  ->  5
@test "gnu: --nice runs the jobs at that niceness" {
    [ "$(nice)" -le 5 ] || skip "already nicer than 5"
    run pmap --nice 5 'nice; true' ::: 1
    assert_success
    assert_output 5
}

# parallel --wd 'd/{}' -k 'pwd; true' ::: x y  ->  ./d/x ./d/y (made if missing)
@test "gnu: --workdir runs jobs there, made if missing, with replacement strings" {
    run pmap --wd 'd/{}' -k 'pwd; true' ::: x y
    assert_success
    assert_output "$PWD/d/x"$'\n'"$PWD/d/y"
    run pmap --workdir sub -k sh -c pwd ::: 1
    assert_success
    assert_output "$PWD/sub"
}

# parallel --env HOME -k echo ::: a  ->  a
@test "gnu: --env NAME is accepted" {
    run pmap --env HOME --env PATH -k echo ::: a
    assert_success
    assert_output a
}

# --- environment ---

# parallel -j1 -k 'echo $PARALLEL_SEQ $PARALLEL_JOBSLOT' ::: a b  ->  1 1 a / 2 1 b
@test "gnu: PARALLEL_SEQ and PARALLEL_JOBSLOT are set for every job" {
    run pmap -j1 -k 'echo $PARALLEL_SEQ $PARALLEL_JOBSLOT' ::: a b
    assert_success
    assert_output $'1 1 a\n2 1 b'
    run pmap -j1 -k sh -c 'echo $PMAP_SEQ $PMAP_SLOT' sh ::: a b   # pmap's own names, documented aliases
    assert_output $'1 1\n2 1'
}

# --- the shell ---

# parallel -k 'echo {} && echo done' ::: a b  ->  a done b done
@test "gnu: one argument with shell syntax runs in a shell" {
    run pmap -k 'echo {} && echo done' ::: a b
    assert_success
    assert_output $'a\ndone\nb\ndone'
}

# parallel -k echo {} '|' wc -c ::: ab abc  ->  3 4
@test "gnu: a shell operator as an argument of its own runs the command in a shell" {
    run pmap -k echo {} '|' wc -c ::: ab abc
    assert_success
    assert_output $'3\n4'
}

# parallel 'grep x {} > {}.out' ::: f1 f2  ->  f1.out holds x1, f2.out is empty
@test "gnu: a redirection in the command writes the file" {
    printf 'x1\ny1\n' >f1
    printf 'y2\n' >f2
    run pmap 'grep x {} > {}.out' ::: f1 f2
    assert_failure 123   # grep finds nothing in f2 (GNU parallel: exit 1, the failure count)
    [ "$(cat f1.out)" = x1 ]
    [ -e f2.out ] && [ ! -s f2.out ]
}

# parallel -k 'echo {}' ::: '$(touch x)' ';rm' "it's" 'a"b' '`id`' '*'  ->  each item as it is; no x
@test "gnu: in a shell, hostile items stay data" {
    run pmap -k 'echo {}' ::: '$(touch x)' ';rm' "it's" 'a"b' '`id`' '*' '--' '|'
    assert_success
    assert_output '$(touch x)'$'\n'';rm'$'\n'"it's"$'\n''a"b'$'\n''`id`'$'\n''*'$'\n''--'$'\n''|'
    [ ! -e x ]
    run pmap -k echo {} '|' cat ::: '$(touch y)' "it's; rm -rf z"
    assert_output '$(touch y)'$'\n'"it's; rm -rf z"
    [ ! -e y ]
}

# printf 'a\nb\0c d\0' | parallel -0 -k 'printf "[%s]\n" {}'  ->  [a<newline>b] [c d]
@test "gnu: in a shell, a newline inside an item stays inside it" {
    run bash -c "printf 'a\nb\0c d\0' | pmap -0 -k 'printf \"[%s]\n\" {}'"
    assert_success
    assert_output $'[a\nb]\n[c d]'
}

# parallel --dry-run -k 'gzip {} && rm {}' ::: 'a b' c  ->  the script, values quoted
@test "gnu: --dry-run shows a shell command as the script" {
    run pmap --dry-run -k 'gzip {} && rm {}' ::: 'a b' c
    assert_success
    assert_output "gzip 'a b' && rm 'a b'"$'\n''gzip c && rm c'
}

# f() { echo "f:$1"; }; export -f f; SHELL=/bin/bash parallel -k f ::: 1 2  ->  f:1 f:2
@test "gnu: an exported bash function is the command" {
    run bash -c 'f() { echo "f:$1"; }; export -f f; SHELL=/bin/bash pmap -k f ::: 1 2'
    assert_success
    assert_output $'f:1\nf:2'
    # pmap goes to bash for it even when $SHELL is another shell.
    run bash -c 'f() { echo "f:$1"; }; export -f f; SHELL=/bin/sh pmap -k f ::: 1 2'
    assert_output $'f:1\nf:2'
}

# parallel -k cd ::: /  ->  (nothing, exit 0): a shell builtin runs in the shell
@test "gnu: a shell builtin as the command runs in the shell" {
    run pmap -k cd ::: /
    assert_success
    assert_output ""
}

# PARALLEL_SHELL=$PWD/myshell parallel 'echo {} | tr a b' ::: a  ->  myshell: -c echo a | tr a b / b
@test "gnu: \$PARALLEL_SHELL runs the shell commands, and -s" {
    printf '#!/bin/sh\necho "myshell: $*"\nexec /bin/sh "$@"\n' >myshell
    chmod +x myshell
    PARALLEL_SHELL=$PWD/myshell run pmap 'echo {} | tr a b' ::: a
    assert_success
    assert_output $'myshell: -c echo a | tr a b\nb'
    PARALLEL_SHELL=$PWD/myshell run pmap -s echo {} ::: a
    assert_output $'myshell: -c echo a\na'
    # A plain command runs with no shell at all.
    PARALLEL_SHELL=$PWD/myshell run pmap -k echo {} ::: a
    assert_output a
}

# SHELL=/bin/bash parallel 'echo ${BASH_VERSION:+bash}' ::: x  ->  bash x
@test "gnu: \$SHELL runs the shell commands when it is a POSIX shell" {
    SHELL=/bin/bash run pmap 'echo ${BASH_VERSION:+bash}' ::: x
    assert_output "bash x"
    # a shell that is not sh-like (as GNU parallel, which did not use it either): /bin/sh
    printf '#!/bin/sh\necho "myshell: $*"\nexec /bin/sh "$@"\n' >myshell
    chmod +x myshell
    SHELL=$PWD/myshell run pmap 'echo {} | tr a b' ::: a
    assert_output b
}

# parallel sh -c 'echo $1' sh ::: a  ->  an empty line (GNU joins and re-splits the words).
# Difference: pmap keeps an argument of a command of several arguments whole, as xargs.
@test "gnu: several plain arguments are exec'd as they are (a documented difference)" {
    run pmap -k sh -c 'echo $1' sh ::: a
    assert_success
    assert_output a
    run pmap -k printf '[%s]\n' ::: '$HOME'
    assert_output '[$HOME]'
}

# --- no command ---

# printf 'echo one\necho two; echo three\n' | parallel -k  ->  one two three
@test "gnu: with no command each record is a command line" {
    run bash -c "printf 'echo one\necho two; echo three\n' | pmap -k"
    assert_success
    assert_output $'one\ntwo\nthree'
    run pmap -k ::: 'echo a' 'echo b | tr b c'
    assert_output $'a\nc'
}

# printf 'echo a\necho b\necho c\n' | parallel -k -n2  ->  a echo b / c
@test "gnu: with no command, -n joins the records with spaces" {
    run bash -c "printf 'echo a\necho b\necho c\n' | pmap -k -n2"
    assert_output $'a echo b\nc'
}

# printf 'echo one\nexit 3\n' | parallel -k  ->  one, exit 1.  Difference: pmap exits 123.
@test "gnu: with no command a failing record fails its job" {
    run --separate-stderr bash -c "printf 'echo one\nexit 3\n' | pmap -k"
    assert_failure 123
    assert_output one
}

# --- --pipe, --pipepart: ppipe ---

# seq 10 | parallel --pipe -N3 -k wc -l  ->  3 3 3 1
@test "gnu: --pipe hands over to ppipe" {
    run bash -c "seq 10 | pmap --pipe -N3 -k wc -l"
    assert_success
    assert_output $'3\n3\n3\n1'
    run bash -c "seq 10 | pmap -j2 --pipe -k -N 5 wc -l"
    assert_output $'5\n5'
}

# printf 'h\n1\n2\n3\n' | parallel --pipe --header : -N2 -k cat  ->  h 1 2 h 3
@test "gnu: --pipe --header : repeats the first line" {
    run bash -c "printf 'h\n1\n2\n3\n' | pmap --pipe --header : -N2 -k cat"
    assert_output $'h\n1\n2\nh\n3'
}

# seq 8 | parallel --pipe -L 4 -N1 -k wc -l  ->  4 4
@test "gnu: --pipe -L N -N M: M records of N lines" {
    run bash -c "seq 8 | pmap --pipe -L 4 -N1 -k wc -l"
    assert_output $'4\n4'
}

# seq 10 > f; parallel --pipepart -a f -N5 -k wc -l  ->  5 5
@test "gnu: --pipepart -a FILE reads FILE" {
    seq 10 >f
    run pmap --pipepart -a f -N5 -k wc -l
    assert_success
    assert_output $'5\n5'
    run --separate-stderr pmap --pipepart -N5 wc -l
    assert_failure 2
    [[ $stderr == "pmap: --pipepart needs -a FILE"* ]]
}

@test "gnu: --pipe options ppipe lacks are refused with a message" {
    run --separate-stderr bash -c "seq 3 | pmap --pipe --recend x wc -l"
    assert_failure 2
    [[ $stderr == "pmap: --recend: not available with --pipe"* ]]
    run --separate-stderr bash -c "seq 3 | pmap --pipe --nosuchoption wc -l"
    assert_failure 2
    [[ $stderr == "ppipe: "* ]]
}

@test "gnu: --pipe after the command is the command's own argument" {
    run pmap -k echo --pipe ::: a
    assert_success
    assert_output "--pipe a"
}

# seq 4 | parallel --pipe --nice 5 --env HOME -N2 'nice; true'  ->  5 5
@test "gnu: --pipe --nice and --env go over to ppipe" {
    [ "$(nice)" -le 5 ] || skip "already nicer than 5"
    run bash -c "seq 4 | pmap --pipe --nice 5 --env HOME -N2 sh -c 'cat >/dev/null; nice'"
    assert_success
    assert_output $'5\n5'
}
