#!/usr/bin/env bats
# pmap beside GNU parallel: output and records of work (issue 13, area pmout).
#
# Each test runs pmap and compares with what GNU parallel 20221122 printed for
# the same command, written in below (GNU parallel is not run here).  The GNU
# command is in the comment above each test.  Start times and run times are
# checked by their format, never by their value.

load helper

bats_require_minimum_version 1.5.0

# A joblog (TAB) or CSV table with each row's Starttime and JobRuntime
# replaced by S and R once their format is checked: the rest compares
# literally.  Rows start "SEQ<sep>:<sep>"; a CSV field may span lines.
mask_times() {   # FILE SEP
    local s=$2
    sed -E "s/^([0-9]+)$s:$s[0-9]+\.[0-9]{3}$s *[0-9]+\.[0-9]{3}$s/\1$s:${s}S${s}R$s/" "$1"
}

# ---------------------------------------------------------------- tags

# parallel -k --tagstring '{#}-{}-{.}' echo ::: a.txt b
@test "pmap --tagstring expands replacement strings once per job" {
    run pmap -k --tagstring '{#}-{}-{.}' echo ::: a.txt b
    assert_success
    assert_output $'1-a.txt-a\ta.txt\n2-b-b\tb'
}

# parallel -k --tagstring 'x\ty' echo ::: a
@test "pmap --tagstring reads \\t as a tab, as GNU parallel does" {
    run pmap -k --tagstring 'x\ty' echo ::: a
    assert_success
    assert_output $'x\ty\ta'
}

# parallel -k --tag echo {} ::: 'a b' c
@test "pmap --tag prefixes lines with the job's value and a tab" {
    run pmap -k --tag echo {} ::: 'a b' c
    assert_success
    assert_output $'a b\ta b\nc\tc'
}

# parallel -k -n2 --tag echo ::: a b c
@test "pmap --tag with -n joins the job's values with spaces" {
    run pmap -k -n2 --tag echo ::: a b c
    assert_success
    assert_output $'a b\ta b\nc\tc'
}

# parallel -q -k --tag printf 'x\ny' ::: a   (no newline added at the end)
@test "pmap --tag tags every line, a last one without newline too" {
    run bash -c "pmap -q -k --tag printf 'x\ny' ::: a 2>/dev/null | od -c | head -n 2"
    assert_success
    assert_output "$(printf 'a\tx\na\ty' | od -c | head -n 2)"
}

# parallel -u --tag echo ::: a b   (GNU ignores --tag with -u)
@test "pmap -u --tag runs with the tag ignored, as GNU parallel does" {
    run pmap -u -j1 --tag echo ::: a b
    assert_success
    assert_output $'a\nb'
}

# parallel -u --tagstring 'X{}' echo ::: a
@test "pmap -u --tagstring is ignored too" {
    run pmap -u --tagstring 'X{}' echo ::: a
    assert_success
    assert_output "a"
}

# parallel -k --ctag echo ::: a b | cat -v
@test "pmap --ctag colours each job's tag and line as GNU parallel does" {
    run bash -c "pmap -k --ctag echo ::: a b | cat -v"
    assert_success
    assert_output $'^[[48;5;134;38;5;231m^[[Ka\ta^[[m\n^[[48;5;021;38;5;231m^[[Kb\tb^[[m'
}

# parallel -k --ctagstring 'x{}' echo ::: a b | cat -v
@test "pmap --ctagstring colours a tagstring" {
    run bash -c "pmap -k --ctagstring 'x{}' echo ::: a b | cat -v"
    assert_success
    assert_output $'^[[48;5;134;38;5;231m^[[Kxa\ta^[[m\n^[[48;5;021;38;5;231m^[[Kxb\tb^[[m'
}

# parallel -k --color echo ::: a b | cat -v
@test "pmap --color colours lines without a tag" {
    run bash -c "pmap -k --color echo ::: a b | cat -v"
    assert_success
    assert_output $'^[[48;5;134;38;5;231m^[[Ka^[[m\n^[[48;5;021;38;5;231m^[[Kb^[[m'
}

# parallel -q -k --ctag printf 'x\ny' ::: a | cat -v   (the last line gets its newline)
@test "pmap --ctag colours every line of a job and ends the last one" {
    run bash -c "pmap -q -k --ctag printf 'x\ny' ::: a 2>/dev/null | cat -v"
    assert_success
    assert_output $'^[[48;5;134;38;5;231m^[[Ka\tx^[[m\n^[[48;5;134;38;5;231m^[[Ka\ty^[[m'
}

