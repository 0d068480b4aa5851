# Loaded by every .bats file: the tools under test come first on PATH.
CONC_BIN=${CONC_BIN:-$(cd "$BATS_TEST_DIRNAME/../../build/bin" && pwd)}
PATH="$CONC_BIN:$PATH"
export PATH

load_lib() {
    local name=$1
    for dir in /usr/lib/bats /usr/lib/bats-core /usr/local/lib/bats; do
        if [ -f "$dir/$name/load.bash" ]; then
            load "$dir/$name/load.bash"
            return
        fi
    done
    echo "bats library $name not found: run 'make deps'" >&2
    return 1
}
load_lib bats-support
load_lib bats-assert

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
}

# wait_for FILE...: poll until each FILE exists; wait_for_content FILE...:
# until each is not empty (60 s at most a file).
poll_file() {
    local i
    for i in $(seq 600); do
        [ "$1" "$2" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $2" >&2
    return 1
}
wait_for() { local f; for f; do poll_file -e "$f" || return; done; }
wait_for_content() { local f; for f; do poll_file -s "$f" || return; done; }

# make_await: ./await FILE, for commands under test, waits until FILE is not
# empty (60 s at most, so that a command of a tool that died ends by itself).
make_await() {
    printf '%s\n' '#!/bin/sh' 'i=0' \
        'while [ ! -s "$1" ]; do i=$((i + 1)); [ $i -le 600 ] || exit 99; sleep 0.1; done' >await
    chmod +x await
}

# not_hung: the last `run ... timeout -s KILL N tool ...` ended by itself, not
# by the timeout around it.  A test that expects the tool's own --timeout
# (exit 124) sets expect_124=1.
not_hung() {
    if [ "$status" -eq 124 ] && [ "${expect_124:-}" != 1 ] || [ "$status" -eq 137 ]; then
        echo "the tool did not end: the timeout around it fired (status $status)" >&2
        return 1
    fi
}

# ended PID: waits for PID, a child of the test (started with &), and sets
# $status to how it ended (bats' `run wait` would wait in a subshell, which
# cannot).
ended() {
    status=0
    wait "$1" || status=$?
    output=
}

# dead PID: true once PID has ended (a zombie has ended: it only waits to be
# reaped); 20 s at most.
dead() {
    local i stat
    for i in $(seq 200); do
        stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
        [[ $stat == Z* ]] && return 0
        sleep 0.1
    done
    echo "process $1 still runs: $(ps -o pid=,pgid=,args= -p "$1")" >&2
    return 1
}

# Leftovers of a failed test: each pid in a *.pid file that still runs in this
# test's directory (which tells it from a reused pid), with its process group.
teardown() {
    local dir f pid
    [ -d /proc ] || return 0
    dir=$(cd "$BATS_TEST_TMPDIR" && pwd -P) || return 0
    for f in "$BATS_TEST_TMPDIR"/*.pid; do
        [ -s "$f" ] || continue
        pid=$(head -n 1 "$f")
        [[ $pid =~ ^[0-9]+$ ]] || continue
        [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$dir" ] || continue
        if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
        kill -KILL "$pid" 2>/dev/null || true
    done
}
