# tests/e2e/sshd.bash: real OpenSSH servers on loopback, for pmap -S tests and
# benchmarks.  Plain bash (no Bats): sourced by tests/e2e/pmap_ssh.bats and by
# tests/bench/pmap_ssh.sh.
#
#   sshd_init DIR              keys and an empty client config under DIR
#   sshd_start NAME [pmap|nopmap]
#                              one `sshd -D` on a free 127.0.0.1 port, its own
#                              host key, the shared client key authorized;
#                              returns once `ssh NAME true` works (or 1, with
#                              the reason in $SSHD_ERROR)
#   sshd_add_closed NAME       a Host entry on a port where nothing listens
#   sshd_kill NAME             the machine dies: SIGKILL to its sshd and to every
#                              process of its sessions
#   sshd_restart NAME          start a killed NAME again (same port and key)
#   sshd_procs NAME            pid and command line of each process still running
#                              under NAME (its sessions; not the listener)
#   sshd_wait_idle NAME [SECS] until NAME runs no session process (default 30 s)
#   sshd_teardown              kill every instance (and ssh clients still using
#                              SSH_CONFIG) and remove DIR
#   sshd_home NAME, sshd_port NAME, sshd_listener NAME (its pid, if it runs),
#   sshd_names, sshd_ssh_clients ("PID ARGS" of ssh clients using SSH_CONFIG)
#
# SSHD_BIN (default /usr/sbin/sshd) is the server; CONC_BIN the build's bin dir.
#
# After sshd_init: SSH_CONFIG (for `ssh -F "$SSH_CONFIG" NAME ...`, pmap
# --ssh "ssh -F $SSH_CONFIG"), SSHD_DIR.  Each session sees CONC_TEST_HOST=NAME
# and CONC_SSHD_TAG (a tag unique to the instance: it tells that instance's
# processes even after they have been reparented to init), and PATH: with the
# build's bin dir first for a host "with pmap" (pmap --worker is found), only
# the system directories for a host "without pmap".  bash, the login shell
# sshd runs each command with, reads ~/.bashrc when sshd starts it; a
# developer's ~/.bashrc may change PATH and cost time on every job (pyenv's
# rehash: seconds per job on a loaded machine).  SHLVL=1 tells bash that it is
# not the first shell, so it reads no ~/.bashrc: sessions get exactly that PATH.
#
# Each instance is a machine of its own on one filesystem: HOME is
# SSHD_DIR/NAME/home (`sshd_home NAME`) and each session starts there (bash
# runs $BASH_ENV first, which cd's to HOME; sftp starts there too), so what a
# tool sends to a host lands in that host's home and nowhere else.  This needs
# bash as the login shell of the user: sshd_start checks where a session starts.
#
# State lives in files under SSHD_DIR/NAME (port, kind, listener.pid), so a
# Bats test sees the instances its setup_file started.
#
# Processes of an instance: descendants of its listener, and any process whose
# environment holds its CONC_SSHD_TAG (sshd puts each connection and each
# session in a session of its own, so process groups do not follow them).

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
SSHD_SYSTEM_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SSHD_ERROR=

# sshd_init DIR: DIR must exist and be private to the caller.
sshd_init() {
    SSHD_DIR=$1
    SSH_CONFIG=$SSHD_DIR/ssh_config
    export SSHD_DIR SSH_CONFIG
    SSHD_ERROR=
    if [ ! -x "$SSHD_BIN" ]; then
        SSHD_ERROR="$SSHD_BIN not installed (make deps installs openssh-server)"
        return 1
    fi
    if ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
        SSHD_ERROR="ssh or ssh-keygen not installed (make deps installs openssh-client)"
        return 1
    fi
    # Running as root, sshd wants its privilege separation directory.
    if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
        mkdir -p /run/sshd && chmod 755 /run/sshd || {
            SSHD_ERROR="cannot create /run/sshd"
            return 1
        }
    fi
    chmod 700 "$SSHD_DIR"
    if ! ssh-keygen -q -t ed25519 -N '' -C conc-test-client -f "$SSHD_DIR/client_key" </dev/null >/dev/null 2>"$SSHD_DIR/keygen.err"; then
        SSHD_ERROR="ssh-keygen failed: $(head -n 1 "$SSHD_DIR/keygen.err")"
        return 1
    fi
    cp "$SSHD_DIR/client_key.pub" "$SSHD_DIR/authorized_keys"
    : >"$SSHD_DIR/known_hosts"
    : >"$SSH_CONFIG"
    chmod 600 "$SSHD_DIR/authorized_keys" "$SSH_CONFIG"
}

