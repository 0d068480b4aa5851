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
