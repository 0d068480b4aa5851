#!/usr/bin/env bats
# pmap beside GNU parallel (20221122), option by option (issue 13): input
# sources, argument packing, replacement strings; jobs and slots, the
# environment, the shell, no command, --pipe handed over to ppipe; output and
# records of work (tags, --results, the joblog, --progress).
#
# Each test runs pmap and compares with what GNU parallel printed for the same
# command (the "# parallel ..." comment above it), written in: CI does not run
# GNU parallel.  Start times and run times are checked by their format, never
# by their value.  Where pmap differs on purpose (pmap(1), DIFFERENCES FROM
# GNU PARALLEL) the test says so.

load helper

bats_require_minimum_version 1.5.0

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
    printf 'a\nb\n' >f1
    printf '1\n2\n3\n' >f2
}

# A joblog (TAB) or CSV table with each row's Starttime and JobRuntime
# replaced by S and R once their format is checked: the rest compares
# literally.  Rows start "SEQ<sep>:<sep>"; a CSV field may span lines.
mask_times() {   # FILE SEP
    local s=$2
    sed -E "s/^([0-9]+)$s:$s[0-9]+\.[0-9]{3}$s *[0-9]+\.[0-9]{3}$s/\1$s:${s}S${s}R$s/" "$1"
}

# ================================================================ input sources, packing, replacement strings
# ---------------------------------------------------------------- several sources

@test "a second ::: is a second source: the cross product, in GNU's order" {
    # parallel -k echo {1} {2} ::: a b ::: c d
    run pmap -k echo {1} {2} ::: a b ::: c d
    assert_success
    assert_output $'a c\na d\nb c\nb d'
}

@test "with several sources and no replacement string every value is appended" {
    # parallel -k echo ::: a b ::: c d
    run pmap -k echo ::: a b ::: c d
    assert_success
    assert_output $'a c\na d\nb c\nb d'
}

@test "{} with several sources is every value, one argument each" {
    # parallel -k printf '[%s]' {} ::: a.x ::: b.y ; parallel -k printf '[%s]' {.} ::: a.x ::: b.y
    run pmap -k printf '[%s]' {} ::: a.x ::: b.y
    assert_output '[a.x][b.y]'
    run pmap -k printf '[%s]' {.} ::: a.x ::: b.y
    assert_output '[a][b]'
}

@test ":::: FILE and ::: mix, and each file after :::: is a source" {
    # parallel -k echo {1} {2} :::: f1 ::: x y ; parallel -k echo :::: f1 f2
    run pmap -k echo {1} {2} :::: f1 ::: x y
    assert_output $'a x\na y\nb x\nb y'
    run pmap -k echo :::: f1 f2
    assert_output $'a 1\na 2\na 3\nb 1\nb 2\nb 3'
}

@test ":::+ and ::::+ link a source to the one before, as long as the shorter" {
    # parallel -k echo ::: a b c :::+ 1 2 ::: X Y ; parallel -k echo :::: f1 ::::+ f2
    run pmap -k echo ::: a b c :::+ 1 2 ::: X Y
    assert_output $'a 1 X\na 1 Y\nb 2 X\nb 2 Y'
    run pmap -k echo :::: f1 ::::+ f2
    assert_output $'a 1\nb 2'
}

@test "--link links all sources, the shorter ones starting over" {
    # parallel -k --link echo ::: a b c ::: 1 2 ; parallel -k --link echo ::: a b c ::: 1 2 3 4 5
    run pmap -k --link echo ::: a b c ::: 1 2
    assert_output $'a 1\nb 2\nc 1'
    run pmap -k --link echo ::: a b c ::: 1 2 3 4 5
    assert_output $'a 1\nb 2\nc 3\na 4\nb 5'
}

