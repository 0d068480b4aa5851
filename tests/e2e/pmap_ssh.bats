#!/usr/bin/env bats
# pmap -S end to end, against real OpenSSH servers (issue 14).
#
# setup_file starts three sshd instances on loopback ports (tests/e2e/sshd.bash):
# host1 and host2 have pmap on their PATH (the worker path), nopmap has only the
# system directories (the one-ssh-per-job path: there `pmap` is procps' memory
# map tool, as on any Debian machine), and dead is a Host entry on a closed port.
# Each is a machine of its own on one filesystem: its own HOME (sshd_home NAME),
# where its sessions start.  Jobs say where they ran through $CONC_TEST_HOST,
# which only that host's sshd sets.  Where sshd cannot start at all, every test
# skips with the reason.
#
# Jobs that must wait on each other do so through files in the test's directory
# (one filesystem for every "machine"), never through sleeps; every pmap runs
# under `timeout` so that a hang fails the test instead of blocking CI.
#
# PMAP_SSH_PEER=parallel runs the same tests with GNU parallel in pmap's place
# (skipping those that pin pmap's own messages and ways): that is how the
# harness and the expected outputs were checked before pmap had -S.
#
# Pinned here, beyond issue 14's interface:
#  - an absolute --workdir is used as is (GNU parallel does the same).
#  - a usage error is two lines: "pmap: ..." naming the bad spec, then
#    "Try 'pmap --help'.".

load helper
load sshd

bats_require_minimum_version 1.5.0

PEER=${PMAP_SSH_PEER:-pmap}
# GNU parallel joins the command's words for the shell unquoted (pmap(1),
# DIFFERENCES FROM GNU PARALLEL): -q makes it pass them as typed, as pmap does.
QUOTE=()
if [ "$PEER" != pmap ]; then
    QUOTE=(-q)
    # GNU parallel 20221122 quotes --return's names for rsync >= 3.2.4 twice.
    export RSYNC_OLD_ARGS=1
fi

setup_file() {
    local dir=$BATS_FILE_TMPDIR/sshd
    mkdir -p "$dir"
    export CONC_BIN
    if ! { sshd_init "$dir" && sshd_start host1 pmap && sshd_start host2 pmap &&
        sshd_start nopmap nopmap && sshd_add_closed dead; }; then
        echo "${SSHD_ERROR:-sshd did not start}" >"$BATS_FILE_TMPDIR/skip_reason"
    fi
    export SSHD_DIR SSH_CONFIG
}

teardown_file() {
    sshd_teardown
}

# helper.bash's teardown, kept under another name: this file's teardown adds to it.
eval "helper_$(declare -f teardown)"

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
    if [ -s "$BATS_FILE_TMPDIR/skip_reason" ]; then
        skip "sshd cannot start: $(cat "$BATS_FILE_TMPDIR/skip_reason")"
    fi
    # A host an earlier test killed comes back (same port, same host key).
    local h
    for h in host1 host2 nopmap; do
        sshd_listener "$h" >/dev/null || sshd_restart "$h" || {
            echo "cannot restart $h: $SSHD_ERROR" >&2
            return 1
        }
    done
    unset CONC_TEST_HOST
    T=$BATS_TEST_TMPDIR
}

# A failed test leaves nothing running under any host, nor any ssh client.
teardown() {
    helper_teardown
    local h p
    for h in host1 host2 nopmap; do
        for p in $(sshd_procs "$h" | cut -d' ' -f1); do kill -KILL "$p" 2>/dev/null; done
    done
    for p in $(sshd_ssh_clients | cut -d' ' -f1); do kill -KILL "$p" 2>/dev/null; done
}

# rpmap ARGS...: the tool under test over this file's hosts, 60 s at most
# (GNU parallel, one ssh per job: 300 s).
LIMIT=60
[ "$PEER" = pmap ] || LIMIT=300
rpmap() {
    timeout -k 5 "$LIMIT" "$PEER" --ssh "ssh -F $SSH_CONFIG" "$@"
}

pmap_only() {
    [ "$PEER" = pmap ] || skip "pins pmap's own behaviour ($PEER in its place)"
}

# failed_jobs N: the status of a run where N jobs failed (GNU parallel: N).
failed_jobs() {
    if [ "$PEER" = pmap ]; then assert_failure 123; else assert_failure "$1"; fi
}