# ---------------------------------------------------------------- spellings

# parallel --lb -k echo ::: a b
@test "pmap --lb is --line-buffer" {
    run pmap --lb -k echo ::: a b
    assert_success
    assert_output $'a\nb'
}

# parallel --dryrun echo ::: 'a b'
@test "pmap --dryrun is --dry-run" {
    run pmap --dryrun echo ::: 'a b'
    assert_success
    assert_output "echo 'a b'"
}

# parallel --dryrun --tag echo ::: a
@test "pmap --dry-run --tag tags the printed command" {
    run pmap --dry-run --tag echo ::: a
    assert_success
    assert_output $'a\techo a'
}

# parallel -q -k printf '%s\n' ::: 'a b' 'c|d'
@test "pmap -q passes each word as it is" {
    run pmap -q -k printf '%s\n' ::: 'a b' 'c|d'
    assert_success
    assert_output $'a b\nc|d'
}

# parallel -q echo 'a|b' ::: x
@test "pmap -q keeps shell syntax in the command literal" {
    run pmap -q echo 'a|b' ::: x
    assert_success
    assert_output "a|b x"
}

# ---------------------------------------------------------------- --results

# parallel -k --results r echo ::: a b/c 'x y' 'a\b'; find r | sort
@test "pmap --results DIR makes GNU parallel's tree, values escaped" {
    run pmap -k --results r echo ::: a b/c 'x y' 'a\b'
    assert_success
    assert_output ""   # GNU parallel 20221122 prints nothing with --results
    run bash -c "find r | LC_ALL=C sort"
    assert_output "$(printf '%s\n' r r/1 r/1/a r/1/a/seq r/1/a/stderr r/1/a/stdout \
        'r/1/a\\b' 'r/1/a\\b/seq' 'r/1/a\\b/stderr' 'r/1/a\\b/stdout' \
        'r/1/b\_c' 'r/1/b\_c/seq' 'r/1/b\_c/stderr' 'r/1/b\_c/stdout' \
        'r/1/x y' 'r/1/x y/seq' 'r/1/x y/stderr' 'r/1/x y/stdout')"
    assert_equal "$(cat r/1/a/stdout)" "a"
    assert_equal "$(cat 'r/1/b\_c/stdout')" "b/c"
    assert_equal "$(cat r/1/a/seq)" "1"
    [ "$(wc -c <r/1/a/seq)" -eq 1 ]   # no newline
    assert_equal "$(cat 'r/1/a\\b/seq')" "4"
}

# parallel --results r sh -c 'echo out; echo err >&2' ::: 1   (with -q for GNU)
@test "pmap --results keeps stdout and stderr apart" {
    run pmap --results r sh -c 'echo out; echo err >&2' sh ::: 1
    assert_success
    assert_output ""
    assert_equal "$(cat r/1/1/stdout)" "out"
    assert_equal "$(cat r/1/1/stderr)" "err"
}

# parallel -n2 --results r echo ::: a b; find r | sort
@test "pmap --results with -n nests one pair of directories per value" {
    run pmap -n2 --results r echo ::: a b
    assert_success
    run bash -c "find r | LC_ALL=C sort"
    assert_output "$(printf '%s\n' r r/1 r/1/a r/1/a/1 r/1/a/1/b r/1/a/1/b/seq r/1/a/1/b/stderr r/1/a/1/b/stdout)"
    assert_equal "$(cat r/1/a/1/b/stdout)" "a b"
}

# parallel --results 'my_{}' echo ::: foo; ls my_*
@test "pmap --results NAME{} writes NAME, NAME.err and NAME.seq" {
    run pmap --results 'my_{}' echo ::: foo
    assert_success
    run ls my_foo my_foo.err my_foo.seq
    assert_success
    assert_equal "$(cat my_foo)" "foo"
    assert_equal "$(cat my_foo.seq)" "1"
}

# parallel --results 'd_{}/' echo ::: foo; find d_foo | sort
@test "pmap --results NAME{}/ is a directory per job" {
    run pmap --results 'd_{}/' echo ::: foo
    assert_success
    run bash -c "find d_foo | LC_ALL=C sort"
    assert_output "$(printf '%s\n' d_foo d_foo/seq d_foo/stderr d_foo/stdout)"
}

