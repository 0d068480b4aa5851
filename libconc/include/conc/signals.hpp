// conc/signals.hpp: signals delivered into the event loop.
//
// The only thing done in signal context is writing the signal's number to a
// pipe the loop watches (the self-pipe trick); everything else happens on the
// loop's thread, where it is safe.  SIGCHLD is the loop's own: it reaps the
// children awaited with loop::child_exit, so no child is left a zombie.
#pragma once
#include <deque>
#include <optional>
#include <vector>

#include "conc/loop.hpp"

namespace conc {

// Signals delivered into the loop.  From construction on, every arrival of
// one of the signals is queued (nothing is lost between awaits); next()
// waits for the next one and returns its number.  The handler only writes a
// byte to a pipe; everything else happens on the loop's thread.
class signal_set {
public:
    signal_set(loop& l, std::vector<int> sigs);
    ~signal_set();
    signal_set(const signal_set&) = delete;
    signal_set& operator=(const signal_set&) = delete;

    bool contains(int sig) const noexcept;
    std::optional<int> try_next() noexcept;
    auto next() {
        struct awaiter : detail::waiter {
            signal_set* s;
            int got = 0;
            explicit awaiter(signal_set* x) : s(x) {}
            ~awaiter() override { detach(); }
            bool await_ready() noexcept {
                auto v = s->try_next();
                if (v) got = *v;
                return bool(v);
            }
            bool await_suspend(std::coroutine_handle<> h) {
                if (!detail::loop_access::begin_wait(s->lp_, *this, h)) return false;
                s->waiters_.push_back(this);
                ++s->lp_.signal_waiters_;
                return true;
            }
            void fire() override {
                --s->lp_.signal_waiters_;
                detail::waiter::fire();
            }
            void detach() noexcept override {
                if (list) --s->lp_.signal_waiters_;
                detail::waiter::detach();
            }
            int await_resume() {
                throw_if_cancelled();
                if (!got) got = s->try_next().value_or(0);
                return got;
            }
        };
        return awaiter{this};
    }

private:
    friend class loop;
    void deliver(int sig);
    loop& lp_;
    std::vector<int> sigs_;
    std::deque<int> pending_;
    detail::waiter_list waiters_;
};

// Ignores SIGPIPE in this process, so a write to a closed pipe fails with
// EPIPE instead of killing it.  Children started by spawn() still get the default.
void ignore_sigpipe();

}  // namespace conc