# joblog_hosts FILE: "SEQ HOST" for each job of a joblog, by sequence number.
joblog_hosts() {
    awk -F'\t' 'NR > 1 { print $1, $2 }' "$1" | sort -n
}

# A job script, reachable from every host by its absolute path.
# job NAME BODY: writes $T/NAME.sh; run it as `sh $T/NAME.sh ARGS`.
job() {
    printf '%s\n' 'T=$(dirname "$0")' \
        '# await FILE: until FILE exists, 60 s at most.' \
        'await() { _w=0; while [ ! -e "$1" ]; do _w=$((_w + 1)); [ $_w -lt 600 ] || { echo "gave up waiting for $1" >&2; exit 99; }; sleep 0.1; done; }' \
        "$2" >"$T/$1.sh"
}

# ---------------------------------------------------------------- hosts and slots

@test "pmap -S spreads jobs over the hosts by slots, and the joblog names each job's host" {
    # A job waits until both hosts have run one, so both must be used; it
    # holds its host's lock while it runs, so a second job at once on a
    # 1-slot host says OVERLAP.
    job spread '
touch "$T/ran.$CONC_TEST_HOST"
mkdir "$T/lock.$CONC_TEST_HOST" 2>/dev/null || echo OVERLAP
await "$T/ran.host1"; await "$T/ran.host2"
echo "$1 $CONC_TEST_HOST $PARALLEL_SSHLOGIN $PARALLEL_SEQ"
rmdir "$T/lock.$CONC_TEST_HOST"'
    run --separate-stderr rpmap -S 1/host1,1/host2 --joblog jl sh "$T/spread.sh" {} < <(seq 20)
    assert_success
    refute_output --partial OVERLAP
    echo "$output" >out
    # Every item exactly once; each line: item, the host it ran on as its
    # sshd says and as PARALLEL_SSHLOGIN gives it, and its sequence number.
    [ "$(cut -d' ' -f1 out | sort -n)" = "$(seq 20)" ]
    run awk '$2 != $3 || ($2 != "host1" && $2 != "host2") || $1 != $4' out
    assert_output ""
    # The joblog's Host column is where each job ran.
    joblog_hosts jl >jl.hosts
    awk '{ print $4, $2 }' out | sort -n >ran.hosts
    run diff jl.hosts ran.hosts
    assert_success
    grep -q ' host1$' ran.hosts
    grep -q ' host2$' ran.hosts
}

@test "pmap -S accepts hosts in repeated options and runs as many jobs at once as a host has slots" {
    # 3 slots on host1: jobs 1-3 wait until all three run at once there.
    job slots '
touch "$T/run.$1"
if [ "$1" -le 3 ]; then await "$T/run.1"; await "$T/run.2"; await "$T/run.3"; fi
echo "$1 $CONC_TEST_HOST"'
    run --separate-stderr rpmap -S 3/host1 -S 1/host2 sh "$T/slots.sh" {} < <(seq 6)
    assert_success
    [ "$(cut -d' ' -f1 <<<"$output" | sort -n)" = "$(seq 6)" ]
}

@test "pmap -S gives a host without N/ as many slots as it has CPUs" {
    local cpus
    cpus=$(ssh -F "$SSH_CONFIG" host1 'nproc 2>/dev/null || getconf _NPROCESSORS_ONLN')
    # A running job holds the lowest free busy.N; taking busy.(cpus+1) means
    # one job too many at once.  The first cpus jobs wait until all of them run.
    job cpus '
n=1
until mkdir "$T/busy.$n" 2>/dev/null; do n=$((n + 1)); done
[ "$n" -le '"$cpus"' ] || echo "OVERLAP $n"
touch "$T/run.$1"
if [ "$1" -le '"$cpus"' ]; then i=1; while [ $i -le '"$cpus"' ]; do await "$T/run.$i"; i=$((i + 1)); done; fi
echo "$1"
rmdir "$T/busy.$n"'
    run --separate-stderr rpmap -S host1 sh "$T/cpus.sh" {} < <(seq $((cpus * 3)))
    assert_success
    refute_output --partial OVERLAP
    [ "$(sort -n <<<"$output")" = "$(seq $((cpus * 3)))" ]
}

@test "pmap -S reaches the hosts through \$PARALLEL_SSH when --ssh is not given" {
    PARALLEL_SSH="ssh -F $SSH_CONFIG" run --separate-stderr timeout -k 5 "$LIMIT" "$PEER" -k -S 1/host1 'echo {} $CONC_TEST_HOST' ::: a b
    assert_success
    assert_output $'a host1\nb host1'
}