# parallel -k --results x.csv echo ::: a 'b,c'; cat x.csv
@test "pmap --results NAME.csv writes GNU parallel's columns, one row per job" {
    run pmap -k --results x.csv echo ::: a 'b c'
    assert_success
    assert_output ""
    run mask_times x.csv ,
    assert_output 'Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr
1,:,S,R,0,2,0,0,"echo a",a,"a
",
2,:,S,R,0,4,0,0,"echo '"'b c'"'","b c","b c
",'
}

# parallel -k --results -.tsv echo ::: a
@test "pmap --results -.tsv writes the table on stdout" {
    run bash -c "pmap -k --results -.tsv echo ::: a >out.tsv"
    assert_success
    run mask_times out.tsv $'\t'
    assert_output $'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tV1\tStdout\tStderr\n1\t:\tS\tR\t0\t2\t0\t0\t"echo a"\ta\t"a\n"\t'
}

@test "pmap --results NAME.csv without -k has one row per job, whatever the order" {
    run pmap -j4 --results x.csv echo ::: $(seq 20)
    assert_success
    [ "$(head -n 1 x.csv | cut -d, -f1)" = Seq ]
    run bash -c "grep -c '^[0-9]*,:,' x.csv"
    assert_output 20
    run bash -c "grep -o '^[0-9]*,' x.csv | sort -n | uniq | wc -l"
    assert_output 20
}

# parallel -k --files --results r2 echo ::: a b
@test "pmap --files --results prints each stdout file's name" {
    run pmap -k --files --results r2 echo ::: a b
    assert_success
    assert_output $'r2/1/a/stdout\nr2/1/b/stdout'
    assert_equal "$(cat r2/1/b/stdout)" "b"
}

# parallel --files --tag --results r4 'echo o; echo e >&2' ::: 1
@test "pmap --files --tag tags the file name" {
    run pmap --files --tag --results r4 sh -c 'echo o; echo e >&2' sh ::: 1
    assert_success
    assert_output $'1\tr4/1/1/stdout'
}

# parallel --files echo ::: a   (prints /tmp/parXXXXX.par)
@test "pmap --files alone leaves the output in a par file in TMPDIR" {
    mkdir tmp
    run env TMPDIR="$PWD/tmp" pmap --files sh -c 'echo out; echo err >&2' sh ::: a
    assert_success
    [[ $output == "$PWD"/tmp/par*.par ]]
    assert_equal "$(cat "$output")" "out"
}

@test "pmap --results names the directory it cannot make and exits 125" {
    touch file
    run --separate-stderr pmap --results file/sub echo ::: a
    assert_failure 125
    [[ $stderr == *"cannot create the directory 'file/sub'"* ]]
}

# ---------------------------------------------------------------- joblog

# parallel -q --joblog jl sh -c 'echo $1; exit $1' sh ::: 0 3; cat jl
@test "pmap --joblog writes GNU parallel's nine columns" {
    run pmap -q --joblog jl sh -c 'echo $1; exit $1' sh ::: 0 3
    assert_failure 123
    # JobRuntime padded to 10 columns ("%10.3f").
    run awk -F'\t' 'NR > 1 && length($4) < 10' jl
    assert_output ""
    run mask_times jl $'\t'
    assert_output "$(printf '%s\n' $'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand' \
        $'1\t:\tS\tR\t0\t2\t0\t0\tsh -c \'echo $1; exit $1\' sh 0' \
        $'2\t:\tS\tR\t0\t2\t3\t0\tsh -c \'echo $1; exit $1\' sh 3')"
}

@test "pmap --joblog rows match the patterns GNU parallel's --resume reads" {
    run pmap --joblog jl sh -c 'echo $1; exit $1' sh ::: 0 1 0
    # GNU parallel: a row it cannot read stops it ("Format of 'jl' is wrong")
    run bash -c "tail -n +2 jl | grep -cvP '\\d+\\s+[^\\s]+\\s+([-0-9.]+\\s+){6}'"
    assert_output 0
    # --resume-failed's pattern for a row that succeeded
    run bash -c "tail -n +2 jl | grep -cP '^(\\d+)(?:\\t[^\\t]+){5}\\t0\\t0\\t'"
    assert_output 2
}

# parallel --joblog - echo ::: x y
@test "pmap --joblog - writes the log on stdout, each row after its job's output" {
    run pmap -j1 --joblog - echo ::: x y
    assert_success
    run bash -c "pmap -j1 --joblog - echo ::: x y | awk -F'\\t' 'NF == 9 { print \$1, \$9; next } { print }'"
    assert_output $'Seq Command\nx\n1 echo x\ny\n2 echo y'
}

