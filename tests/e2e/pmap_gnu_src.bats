#!/usr/bin/env bats
# pmap beside GNU parallel (20221122): input sources, argument packing,
# replacement strings (--plus, --rpl, {= =}), a NUL byte in a record.
# Each test runs pmap and compares with what GNU parallel printed for the same
# command (the "# parallel ..." line above it), written in: CI does not run
# GNU parallel.

load helper

bats_require_minimum_version 1.5.0

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
    printf 'a\nb\n' >f1
    printf '1\n2\n3\n' >f2
}

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
