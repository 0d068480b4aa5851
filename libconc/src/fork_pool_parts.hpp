// libconc/src/fork_pool_parts.hpp: the pieces of fork_pool.  Internal.
//
// A task's path, a file a step:
//
//   submit   fork_pool::submit_job (fork_pool.cpp) takes a job whose request
//            frame is built (conc/detail/pool_wire.hpp, inline in pool.hpp)
//            and queues it for the pool's thread;
//   dispatch the dispatcher (fork_pool.cpp), coroutines on a conc::loop on
//            the pool's thread, hands it to a worker's link;
//   frame    the worker_link (pool_link.cpp) writes it down the worker's
//            task pipe, several frames a writev;
//   worker   the worker process (pool_worker.cpp) runs each item and writes
//            one reply frame a task;
//   result   the worker_link reads replies in large blocks and completes
//            each job, which sets its future (pool.hpp).
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "conc/fd.hpp"
#include "conc/pool.hpp"
#include "conc/process.hpp"

namespace conc::detail {

// ---- the fds of every fork_pool (pool_link.cpp)

// Every fd a fork_pool holds in the parent.  A worker closes them all after
// its fork, so that no worker keeps another worker's (or another pool's)
// pipe open and every worker sees end of file when its pool hangs up.
void fork_registry_add(int fd);
// Forgets fd and closes it.
void fork_registry_close(unique_fd& fd);
// Forgets fd, which its owner will close.
void fork_registry_forget(int fd);

// ---- the worker process (pool_worker.cpp)

// Frames in on `in`, one reply frame a request out on `out`, until end of
// file; then _exit(0).  fn runs the items of requests with call 0.
[[noreturn]] void run_pool_worker(const fork_pool::function& fn, int in, int out);

// ---- one worker, seen from the parent (pool_link.cpp)

// A worker process and the parent's ends of its two pipes, both
// non-blocking: the jobs sent to it, in order, and its replies.  Used by
// the pool's thread only.
class worker_link {
public:
    // Forks the worker (fn runs in it with the signal mask `mask`).
    void start(const fork_pool::function& fn, const sigset_t& mask);
    bool alive() const noexcept { return pid_ > 0; }
    int task_fd() const noexcept { return task_w_.get(); }
    int result_fd() const noexcept { return result_r_.get(); }

    // Closes the task pipe: the worker exits once it has answered what it has.
    void hang_up();
    // Kills it first if asked, closes both pipes and reaps it; how it ended
    // (not known if it was not ours to reap).
    exit_status stop(bool kill_first);

    // ---- sending: jobs in order, claimed by the caller
    void push(std::unique_ptr<fork_job> job);
    std::size_t in_flight() const noexcept { return outstanding_.size(); }
    unsigned tasks_given() const noexcept { return given_; }
    bool wants_write() const noexcept { return write_idx_ < outstanding_.size(); }
    enum class send_result { all_sent, would_block, broken };
    // Writes as many waiting frames as the pipe takes.  broken: the worker
    // is gone (its result pipe will say so).
    send_result send();

    // ---- receiving
    // Reads what the worker has written and completes the jobs it answers;
    // false at end of file (the worker is gone).
    bool receive();
    // After its death: the jobs sent and not answered, in order (the first
    // was running, the others were never started).
    std::deque<std::unique_ptr<fork_job>> take_unanswered();

private:
    pid_t pid_ = -1;
    unique_fd task_w_;    // the parent writes requests
    unique_fd result_r_;  // the parent reads replies
    std::deque<std::unique_ptr<fork_job>> outstanding_;  // sent or to send, not answered, in order
    std::size_t write_idx_ = 0, write_off_ = 0;           // the next byte of outstanding_ to send
    unsigned given_ = 0;
    // Replies read and not yet used: in_[in_begin_, in_end_).  Moved to the
    // front only when the room behind runs short, so a block is rarely copied.
    std::vector<char> in_;
    std::size_t in_begin_ = 0, in_end_ = 0;
};

}  // namespace conc::detail
