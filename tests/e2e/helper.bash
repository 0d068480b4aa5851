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

# wait_for FILE: poll until FILE exists; wait_for_content FILE: until it is
# not empty (60 s at most each).
poll_file() {
    local i
    for i in $(seq 600); do
        [ "$1" "$2" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $2" >&2
    return 1
}
wait_for() { poll_file -e "$1"; }
wait_for_content() { poll_file -s "$1"; }

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