@test "pmap --resume -S skips the jobs the joblog has, whatever host ran them" {
    run --separate-stderr rpmap -S 1/host1,1/host2 --joblog jl 'echo {}' ::: $(seq 5)
    assert_success
    run --separate-stderr rpmap -S 1/host2 --joblog jl --resume 'echo {}' ::: $(seq 8)
    assert_success
    [ "$(sort -n <<<"$output")" = "$(seq 6 8)" ]
    [ "$(awk -F'\t' 'NR > 1 { print $1 }' jl | sort -n)" = "$(seq 8)" ]
}

@test "pmap -k -S prints in input order when jobs on different hosts finish out of order" {
    job order '
if [ "$1" = 1 ]; then await "$T/done.30"; fi
echo "$1"
if [ "$1" = 30 ]; then touch "$T/done.30"; fi'
    run --separate-stderr rpmap -k -S 1/host1,1/host2 sh "$T/order.sh" {} < <(seq 30)
    assert_success
    assert_output "$(seq 30)"
}

@test "pmap -S with : runs jobs both here and on the remote host" {
    # Each job waits until a local and a remote job have run.
    job mixed '
h=${CONC_TEST_HOST:-local}
touch "$T/ran.$h"
await "$T/ran.local"; await "$T/ran.host1"
echo "$PARALLEL_SEQ $h"'
    run --separate-stderr rpmap -S 1/:,1/host1 --joblog jl sh "$T/mixed.sh" {} < <(seq 10)
    assert_success
    [ "$(cut -d' ' -f1 <<<"$output" | sort -n)" = "$(seq 10)" ]
    # The joblog says ":" for a local job, the host for a remote one.
    sed 's/ local$/ :/' <<<"$output" | sort -n >ran.hosts
    joblog_hosts jl >jl.hosts
    run diff jl.hosts ran.hosts
    assert_success
    grep -q ' :$' jl.hosts
    grep -q ' host1$' jl.hosts
}

# ---------------------------------------------------------------- files