# parallel --joblog +jl echo ::: z   (appends to jl)
@test "pmap --joblog +FILE appends" {
    pmap --joblog jl echo ::: a
    run pmap --joblog +jl echo ::: z
    assert_success
    run cut -f1,9 jl
    assert_output $'Seq\tCommand\n1\techo a\n1\techo z'
}

# A log GNU parallel 20221122 wrote for: parallel --joblog log 'exit {}' ::: 0 3 0 4
gnu_log() {
    printf '%s\n' $'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand' \
        $'1\t:\t1796054153.976\t     0.000\t0\t0\t0\t0\texit 0' \
        $'2\t:\t1796054154.059\t     0.119\t0\t0\t3\t0\texit 3' \
        $'3\t:\t1796054154.157\t     0.223\t0\t0\t0\t0\texit 0' \
        $'4\t:\t1796054154.348\t     0.052\t0\t0\t4\t0\texit 4' >log
}

# parallel --joblog log --resume echo ::: a b c d e
@test "pmap --resume reads a joblog GNU parallel wrote" {
    gnu_log
    run pmap -k --joblog log --resume echo ::: a b c d e
    assert_success
    assert_output "e"
    run bash -c "tail -n 1 log | cut -f1,9"
    assert_output $'5\techo e'
}

# parallel --joblog log --resume-failed echo ::: a b c d e   (GNU prints b d e)
@test "pmap --resume-failed reruns the jobs a GNU parallel joblog holds as failed" {
    gnu_log
    run pmap -k --joblog log --resume-failed echo ::: a b c d e
    assert_success
    assert_output $'b\nd\ne'
}

# parallel --joblog log --retry-failed   (GNU runs "exit 3" and "exit 4" again as jobs 2 and 4)
@test "pmap --retry-failed runs the failed commands of a GNU parallel joblog again" {
    gnu_log
    run --separate-stderr pmap -k --joblog log --retry-failed this part is ignored
    assert_failure 123
    run bash -c "tail -n +6 log | cut -f1,7,9"
    assert_output $'2\t3\texit 3\n4\t4\texit 4'
}

@test "pmap --retry-failed runs a command with a newline the log holds as a NUL" {
    printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n1\t:\t1.000\t     0.000\t0\t0\t1\t0\techo a\0echo b\n' >log
    run pmap --joblog log --retry-failed
    assert_success
    assert_output $'a\nb'
}

@test "pmap --retry-failed without --joblog is a usage error" {
    run --separate-stderr pmap --retry-failed
    assert_failure 2
    [[ $stderr == *"--retry-failed needs --joblog"* ]]
}

# ---------------------------------------------------------------- progress

# parallel --progress -j2 'sleep 0.3; echo {}' ::: 1 2 3 2>&1 >/dev/null | tr '\r' '\n'
@test "pmap --progress prints GNU parallel's header and status lines on stderr" {
    run bash -c "pmap --progress -j2 echo ::: 1 2 3 2>err | sort"
    assert_success
    assert_output $'1\n2\n3'
    # The header, exactly (the CPU count is this machine's).
    printf '\nComputers / CPU cores / Max jobs to run\n1:local / %s / 2\n\nComputer:jobs running/jobs completed/%%of started jobs/Average seconds to complete\n' \
        "$(nproc)" >want
    head -c "$(wc -c <want)" err >got
    cmp want got
    # The last status line: none running, all 3 completed, then a newline.
    run bash -c "tr '\r' '\n' <err | grep . | tail -n 1"
    [[ $output =~ ^local:0/3/100%/[0-9]+\.[0-9]s\ *$ ]]
    [ "$(tail -c 1 err | od -An -c | tr -d ' ')" = '\n' ]
}

# parallel --eta -j2 'sleep 0.3; echo {}' ::: 1 2 3 2>&1 >/dev/null | tr '\r' '\n'
@test "pmap --eta puts GNU parallel's estimate before the status" {
    run --separate-stderr pmap --eta -j2 echo ::: 1 2 3
    assert_success
    [[ $(printf '%s' "$stderr" | tr '\r' '\n' | grep . | tail -n 1) =~ ^ETA:\ [0-9]+s\ Left:\ 0\ AVG:\ [0-9]+\.[0-9][0-9]s\ \ local:0/3/100%/[0-9]+\.[0-9]s\ *$ ]]
}