# sshd_free_port: a TCP port on 127.0.0.1 that nothing listens on now.  (A race
# with another process remains: sshd_start tries again on another port.)
sshd_free_port() {
    local port i sl local_addr rest
    local -A used=()
    for i in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$i" ] || continue
        while read -r sl local_addr rest; do
            [ "$sl" = sl ] && continue
            used[$((16#${local_addr##*:}))]=1
        done <"$i"
    done
    for i in $(seq 100); do
        port=$((20000 + RANDOM % 40000))
        [ -z "${used[$port]:-}" ] && { echo "$port"; return 0; }
    done
    return 1
}

# sshd_client_entry NAME PORT: NAME's block in the client config.
sshd_client_entry() {
    cat >>"$SSH_CONFIG" <<EOF
Host $1
    HostName 127.0.0.1
    Port $2
    User $(id -un)
    IdentityFile $SSHD_DIR/client_key
    IdentitiesOnly yes
    HostKeyAlias conc-test-$1
    UserKnownHostsFile $SSHD_DIR/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking no
    LogLevel ERROR
    BatchMode yes
    ConnectTimeout 10
    ServerAliveInterval 5
    ServerAliveCountMax 3

EOF
}

sshd_server_config() {
    local name=$1 port=$2 kind=$3 dir=$SSHD_DIR/$1 path=$SSHD_SYSTEM_PATH
    [ "$kind" = pmap ] && path=$CONC_BIN:$path
    mkdir -p "$dir/home"
    # Read by the session's bash before the command: the session starts in
    # NAME's own home; BASH_ENV is not passed on to the command's own shells.
    printf '%s\n' 'unset BASH_ENV' 'cd "$HOME" || exit 1' >"$dir/bash_env"
    cat >"$dir/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
PrintMotd no
PrintLastLog no
UseDNS no
MaxSessions 100
MaxStartups 200
LogLevel ERROR
Subsystem sftp internal-sftp -d "$dir/home"
SetEnv CONC_TEST_HOST=$name CONC_SSHD_TAG=$SSHD_DIR/$name "PATH=$path" SHLVL=1 "HOME=$dir/home" "BASH_ENV=$dir/bash_env"
EOF
}

# sshd_port NAME, sshd_listener NAME: from NAME's files.
sshd_port() { cat "$SSHD_DIR/$1/port" 2>/dev/null; }
sshd_listener() {
    local f=$SSHD_DIR/$1/listener.pid pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    # Still the same sshd (a pid can be reused): its command line names NAME's config.
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "-f $SSHD_DIR/$1/sshd_config" || return 1
    echo "$pid"
}
sshd_home() { echo "$SSHD_DIR/$1/home"; }
# sshd_names: every instance of SSHD_DIR, closed ones too.
sshd_names() {
    local f
    for f in "$SSHD_DIR"/*/port; do
        [ -f "$f" ] && basename "$(dirname "$f")"
    done
}

# sshd_start NAME [pmap|nopmap]  (default: pmap, which needs $CONC_BIN)
sshd_start() {
    local name=$1 kind=${2:-pmap} dir=$SSHD_DIR/$1 try port
    SSHD_ERROR=
    if [ "$kind" = pmap ] && [ ! -x "${CONC_BIN:-}/pmap" ]; then
        SSHD_ERROR="no pmap in CONC_BIN='${CONC_BIN:-}'"
        return 1
    fi
    mkdir -p "$dir"
    if [ ! -f "$dir/host_ed25519" ]; then
        ssh-keygen -q -t ed25519 -N '' -C "conc-test-$name" -f "$dir/host_ed25519" </dev/null >/dev/null 2>&1 || {
            SSHD_ERROR="ssh-keygen failed for the host key of $name"
            return 1
        }
    fi
    echo "$kind" >"$dir/kind"
    for try in 1 2 3 4 5; do
        port=$(sshd_free_port) || { SSHD_ERROR="no free port"; return 1; }
        sshd_server_config "$name" "$port" "$kind"
        echo "$port" >"$dir/port"
        if sshd_launch "$name"; then
            sshd_client_entry "$name" "$port"
            local where
            where=$(ssh -F "$SSH_CONFIG" "$name" pwd </dev/null 2>&1)
            if [ "$where" != "$dir/home" ]; then
                SSHD_ERROR="a session on $name starts in '$where', not in its own home (the login shell must be bash)"
                return 1
            fi
            return 0
        fi
        # Lost the port to someone else: the log says "Bind to port ... failed".
        grep -q 'Bind to port\|Cannot bind' "$dir/sshd.log" 2>/dev/null || break
    done
    return 1
}

# sshd_restart NAME: NAME again after sshd_kill, on its port with its key.
sshd_restart() {
    sshd_launch "$1"
}

# sshd_launch NAME: start NAME's sshd from its config and wait until it lets
# the client in (30 s at most).  The listener leaves Bats' descriptors alone
# (Bats waits for every holder of its fd 3 before it ends a test).
sshd_launch() {
    local name=$1 dir=$SSHD_DIR/$1 pid i port
    port=$(sshd_port "$name")
    : >"$dir/sshd.log"
    "$SSHD_BIN" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>>"$dir/sshd.log" 3>&- 4>&- 5>&- &
    pid=$!
    disown "$pid"   # killed later without a "Killed" notice from this shell
    echo "$pid" >"$dir/listener.pid"
    # The probe names the port itself: on the first start, NAME has no entry yet.
    for i in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            SSHD_ERROR="sshd for $name exited: $(grep -v '^$' "$dir/sshd.log" | tail -n 1)"
            return 1
        fi
        if ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o LogLevel=ERROR \
            -o UserKnownHostsFile="$SSHD_DIR/known_hosts" -o GlobalKnownHostsFile=/dev/null \
            -o HostKeyAlias="conc-test-$name" -o IdentitiesOnly=yes -i "$SSHD_DIR/client_key" \
            -o ConnectTimeout=5 -p "$port" -l "$(id -un)" 127.0.0.1 true </dev/null >/dev/null 2>"$dir/probe.err"; then
            return 0
        fi
        sleep 0.1
    done
    SSHD_ERROR="sshd for $name does not let the client in: $(head -n 1 "$dir/probe.err")"
    kill -KILL "$pid" 2>/dev/null
    return 1
}

# sshd_add_closed NAME: a host whose port nothing listens on (connection refused).
sshd_add_closed() {
    local port
    port=$(sshd_free_port) || return 1
    mkdir -p "$SSHD_DIR/$1"
    echo "$port" >"$SSHD_DIR/$1/port"
    echo closed >"$SSHD_DIR/$1/kind"
    sshd_client_entry "$1" "$port"
}

# sshd_pids NAME: pids of NAME's processes, the listener first when it runs.
sshd_pids() {
    local name=$1 listener
    {
        if listener=$(sshd_listener "$name"); then
            echo "$listener"
            # Its descendants, over the parent links ps reports.
            ps -e -o pid=,ppid= | awk -v root="$listener" '
                { kids[$2] = kids[$2] " " $1 }
                END {
                    n = 1; q[1] = root
                    for (i = 1; i <= n; i++) {
                        c = split(kids[q[i]], k, " ")
                        for (j = 1; j <= c; j++) { print k[j]; q[++n] = k[j] }
                    }
                }'
        fi
        # Processes that carry the instance's tag (reparented ones too).
        grep -lsxzF "CONC_SSHD_TAG=$SSHD_DIR/$name" /proc/[0-9]*/environ 2>/dev/null |
            sed 's|^/proc/||; s|/environ$||'
    } | awk -v me="$$" -v sub_="$BASHPID" 'NF && $1 != me && $1 != sub_ && !seen[$1]++'
}

# sshd_procs NAME: "PID ARGS" for each process under NAME but its listener.
sshd_procs() {
    local p args listener
    listener=$(sshd_listener "$1")
    for p in $(sshd_pids "$1"); do
        [ "$p" = "$listener" ] && continue
        args=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        [ -n "$args" ] || continue   # a zombie, or gone already
        echo "$p $args"
    done
}

# sshd_wait_idle NAME [SECS]: until NAME has no session process left.
sshd_wait_idle() {
    local i left
    for i in $(seq $((${2:-30} * 10))); do
        left=$(sshd_procs "$1")
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    echo "processes still running under $1:" >&2
    echo "$left" >&2
    return 1
}

# sshd_kill NAME: SIGKILL to the listener and everything of NAME's sessions,
# until none is left (a session may fork while it is being killed).
sshd_kill() {
    local name=$1 round pids
    for round in $(seq 50); do
        pids=$(sshd_pids "$name")
        [ -z "$pids" ] && break
        kill -KILL $pids 2>/dev/null
        sleep 0.05
    done
    rm -f "$SSHD_DIR/$name/listener.pid"
    return 0
}

# sshd_teardown: no sshd and no session process left behind; SSHD_DIR removed.
sshd_teardown() {
    local name
    [ -n "${SSHD_DIR:-}" ] && [ -d "$SSHD_DIR" ] || return 0
    for name in $(sshd_names); do
        sshd_kill "$name"
    done
    # Client processes left by the tool under test (ControlMaster and the like).
    local p
    for p in $(pgrep -f -- "-F $SSH_CONFIG" 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$SSHD_DIR"
}

# sshd_ssh_clients: "PID ARGS" of ssh clients still running with SSH_CONFIG.
sshd_ssh_clients() {
    local p args
    for p in $(pgrep -f -- "$SSH_CONFIG" 2>/dev/null); do
        [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
        args=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        [[ $args == "ssh "* ]] && echo "$p $args"
    done
    return 0
}