@test "pmap --transfer --return --cleanup sends each file, fetches the result byte for byte, and leaves no copy on the hosts" {
    mkdir in
    head -c 100000 /dev/urandom >"in/a b.bin"
    head -c 65537 /dev/urandom >"in/it's.bin"
    printf 'x\0y\nno newline at the end' >in/plain.txt
    printf '' >in/empty
    for i in 1 2 3 4; do head -c $((i * 3000)) /dev/urandom >"in/more $i"; done
    # The job reads the remote copy (relative to its home, where it runs),
    # writes the result beside it, and says where it ran in a second file.
    run --separate-stderr rpmap -S 1/host1,1/host2 --transfer --return {}.out --return {}.where --cleanup \
        'cat {} > {}.out; printf "%s %s %s\n" {} "$CONC_TEST_HOST" "$PWD" > {}.where' ::: in/*
    assert_success
    local f where host n=0
    for f in in/*; do
        [[ $f == *.out || $f == *.where ]] && continue
        n=$((n + 1))
        cmp "$f" "$f.out"
        where=$(cat "$f.where")
        host=$(cut -d' ' -f1 <<<"${where#"$f "}")
        [ "$where" = "$f $host $(sshd_home "$host")" ]
    done
    [ "$n" -eq 8 ]
    # Neither the sent files nor the results are left on the hosts.
    run find "$(sshd_home host1)" "$(sshd_home host2)" -path '*/in/*' -type f
    assert_output ""
}

@test "pmap --trc PATTERN is --transfer --return PATTERN --cleanup" {
    printf 'data %s\n' 1 2 3 >one.txt
    printf 'data %s\n' 4 5 >two.txt
    run --separate-stderr rpmap -S 1/host1,1/host2 --trc {.}.res 'tac {} > {.}.res' ::: one.txt two.txt
    assert_success
    cmp <(tac one.txt) one.res
    cmp <(tac two.txt) two.res
    run find "$(sshd_home host1)" "$(sshd_home host2)" -name 'one.*' -o -name 'two.*'
    assert_output ""
}

@test "pmap --workdir ... runs remote jobs in a fresh directory per host that is gone at the end" {
    printf 'abc' >f.txt
    run --separate-stderr rpmap -S 1/host1 --workdir ... --trc {}.out 'cat {} > {}.out; echo "$PWD"' ::: f.txt
    assert_success
    cmp <(printf 'abc') f.txt.out
    local wd=$output
    [[ $wd == "$(sshd_home host1)/.parallel/tmp/"* ]]
    [ ! -e "$wd" ]
}

@test "pmap --basefile sends the file once to each host before its first job" {
    head -c 50000 /dev/urandom >base.dat
    # Every job sees the same copy on its host: same content, same inode and
    # change time (a second sending would write it again).
    run --separate-stderr rpmap -S 2/host1,2/host2 --bf base.dat \
        'cmp base.dat '"$T"'/base.dat && echo {} "$CONC_TEST_HOST" "$(stat -c "%i %z" base.dat)"' ::: $(seq 12)
    assert_success
    echo "$output" >out
    [ "$(cut -d' ' -f1 out | sort -n)" = "$(seq 12)" ]
    run bash -c "cut -d' ' -f2- out | sort -u | cut -d' ' -f1 | uniq -d"
    assert_output ""
    local h
    for h in $(cut -d' ' -f2 out | sort -u); do
        cmp base.dat "$(sshd_home "$h")/base.dat"
    done
}

# ---------------------------------------------------------------- environment and quoting

@test "pmap --env sends the variables and the exported function it names, and nothing else" {
    export MYVAR=$'two  words\nand $(touch '"$T"'/pwned) `touch '"$T"'/pwned` '\''q'\'' "d" ; *'
    export NOTSENT=leak
    greet() { printf '%s|%s|%s\n' "$1" "$MYVAR" "${NOTSENT:-unset}"; echo "host:$CONC_TEST_HOST"; }
    export -f greet
    run --separate-stderr rpmap -k -S 1/host1,1/host2 --env MYVAR --env greet greet ::: a b c d
    assert_success
    local expected=
    for i in a b c d; do expected+=$(NOTSENT= greet "$i" | grep -v '^host:')$'\n'; done
    [ "$(grep -v '^host:' <<<"$output")" = "${expected%$'\n'}" ]
    [ "$(grep -c '^host:host[12]$' <<<"$output")" -eq 4 ]
    [ ! -e "$T/pwned" ]
}

@test "pmap --record-env, then --env _ sends the variables set since, on both paths" {
    # GNU's pair: --record-env (from a fresh login) lists the variables a login
    # has in ~/.parallel/ignored_vars; --env _ sends every other one.
    export HOME=$T/home
    mkdir "$HOME"
    [ "$PEER" = pmap ] || mkdir "$HOME/.parallel"   # GNU parallel does not make it
    export OLDVAR=old
    run --separate-stderr "$PEER" --record-env
    assert_success
    grep -qx OLDVAR "$HOME/.parallel/ignored_vars"
    grep -qx HOME "$HOME/.parallel/ignored_vars"
    export NEWVAR='new  $(touch '"$T"'/pwned) value'
    run --separate-stderr rpmap "${QUOTE[@]}" -k -S 1/host1,1/nopmap --env _ \
        sh -c 'echo "${OLDVAR-unset}|${NEWVAR-unset}|$1"' sh {} ::: 1 2 3 4
    assert_success
    assert_output "unset|$NEWVAR|1
unset|$NEWVAR|2
unset|$NEWVAR|3
unset|$NEWVAR|4"
    [ ! -e "$T/pwned" ]
}

@test "pmap -S gives remote jobs --process-slot-var (the slot less one), on both paths" {
    run --separate-stderr rpmap "${QUOTE[@]}" -k -S 2/host1,2/nopmap --process-slot-var=SV \
        sh -c 'echo "$1 $SV $PARALLEL_JOBSLOT"' sh {} ::: 1 2 3 4 5 6 7 8
    assert_success
    [ "$(cut -d' ' -f1 <<<"$output")" = "$(seq 8)" ]
    run awk '$2 == "" || $2 != $3 - 1' <<<"$output"
    assert_output ''
}

@test "pmap -S passes hostile items byte for byte and never runs them, here or on a host" {
    # Both paths: host1 runs jobs through its pmap worker, nopmap one ssh per job.
    printf '%s\0' \
        '$(touch '"$T"'/pwned1)' \
        '`touch '"$T"'/pwned2`' \
        'a; touch '"$T"'/pwned3' \
        "it's \"quoted\" \\back\\slash" \
        $'line one\nline two' \
        '$HOME ${PATH} * ? [x] ~ & | > < # !' \
        '-n' \
        '  blanks  around  ' \
        $'\ttab' \
        "x' && touch $T/pwned4 && '" >items
    local n=10
    run --separate-stderr rpmap "${QUOTE[@]}" -0 -k -S 1/host1,1/nopmap -a items printf '[%s]\n' {}
    assert_success
    [ "$output" = "$(xargs -0 -n1 printf '[%s]\n' <items)" ]
    # The same through a shell on the remote side.
    run --separate-stderr rpmap -0 -k -S 1/host1,1/nopmap -a items 'printf "[%s]\n" {} | cat'
    assert_success
    [ "$output" = "$(xargs -0 -n1 printf '[%s]\n' <items)" ]
    run ls "$T" "$(sshd_home host1)" "$(sshd_home nopmap)"
    refute_output --partial pwned
    [ "$(tr -cd '\0' <items | wc -c)" -eq "$n" ]
}

# ---------------------------------------------------------------- --onall, --nonall
# GNU parallel 20221122 drops --ssh in the runs it starts per host (they
# cannot reach these hosts), so these pin pmap's behaviour only.

@test "pmap --nonall runs the command once on every host, each host's output whole; --tag names the host" {
    pmap_only
    run --separate-stderr rpmap --nonall -S host1,nopmap,: 'echo "${CONC_TEST_HOST:-here}"; echo "then ${CONC_TEST_HOST:-here}"'
    assert_success
    [ "${#lines[@]}" -eq 6 ]
    local i
    for i in 0 2 4; do [ "${lines[i+1]}" = "then ${lines[i]}" ]; done   # whole per host
    [ "$(printf '%s\n' "${lines[0]}" "${lines[2]}" "${lines[4]}" | sort | tr '\n' ' ')" = "here host1 nopmap " ]
    run --separate-stderr rpmap --nonall -k --tag -S host1,nopmap 'echo "$CONC_TEST_HOST"'
    assert_success
    assert_output $'host1\thost1\nnopmap\tnopmap'
}

@test "pmap --onall runs every item on every host, one at a time there and in order; the joblog has a row per job and host" {
    pmap_only
    # Items from standard input: each host's run reads all of them.  A job
    # holds its host's lock while it runs: a second at once there says OVERLAP.
    job once '
mkdir "$T/lock.$CONC_TEST_HOST" 2>/dev/null || echo OVERLAP
echo "$1 $CONC_TEST_HOST $PARALLEL_SEQ"
rmdir "$T/lock.$CONC_TEST_HOST"'
    run --separate-stderr rpmap --onall -k -S 2/host1,2/nopmap --joblog jl sh "$T/once.sh" {} < <(seq 6)
    assert_success
    refute_output --partial OVERLAP
    [ "$output" = "$(for h in host1 nopmap; do for i in $(seq 6); do echo "$i $h $i"; done; done)" ]
    [ "$(head -n 1 jl | cut -f1,2)" = $'Seq\tHost' ]
    [ "$(joblog_hosts jl | sort -k2,2 -k1n,1 | tr '\n' ' ')" = "1 host1 2 host1 3 host1 4 host1 5 host1 6 host1 1 nopmap 2 nopmap 3 nopmap 4 nopmap 5 nopmap 6 nopmap " ]
}

@test "pmap --onall exits 123 when a job failed on a host, after running every job on every host" {
    pmap_only
    run --separate-stderr rpmap --onall -k -S host1,nopmap 'echo {}; test {} != b || test "$CONC_TEST_HOST" = host1' ::: a b c
    assert_failure 123
    assert_output $'a\nb\nc\na\nb\nc'
}

@test "pmap --onall and --nonall need hosts, and --nonall takes no items" {
    pmap_only
    run --separate-stderr rpmap --nonall echo hi
    assert_failure 2
    [[ ${stderr_lines[0]} == "pmap: --nonall needs hosts: -S or --sshloginfile" ]]
    run --separate-stderr rpmap --nonall -S host1 echo ::: a
    assert_failure 2
    [[ ${stderr_lines[0]} == "pmap: --nonall takes no items"* ]]
    run --separate-stderr rpmap --onall -S host1 --results res echo ::: a
    assert_failure 2
    [ ! -e res ]
}

@test "SIGINT to pmap --onall stops every host's run: no process is left on any host" {
    pmap_only
    job long '
touch "$T/started.$CONC_TEST_HOST.$1"
exec sleep 300'
    timeout -k 5 "$LIMIT" pmap --ssh "ssh -F $SSH_CONFIG" --onall -S host1,nopmap sh "$T/long.sh" {} ::: 1 2 >out 2>err &
    local tpid=$! pid
    wait_for "$T/started.host1.1" "$T/started.nopmap.1"
    pid=$(pgrep -P "$tpid" -x pmap | head -n 1)
    [ -n "$pid" ]
    kill -INT "$pid"
    local status=0
    wait "$tpid" || status=$?
    [ "$status" -eq 130 ]
    sshd_wait_idle host1 30
    sshd_wait_idle nopmap 30
    run sshd_ssh_clients
    assert_output ""
    [ ! -e "$T/started.host1.2" ] && [ ! -e "$T/started.nopmap.2" ]
}

# ---------------------------------------------------------------- the two ways to run a remote job

@test "pmap -S gives the same outputs on a host without pmap (one ssh per job)" {
    local cmd='echo {} "$PARALLEL_SEQ" "$CONC_TEST_HOST"; echo "to stderr {}" >&2; exit $(({} % 5 == 0))'
    run --separate-stderr rpmap -k -S 2/nopmap "$cmd" ::: $(seq 12)
    failed_jobs 2
    [ "$output" = "$(for i in $(seq 12); do echo "$i $i nopmap"; done)" ]
    [ "$(grep -c '^to stderr' <<<"$stderr")" -eq 12 ]
    local nopmap_out=$output
    run --separate-stderr rpmap -k -S 2/host1 "$cmd" ::: $(seq 12)
    failed_jobs 2
    [ "$output" = "${nopmap_out//nopmap/host1}" ]
}

@test "pmap -S runs a host's jobs under one pmap --worker where pmap is on its PATH, and without one where it is not" {
    pmap_only
    # Each job names the nearest ancestor that is a pmap worker (or "none").
    job ancestry '
p=$$
while [ "$p" -gt 1 ]; do
    case $(tr "\0" " " < /proc/$p/cmdline) in *"pmap --worker"*) echo "$CONC_TEST_HOST $p"; exit 0 ;; esac
    p=$(awk "{ print \$4 }" /proc/$p/stat)
done
echo "$CONC_TEST_HOST none"'
    run --separate-stderr rpmap -S 2/host1,2/nopmap sh "$T/ancestry.sh" ::: $(seq 20)
    assert_success
    echo "$output" >out
    [ "$(wc -l <out)" -eq 20 ]
    # host1: every job under one and the same worker; nopmap: under none.
    run bash -c "grep '^host1 ' out | sort -u"
    [ "${#lines[@]}" -le 1 ]
    refute_output --partial none
    run grep '^nopmap ' out
    refute_output --regexp 'nopmap [0-9]'
}

# ---------------------------------------------------------------- failures

@test "pmap -S reruns the jobs of a host that dies mid-run elsewhere: every output exactly once" {
    # The first job on host1 holds there until host1 is killed; its rerun on host2 finishes.
    job hold '
if [ "$CONC_TEST_HOST" = host1 ] && mkdir "$T/held" 2>/dev/null; then
    echo "$1" >"$T/held/item"
    touch "$T/host1.busy"
    await "$T/never"
fi
echo "$1 $CONC_TEST_HOST"'
    rpmap -S 1/host1,1/host2 --retries 3 sh "$T/hold.sh" {} < <(seq 20) >out 2>err &
    local pid=$!
    wait_for "$T/host1.busy"
    sshd_kill host1
    local status=0
    wait "$pid" || status=$?
    [ "$status" -eq 0 ] || { cat err >&2; false; }
    # Every item once, the held one from host2.
    [ "$(cut -d' ' -f1 out | sort -n)" = "$(seq 20)" ]
    grep -qx "$(cat "$T/held/item") host2" out
}

@test "pmap --filter-hosts drops a host that cannot be reached, with one warning, and runs every job" {
    run --separate-stderr rpmap --filter-hosts -S 1/host1,1/dead --joblog jl echo {} ::: $(seq 10)
    assert_success
    [ "$(sort -n <<<"$output")" = "$(seq 10)" ]
    run awk -F'\t' 'NR > 1 && $2 != "host1"' jl
    assert_output ""
    [ "$PEER" = pmap ] || return 0
    [ "$(grep -c 'dead' <<<"$stderr")" -eq 1 ]
    [[ $stderr == *"pmap: dead: cannot connect: "*"; dropped"* ]]
}

@test "pmap --slf picks up a host added to the file during the run" {
    echo 2/host1 >hosts
    # On host1 every job waits for the edit; then the first one through ends
    # (a job start, where pmap reads the file again) and the others wait until
    # host2 has run a job: only a host taken from the edited file can.
    job slf '
if [ "$CONC_TEST_HOST" = host1 ]; then
    touch "$T/started.$1"
    await "$T/edited"
    mkdir "$T/first" 2>/dev/null || await "$T/ran.host2"
else
    touch "$T/ran.host2"
fi
echo "$1 $CONC_TEST_HOST"'
    rpmap --slf hosts --joblog jl sh "$T/slf.sh" {} < <(seq 10) >out 2>err &
    local pid=$!
    wait_for "$T/started.1"
    wait_for "$T/started.2"
    # GNU parallel compares modification times in whole seconds: move it on.
    local mtime
    mtime=$(stat -c %Y hosts)
    printf '# added during the run\n1/host2\n' >>hosts
    touch -d "@$((mtime + 2))" hosts
    touch "$T/edited"
    local status=0
    wait "$pid" || status=$?
    [ "$status" -eq 0 ] || { cat err >&2; false; }
    [ "$(cut -d' ' -f1 out | sort -n)" = "$(seq 10)" ]
    grep -q ' host2$' out
    run awk -F'\t' 'NR > 1 { print $2 }' jl
    assert_line host1
    assert_line host2
}

@test "pmap --slf .. reads ~/.parallel/sshloginfile" {
    mkdir -p home/.parallel
    printf '# the default host file\n1/host2\n' >home/.parallel/sshloginfile
    HOME=$T/home run --separate-stderr rpmap --slf .. 'echo {} $CONC_TEST_HOST' ::: a
    assert_success
    assert_output "a host2"
}

@test "SIGINT to pmap -S stops the remote jobs: no process is left on any host" {
    job long '
touch "$T/started.$1"
exec sleep 300'
    timeout -k 5 "$LIMIT" "$PEER" --ssh "ssh -F $SSH_CONFIG" -S 2/host1,2/host2 sh "$T/long.sh" {} < <(seq 8) >out 2>err &
    local tpid=$! pid i
    for i in 1 2 3 4; do wait_for "$T/started.$i"; done
    pid=$(pgrep -P "$tpid" -x "$PEER" | head -n 1)
    [ -n "$pid" ]
    kill -INT "$pid"
    local status=0
    wait "$tpid" || status=$?
    # pmap stopped by SIGINT: 130, as for local jobs (not timeout's 124).
    [ "$PEER" != pmap ] || [ "$status" -eq 130 ]
    [ "$status" -ne 124 ]
    sshd_wait_idle host1 30
    sshd_wait_idle host2 30
    run sshd_ssh_clients
    assert_output ""
}

# ---------------------------------------------------------------- bad input

@test "pmap -S rejects bad host specs with a usage error and runs nothing" {
    pmap_only
    local spec
    for spec in '' '0/host1' 'x/host1' '/host1' '1/' 'host1:port' 'host1:99999' '-1/host1'; do
        run --separate-stderr rpmap -S "$spec" echo ran ::: 1
        [ "$status" -eq 2 ] || { echo "spec '$spec': exit $status" >&2; false; }
        assert_output ""
        [ "${#stderr_lines[@]}" -eq 2 ] || { echo "spec '$spec': $stderr" >&2; false; }
        [[ ${stderr_lines[0]} == "pmap: "* ]]
        [ -z "$spec" ] || [[ ${stderr_lines[0]} == *"$spec"* ]] || { echo "spec '$spec': $stderr" >&2; false; }
        [ "${stderr_lines[1]}" = "Try 'pmap --help'." ]
    done
}

@test "pmap --slf with a missing file or a bad line is a usage error" {
    pmap_only
    run --separate-stderr rpmap --slf nosuchfile echo ran ::: 1
    assert_failure 2
    assert_output ""
    [[ ${stderr_lines[0]} == "pmap: "*"nosuchfile"* ]]
    printf '# hosts\n1/host1\n\nx/host2\n' >hosts
    run --separate-stderr rpmap --slf hosts echo ran ::: 1
    assert_failure 2
    assert_output ""
    [[ ${stderr_lines[0]} == "pmap: "*"x/host2"* ]]
}
