// conc/child.hpp: one spawned command with its pipes, in its own process group.
//
// What a tool holds for each command it runs: the process, the loop-side ends
// of the pipes it asked for, a way to await the exit, and a way to stop the
// whole group (grandchildren included) with a grace period.  By default the
// child gets SIGKILL if the tool dies (Linux parent-death signal), so a tool
// killed with kill -9 leaves no command running behind it.
//
//     conc::child_spec spec{.argv = {"sh", "-c", "echo hi; sleep 5"}};
//     spec.out = conc::child_io::pipe();
//     conc::child c(lp, std::move(spec));
//     ... read c.out() ...
//     lp.spawn(c.stop(std::chrono::seconds(2)));   // TERM the group, KILL after 2 s
//     conc::exit_status st = co_await c.exited();
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "conc/fd.hpp"
#include "conc/co_sync.hpp"
#include "conc/loop.hpp"
#include "conc/process.hpp"

namespace conc {

// Where one of the child's standard streams goes.
struct child_io {
    enum kind_t { inherit, null, pipe_to_us, fd } kind = inherit;
    int number = -1;
    static child_io inherited() { return {}; }
    static child_io devnull() { return {null, -1}; }
    static child_io pipe() { return {pipe_to_us, -1}; }   // the loop's end: child::in()/out()/err()
    static child_io to(int f) { return {fd, f}; }          // an fd of ours, dup'ed into the child
};

struct child_spec {
    std::vector<std::string> argv;          // looked up on PATH unless argv[0] has a '/'
    child_io in{}, out{}, err{};
    std::vector<std::string> env{};         // "NAME=value" over the parent's environment
    std::string cwd{};
    bool own_group = true;                  // pgid == pid, so stop() reaches its children too
    int parent_death_signal = SIGKILL;      // Linux; 0: the child may outlive the tool
};

class child {
public:
    // Starts the command.  Throws spawn_error (127/126 cases) or sys_error.
    child(loop& lp, child_spec spec);
    child(child&&) noexcept = default;
    child& operator=(child&&) noexcept = default;
    ~child();   // a child still running is killed with its group (SIGKILL)

    pid_t pid() const noexcept { return st_->pid; }
    pid_t pgid() const noexcept { return st_->pgid; }

    // The loop's ends of the pipes asked for with child_io::pipe(); empty otherwise.
    // Close in() to give the child end of file; reset out()/err() once drained.
    unique_fd& in() noexcept { return in_; }
    unique_fd& out() noexcept { return out_; }
    unique_fd& err() noexcept { return err_; }

    // Waits for the command to end and returns how (it is reaped by the loop).
    // May be awaited by several tasks; all get the same status.
    task<exit_status> exited();
    bool has_exited() const noexcept { return st_->reaped; }
    const exit_status& status() const noexcept { return st_->status; }

    // Sends sig to the child's group (or to the child when it has none).
    // The group is signalled even after the leader has exited, while members
    // may remain; nothing is sent once the group is known to be empty.
    void signal(int sig) const noexcept { st_->signal(sig); }
    // The command and every process of its group have ended (the leader reaped).
    bool gone() const noexcept { return st_->all_gone(); }

    // TERM to the group now; KILL to the group after grace unless every member
    // is gone by then (grandchildren that outlive the leader are killed too).
    // Holds only shared state: it may be spawned and outlive this object.
    task<void> stop(clock::duration grace) { return stop_group(*lp_, st_, grace); }

private:
    struct state {
        pid_t pid = -1;
        pid_t pgid = 0;
        bool reaped = false;
        bool reaping = false;   // one task waits in the loop; others wait on done
        exit_status status;
        co::event done;
        void signal(int sig) const noexcept;
        bool group_gone() const noexcept;
        bool all_gone() const noexcept;
    };
    static task<void> stop_group(loop& lp, std::shared_ptr<state> st, clock::duration grace);
    loop* lp_;
    process proc_;
    std::shared_ptr<state> st_;
    unique_fd in_, out_, err_;
};

// Starts the command as child's constructor does, but a command that cannot
// run (not found: 127, not executable: 126) comes back as its spawn_error
// instead of being thrown, so that a coroutine can report it with co_await,
// which a catch handler may not hold.  Other failures still throw sys_error.
//
//     auto started = conc::try_spawn(lp, std::move(spec));
//     if (auto* e = std::get_if<conc::spawn_error>(&started)) co_return co_await report(*e);
//     conc::child& c = std::get<conc::child>(started);
std::variant<child, spawn_error> try_spawn(loop& lp, child_spec spec);

}  // namespace conc