@test "{N.} {N/} {N//} {N/.} name one source's value" {
    # parallel -k echo {2.} {2/} {2//} {2/.} {1.} {3} ::: a.x ::: /d/e/f.tar.gz
    run pmap -k echo {2.} {2/} {2//} {2/.} {1.} {3} ::: a.x ::: /d/e/f.tar.gz
    assert_output '/d/e/f.tar f.tar.gz /d/e f.tar a '
}

@test "-a repeats, each file a source; -a - is stdin; -a sources come before :::" {
    # parallel -k -a f1 -a f2 echo ; printf 'a\n' | parallel -k -a - -a f1 echo ; parallel -k -a f1 echo ::: x y
    run pmap -k -a f1 -a f2 echo
    assert_output $'a 1\na 2\na 3\nb 1\nb 2\nb 3'
    run bash -c "printf 'a\n' | pmap -k -a - -a f1 echo"
    assert_output $'a a\na b'
    run pmap -k -a f1 echo ::: x y
    assert_output $'a x\na y\nb x\nb y'
}

@test "--colsep with several sources: the columns of all sources are {1} {2} ..." {
    printf 'a b\tc\nd e\tf\n' >t1
    printf 'x\ty\n' >t2
    # parallel -k --colsep '\t' echo {1}+{2}+{3}+{4} :::: t1 t2 ; parallel -k --colsep '\t' printf '[%s]' {} :::: t1 t2
    run pmap -k --colsep '\t' echo {1}+{2}+{3}+{4} :::: t1 t2
    assert_output $'a b+c+x+y\nd e+f+x+y'
    run pmap -k --colsep '\t' printf '[%s]' {} :::: t1 t2
    assert_output '[a b][c][x][y][d e][f][x][y]'
}

@test "--header : names the columns of each source's first record" {
    printf 'h1\th2\nv1\tv2\nw1\tw2\n' >hd
    printf 'n1\nm1\nm2\n' >hd2
    # parallel -k --header : --colsep '\t' echo {h1} {h2} {1} :::: hd
    run pmap -k --header : --colsep '\t' echo {h1} {h2} {1} :::: hd
    assert_output $'v1 v2 v1\nw1 w2 w1'
    # parallel -k --header : echo {n1} {h1} :::: hd2 ::: hh a b   (an unknown name stays as it is)
    run pmap -k --header : echo {n1} {h1} {hh} :::: hd2 ::: hh a b
    assert_output $'m1 {h1} a\nm1 {h1} b\nm2 {h1} a\nm2 {h1} b'
    # parallel -k --header '.*' echo {hh} ::: hh a b
    run pmap -k --header '.*' echo {hh} ::: hh a b
    assert_output $'a\nb'
}

@test "--trim l, r, lr, n" {
    # parallel -k --trim lr echo '[{}]' ::: ' a ' '  b' ; --trim l ; --trim n
    run pmap -k --trim lr echo '[{}]' ::: ' a ' '  b'
    assert_output $'[a]\n[b]'
    run pmap -k --trim l echo '[{}]' ::: ' a ' '  b'
    assert_output $'[a ]\n[b]'
    run pmap -k --trim n echo '[{}]' ::: ' a ' '  b'
    assert_output $'[ a ]\n[  b]'
}

@test "--trim with another value is a usage error" {
    # parallel --trim x ... : "parallel: Error: --trim must be one of: r l rl lr." (exit 255)
    run pmap --trim x echo ::: a
    assert_failure 2
    assert_output --partial "--trim"
}

@test "--shuf runs every job once, in some order" {
    # parallel -k --shuf echo ::: a b c | sort
    run bash -c "pmap --shuf echo ::: \$(seq 50) ::: x | sort -n"
    assert_success
    assert_output "$(seq 50 | sed 's/$/ x/')"
}

@test "-r skips empty and blank records; without it they are jobs" {
    # parallel -k -r echo x{}x ::: a '' ' ' b ; printf '\n\n' | parallel -k echo x{}x
    run pmap -k -r echo x{}x ::: a '' ' ' b
    assert_output $'xax\nxbx'
    run bash -c "printf 'a\n\nb\n' | pmap -k -r echo x{}x"
    assert_output $'xax\nxbx'
    run bash -c "printf '\n\n' | pmap -k echo x{}x"
    assert_output $'xx\nxx'
    run bash -c "printf '\n\n' | pmap -k -r -X echo x{}x"
    assert_success
    assert_output ''
}

@test "-E STR ends each source at a record equal to STR" {
    # printf 'a\nSTOP\nb\n' | parallel -k -E STOP echo ; parallel -k -E b echo ::: a b c ::: 1 2
    run bash -c "printf 'a\nSTOP\nb\n' | pmap -k -E STOP echo"
    assert_output 'a'
    run pmap -k -E b echo ::: a b c ::: 1 2
    assert_output $'a 1\na 2'
}

@test "an empty ::: is a usage error" {
    run pmap echo a :::
    assert_failure 2
    assert_output --partial "':::' must be followed by at least one item"
}

# ---------------------------------------------------------------- packing

@test "-N 2: two arguments a job, {1} {2} their positions" {
    # parallel -k -N2 echo {1}-{2} ::: a b c d e ; parallel -k -N2 echo {#} {1} ::: a b c
    run pmap -k -N2 echo {1}-{2} ::: a b c d e
    assert_output $'a-b\nc-d\ne-'
    run pmap -k -N2 echo {#} {1} ::: a b c
    assert_output $'1 a\n2 c'
}

@test "-N 0 runs once per argument with none given" {
    # parallel -k -N0 echo hi ::: a b
    run pmap -k -N0 echo hi ::: a b
    assert_output $'hi\nhi'
}

@test "-n 2 splits {} into its values, around text sticking to the ends" {
    # parallel -k -n2 printf '[%s]' x{}y ::: a b c d e
    run pmap -k -n2 printf '[%s]' x{}y ::: a b c d e
    assert_output '[xa][by][xc][dy][xey]'
}

@test "-n 2 with several sources gives every value of both arguments" {
    # parallel -k -n2 echo ::: a b c d ::: 1 2 ; parallel -k -N2 echo {1} {2} ::: a b c d ::: 1 2
    run pmap -k -n2 echo ::: a b c d ::: 1 2
    assert_output $'a 1 a 2\nb 1 b 2\nc 1 c 2\nd 1 d 2'
    run pmap -k -N2 echo {1} {2} ::: a b c d ::: 1 2
    assert_output $'a 1\nb 1\nc 1\nd 1'
}

@test "-X repeats the word around {} per value; -m does not" {
    # parallel -k -X echo x{}y ::: a b c d e ; parallel -k -m echo x{}y ::: a b c d e   (-j2)
    run pmap -j2 -k -X echo x{}y ::: a b c d e
    assert_output $'xay xby xcy\nxdy xey'
    run pmap -j2 -k -m echo x{}y ::: a b c d e
    assert_output $'xa b cy\nxd ey'
    # parallel -j1 -k -m printf '[%s]' z{.}w ::: a.x b.y
    run pmap -j1 -k -m printf '[%s]' z{.}w ::: a.x b.y
    assert_output '[za][bw]'
}

@test "-m and -X spread input that fits one job over the job slots" {
    # seq 5 | parallel -j1 -k -X echo ; seq 5 | parallel -j3 -k -X echo
    run bash -c "seq 5 | pmap -j1 -k -X echo"
    assert_output '1 2 3 4 5'
    run bash -c "seq 5 | pmap -j3 -k -X echo"
    assert_output $'1 2\n3 4\n5'
}

@test "-L 2 gives two records a job; a record ending in a blank goes on in the next" {
    # parallel -k -L2 echo :::: lines ; parallel -k -L1 printf '[%s]' ::: 'a b ' c 'd e f' g
    printf 'a b\nc\nd e f\ng\n' >lines
    run pmap -k -L2 echo :::: lines
    assert_output $'a b c\nd e f g'
    printf 'a b \nc\nd e f\ng\n' >lines2
    run pmap -k -L1 printf '[%s]' :::: lines2
    assert_output '[a b c][d e f][g]'
}

@test "-m packs many long items without an Argument list too long, every item once" {
    seq 1 40000 | sed 's/$/-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/' >long
    run bash -c "pmap -j2 -m sh -c 'for a; do echo \"\$a\"; done' sh <long | sort >out; sort long | cmp - out"
    assert_success
    run bash -c "pmap -j2 -X echo 'x{}' <long | wc -l"
    assert_success
    [ "$output" -gt 1 ]   # more than one job: 3.7 MB does not fit one argv
}

@test "-s -X packs into one script argument (at most 128 KiB), every item once" {
    seq 1 40000 | sed 's/$/-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/' >long
    run bash -c "pmap -j2 -s -X 'printf \"%s\\n\" x{}' <long | sed 's/^x//' | sort | cmp - <(sort long)"
    assert_success
}

@test "-m counts the environment: a large one means smaller jobs, still no E2BIG" {
    seq 1 40000 | sed 's/$/-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/' >long
    big=$(head -c 100000 /dev/zero | tr '\0' e)
    run env B1="$big" B2="$big" B3="$big" B4="$big" B5="$big" B6="$big" B7="$big" B8="$big" \
        bash -c "pmap -j2 -m sh -c 'echo \$#' sh <long | awk '{ n += \$1 } END { print n }'"
    assert_success
    assert_output 40000
}

@test "--max-chars bounds each job's command line" {
    seq 1 2000 >nums
    run bash -c "pmap -k -j1 -m --max-chars 200 echo <nums | awk 'length(\$0) > 200 { bad++ } { n += NF } END { print n, bad + 0 }'"
    assert_success
    assert_output '2000 0'
}

# ---------------------------------------------------------------- replacement strings

@test "--plus: {+/} {+.} {..} {...} {/..} {/...} {+..} {+...} {##}" {
    # parallel -k --plus echo {+/} {+.} {..} {...} {/..} {/...} {+..} {+...} {##} ::: dir/sub/file.tar.gz
    run pmap -k --plus echo {+/} {+.} {..} {...} {/..} {/...} {+..} {+...} {##} ::: dir/sub/file.tar.gz
    assert_output 'dir/sub gz dir/sub/file dir/sub/file.tar.gz file file.tar.gz tar.gz  1'
}

@test "--plus: {:N} {:N:M} {#RE} {%RE} {/RE/S} {//RE/S}" {
    # parallel -k --plus echo {:2} {:1:3} {#2} {%.gz} {/z/Z} {//z/Z} ::: dir/sub/file.tar.gz
    run pmap -k --plus echo {:2} {:1:3} {#2} {%.gz} {/z/Z} {//z/Z} ::: dir/sub/file.tar.gz
    assert_output 'r/sub/file.tar.gz ir/ dir/sub/file.tar.gz dir/sub/file.tar dir/sub/file.tar.gZ dir/sub/file.tar.gZ'
}

@test "--rpl 'TAG s/RE/REPL/' and {= s/RE/REPL/ =}" {
    # parallel -k --rpl '{x} s/a/b/' echo {x} ::: aaa ; --rpl '{x} s/a/b/g' ; --rpl '{x} $_="lit"'
    run pmap -k --rpl '{x} s/a/b/' echo {x} ::: aaa
    assert_output 'baa'
    run pmap -k --rpl '{x} s/a/b/g' echo {x} ::: aaa
    assert_output 'bbb'
    run pmap -k --rpl '{x} $_="lit"' echo {x} ::: aaa
    assert_output 'lit'
    # parallel -k echo '{= s/a/b/ =}' ::: a
    run pmap -k echo '{= s/a/b/ =}' ::: a
    assert_output 'b'
}

@test "Perl beyond s/// is refused in one line saying what to use instead" {
    run pmap echo '{= $_ = uc($_) =}' ::: a
    assert_failure 2
    assert_line --index 0 --partial "pmap: {= "
    assert_line --index 0 --partial "s/RE/REPL/"
    assert_line --index 0 --partial "-s with sed"
}

# ---------------------------------------------------------------- NUL

@test "a NUL byte in a newline record becomes \\0, with one warning, not a failed job" {
    # printf 'a\0b\nc\0\n' | parallel -k echo {}x   (stdout; stderr warns)
    run --separate-stderr bash -c "printf 'a\0b\nc\0\n' | pmap -k echo {}x"
    assert_success
    assert_output $'a\\0bx\nc\\0x'
    [ "$(printf '%s\n' "$stderr" | grep -c NUL)" -eq 1 ]
}

# ================================================================ jobs and slots, environment, shell, --pipe

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

# ================================================================ output and records of work

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

# parallel -k --results -.json printf '%s' ::: 'q"b\s' $'t\tz' a
@test "pmap --results NAME.json writes one JSON object per job, escaped as GNU's" {
    run pmap -k --results -.json printf '%s' ::: 'q"b\s' $'t\tz' a
    assert_success
    run sed -E 's/"Starttime": [0-9]+\.[0-9]{3}, "JobRuntime": [0-9]+\.[0-9]{3}/T/' <<<"$output"
    assert_output - <<'EOF'
{ "Seq": 1, "Host": ":", T, "Send": 0, "Receive": 5, "Exitval": 0, "Signal": 0, "Command": "printf %s 'q\"b\\s'", "V": [ "q\"b\\s" ], "Stdout": "q\"b\\s", "Stderr": "" }
{ "Seq": 2, "Host": ":", T, "Send": 0, "Receive": 3, "Exitval": 0, "Signal": 0, "Command": "printf %s 't\u0009z'", "V": [ "t\u0009z" ], "Stdout": "t\u0009z", "Stderr": "" }
{ "Seq": 3, "Host": ":", T, "Send": 0, "Receive": 1, "Exitval": 0, "Signal": 0, "Command": "printf %s a", "V": [ "a" ], "Stdout": "a", "Stderr": "" }
EOF
    run pmap --results out.json true ::: x
    assert_success
    [ -f out.json ] && [ "$(wc -l <out.json)" = 1 ]
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
    run bash -c "tail -n +6 log | cut -f1,7,9 | sort -n"   # rows in the order the jobs ended
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

# ================================================================ GNU parallel's and xargs' other names, small options

# parallel -k --arg-sep ,, echo ,, a b ,,+ 1 2 ; parallel -k --arg-sep ,, echo ,, ::: a ; parallel -k --arg-file-sep // echo {1}{2} // f1 ::: x
@test "pmap --arg-sep and --arg-file-sep stand for ::: and :::: (and their + forms); ::: is then an item" {
    run pmap -k --arg-sep ,, echo ,, a b ,,+ 1 2
    assert_success
    assert_output $'a 1\nb 2'
    run pmap -k --arg-sep ,, echo ,, ::: a
    assert_success
    assert_output $':::\na'
    run pmap -k --arg-file-sep // echo {1}{2} // f1 ::: x
    assert_success
    assert_output $'ax\nbx'
    run --separate-stderr pmap --arg-sep x --arg-file-sep x echo x a
    assert_failure 2
    [[ $stderr == *"--arg-sep and --arg-file-sep must differ"* ]]
}

# parallel -k --xapply echo ::: a b ::: 1 2 ; parallel -k --eof=b echo :::: f ; parallel -k --max-replace-args 2 echo {2}{1} ::: a b c d
@test "pmap --xapply is --link, --eof is -E, --max-replace-args is -N" {
    run pmap -k --xapply echo ::: a b ::: 1 2
    assert_output $'a 1\nb 2'
    printf 'a\nb\nc\n' >abc
    run pmap -k --eof=b echo :::: abc
    assert_output 'a'
    run pmap -k --max-replace-args 2 echo {2}{1} ::: a b c d
    assert_output $'ba\ndc'
}

# parallel -k --replace=Z echo Z-Z ::: 1
@test "pmap -i and --replace are -I {}, or -I STR when given STR (xargs -i)" {
    run pmap -k -i echo 'x{}y' ::: 1
    assert_success
    assert_output 'x1y'   # GNU parallel takes a detached word after -i as its STR; xargs does not
    run pmap -k --replace=Z echo Z-Z ::: 1
    assert_output '1-1'
    run pmap -k -iQ echo Q.Q ::: 2
    assert_output '2.2'
}

@test "pmap --group, --no-keep-order and --silent undo -u or --lb, -k and -v given before them" {
    run pmap -u --group --tag echo ::: a   # -u drops tags; --group brings grouped output back
    assert_success
    assert_output $'a\ta'
    run --separate-stderr pmap -k --no-keep-order -u echo ::: a   # -u with -k is refused
    assert_success
    assert_output 'a'
    run --separate-stderr pmap -v --silent echo ::: a
    assert_success
    assert_output 'a'
    [ -z "$stderr" ]
}

# parallel -j1 -k --halt-on-error 2 'echo {}; exit {}' ::: 0 3 0
@test "pmap --halt-on-error is --halt" {
    run pmap -j1 -k --halt-on-error 2 'echo {}; exit {}' ::: 0 3 0
    assert_failure 3
    assert_output $'0\n3'
}

# parallel --process-slot-var=SV -j2 'echo {} $SV $PARALLEL_JOBSLOT' ::: 1 2 3 4
@test "pmap --process-slot-var sets NAME to the job's slot less one, as xargs -P does" {
    run pmap --process-slot-var=SV -j2 -k 'echo {} $SV $PARALLEL_JOBSLOT' ::: 1 2 3 4 5 6
    assert_success
    [ "$(cut -d' ' -f1 <<<"$output")" = "$(seq 6)" ]
    run awk '$2 != $3 - 1 || ($2 != 0 && $2 != 1)' <<<"$output"
    assert_output ''
    run --separate-stderr pmap --process-slot-var=A=B echo ::: 1
    assert_failure 2
}

@test "pmap --tmpdir DIR puts --files' files in DIR, and refuses a directory it cannot write in" {
    mkdir tmp
    run pmap -k --tmpdir tmp --files echo ::: a b
    assert_success
    [ "$(wc -l <<<"$output")" -eq 2 ]
    local f
    for f in $output; do [ "${f#tmp/}" != "$f" ]; done
    [ "$(cat $output)" = $'a\nb' ]
    run --separate-stderr pmap --tmpdir nosuchdir --files echo ::: a
    assert_failure 2
    [[ $stderr == *"--tmpdir: 'nosuchdir' is not a directory pmap can write in"* ]]
}

# parallel --number-of-threads ; --number-of-cores ; --number-of-cpus ; --number-of-sockets
@test "pmap --number-of-threads, -cores, -cpus and -sockets print a count and run nothing" {
    run pmap --number-of-threads echo ::: never
    assert_success
    assert_output "$(nproc)"
    local cores sockets
    cores=$(pmap --number-of-cores)
    sockets=$(pmap --number-of-sockets)
    [ "$(pmap --number-of-cpus)" = "$cores" ]
    [ "$sockets" -ge 1 ] && [ "$sockets" -le "$cores" ] && [ "$cores" -le "$(nproc)" ]
}
