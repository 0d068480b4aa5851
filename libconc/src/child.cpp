#include "conc/child.hpp"

#include <errno.h>
#include <signal.h>

#include <algorithm>
#include <chrono>

namespace conc {

namespace {

// The child's end of a pipe for one stream, and the loop's end kept in ours.
stdio plan(const child_io& io, bool child_reads, unique_fd& ours, unique_fd& theirs) {
    switch (io.kind) {
    case child_io::null: return stdio::devnull();
    case child_io::fd: return stdio::to(io.number);
    case child_io::pipe_to_us: {
        pipe_pair p = make_pipe();
        ours = std::move(child_reads ? p.write : p.read);
        theirs = std::move(child_reads ? p.read : p.write);
        return stdio::to(theirs.get());
    }
    case child_io::inherit: break;
    }
    return stdio::inherited();
}

}  // namespace

child::child(loop& lp, child_spec spec) : lp_(&lp), st_(std::make_shared<state>()) {
    spawn_spec s;
    s.argv = std::move(spec.argv);
    s.env = std::move(spec.env);
    s.cwd = std::move(spec.cwd);
    s.new_process_group = spec.own_group;
    s.parent_death_signal = spec.parent_death_signal;
    unique_fd child_in, child_out, child_err;   // closed here once the child has its copies
    s.in = plan(spec.in, true, in_, child_in);
    s.out = plan(spec.out, false, out_, child_out);
    s.err = plan(spec.err, false, err_, child_err);
    proc_ = spawn(s);
    st_->pid = proc_.pid();
    st_->pgid = proc_.pgid();
}

std::variant<child, spawn_error> try_spawn(loop& lp, child_spec spec) {
    try {
        return child(lp, std::move(spec));
    } catch (const spawn_error& e) {
        return e;
    }
}

// Nothing outlives its owner: a child dropped while running is killed with
// its group, then reaped in the background (~process hands it to the reaper).
// The state may live on in a stop() task: it must not signal the pid again.
child::~child() {
    if (!st_ || st_->reaped) return;
    st_->signal(SIGKILL);
    st_->pid = -1;
    st_->pgid = 0;
}

void child::state::signal(int sig) const noexcept {
    if (pgid > 0) {
        if (!group_gone()) kill_group(pgid, sig);
    } else if (!reaped && pid > 0) {
        ::kill(pid, sig);
    }
}

// Once the leader is reaped its pid stays reserved only while other members
// use it as their group id: ESRCH then means the number is free, and must not
// be signalled again.
bool child::state::group_gone() const noexcept {
    return reaped && ::kill(-pgid, 0) < 0 && errno == ESRCH;
}

bool child::state::all_gone() const noexcept { return pgid > 0 ? group_gone() : reaped || pid <= 0; }

task<exit_status> child::exited() {
    std::shared_ptr<state> st = st_;
    while (!st->reaped) {
        if (st->reaping) {
            co_await st->done.wait();
            continue;
        }
        st->reaping = true;
        try {
            exit_status s = co_await lp_->child_exit(proc_);
            st->status = s;
            st->reaped = true;
        } catch (...) {   // cancelled: another waiter takes over the reaping
            st->reaping = false;
            st->done.set();
            st->done.clear();
            throw;
        }
        st->reaping = false;
        st->done.set();
    }
    co_return st->status;
}

task<void> child::stop_group(loop& lp, std::shared_ptr<state> st, clock::duration grace) {
    using namespace std::chrono_literals;
    st->signal(SIGTERM);
    auto deadline = clock::now() + grace;
    clock::duration step = 5ms;   // a few short looks first: most commands leave at once
    while (!st->all_gone() && clock::now() < deadline) {
        co_await lp.sleep_for(std::min<clock::duration>(step, deadline - clock::now()));
        step = std::min<clock::duration>(step * 2, 100ms);
    }
    if (!st->all_gone()) st->signal(SIGKILL);
}

}  // namespace conc
