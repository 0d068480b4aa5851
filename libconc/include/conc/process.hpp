// conc/process.hpp: spawning a command, its exit status, killing its group.
//
// Commands are started with posix_spawnp (vfork speed, no shell): argv is
// passed exactly as given.  The child's stdin/stdout/stderr are mapped to the
// fds you name, or to /dev/null, or inherited.  A command that cannot be found
// and one that cannot be executed are told apart (127 and 126, as the shell does).
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conc/error.hpp"

namespace conc {

// How a child ended: exited with a code, or was killed by a signal.
class exit_status {
public:
    exit_status() = default;   // not known yet: neither exited() nor signaled(), not success()
    static exit_status from_wait(int raw) noexcept { exit_status s; s.raw_ = raw; s.known_ = true; return s; }
    static exit_status exited_with(int code) noexcept { return from_wait((code & 0xff) << 8); }
    static exit_status killed_by(int sig) noexcept { return from_wait(sig & 0x7f); }

    bool exited() const noexcept;
    bool signaled() const noexcept;
    int code() const noexcept;     // exit code when exited(), else -1
    int signal() const noexcept;   // signal number when signaled(), else 0
    bool success() const noexcept { return exited() && code() == 0; }
    bool known() const noexcept { return known_; }
    // The shell's number: the exit code, or 128+signal.
    int shell_code() const noexcept { return signaled() ? 128 + signal() : code(); }
    // "exit 3", "killed by signal 9": the one text form of an exit status.
    std::string describe() const;
    int raw() const noexcept { return raw_; }

private:
    int raw_ = 0;
    bool known_ = false;
};

// Where a child's standard stream goes.
struct stdio {
    enum kind_t { inherit, null, fd } kind = inherit;
    int number = -1;
    static stdio inherited() { return {}; }
    static stdio devnull() { return {null, -1}; }
    static stdio to(int f) { return {fd, f}; }
};

struct spawn_spec {
    std::vector<std::string> argv;      // argv[0] is looked up on PATH unless it contains '/'
    stdio in{}, out{}, err{};
    bool new_process_group = false;     // child gets its own group (pgid == pid)
    std::vector<std::string> env{};     // extra "NAME=value" entries over the parent's environment
    std::string cwd{};                  // working directory; empty: the parent's
    // Linux: the signal the child gets when the thread that started it ends
    // (the tool killed with SIGKILL, say); 0 for none.  Started through vfork
    // with prctl(PR_SET_PDEATHSIG), checking that the parent is still there
    // before exec.  It reaches the command itself, not the children it starts.
    int parent_death_signal = 0;
};

// The command could not be started.  err() is ENOENT for "not found",
// EACCES/ENOEXEC/... for "cannot execute"; exit_code() maps to 127/126.
class spawn_error : public sys_error {
public:
    spawn_error(int err, const std::string& command)
        : sys_error(err, "run '" + command + "'"), command_(command) {}
    int exit_code() const noexcept { return err() == ENOENT ? 127 : 126; }
    const std::string& command() const noexcept { return command_; }

private:
    std::string command_;
};

// A started child.  Move-only.  If it is destroyed before being waited for,
// the pid is handed to the reaper (the loop's SIGCHLD handling, or the next
// reap_orphans() call) so it never stays a zombie.
class process {
public:
    process() = default;
    explicit process(pid_t pid, pid_t pgid = 0) noexcept : pid_(pid), pgid_(pgid) {}
    process(process&& o) noexcept;
    process& operator=(process&& o) noexcept;
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    ~process();

    pid_t pid() const noexcept { return pid_; }
    pid_t pgid() const noexcept { return pgid_; }   // 0 unless started in its own group
    bool running() const noexcept { return pid_ > 0 && !reaped_; }

    exit_status wait();                 // blocks
    bool try_wait(exit_status& out);    // non-blocking; true once the child has ended
    // Marks the child as reaped by someone else (the loop) with this status.
    void set_reaped(exit_status s) noexcept { reaped_ = true; status_ = s; }
    const exit_status& status() const noexcept { return status_; }

    // Sends sig to the child's process group (or the child when it has none).
    // Does nothing once the child has been reaped, so a recycled pid is never hit.
    void kill(int sig) const noexcept;

private:
    pid_t pid_ = -1;
    pid_t pgid_ = 0;
    bool reaped_ = false;
    exit_status status_;
};

// Starts spec.argv.  Throws spawn_error when the command cannot be run,
// sys_error for other failures (fork limits, fds).
process spawn(const spawn_spec& spec);

// Signals that were ignored when the program started (nohup, trap '' INT):
// children keep them ignored, and a tool should not catch them.
bool ignored_at_start(int sig) noexcept;

// Runs argv to completion with inherited stdio and returns how it ended.
exit_status run(const std::vector<std::string>& argv);

// Sends sig to process group pgid; ESRCH (already gone) is not an error.
void kill_group(pid_t pgid, int sig) noexcept;

// Reaps child pid once it has ended; nullopt while it runs.  Never blocks;
// EINTR is retried.  Throws sys_error (ECHILD: not our child, or already reaped).
std::optional<exit_status> try_reap(pid_t pid);
// Waits for child pid to end and reaps it; EINTR is retried.  Throws sys_error.
exit_status reap(pid_t pid);

// Reaps, without blocking, children whose process object was dropped before
// they ended.  The loop calls this on every SIGCHLD.
void reap_orphans() noexcept;

// The number of CPUs online now (sysconf(_SC_NPROCESSORS_ONLN)); at least 1.
// What -j and pool sizes count in.
unsigned online_cpus() noexcept;

}  // namespace conc
