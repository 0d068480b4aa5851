// conc/executor.hpp: blocking work off the loop, its result awaited on it.
//
// What asyncio's loop.run_in_executor and asyncio.wrap_future are to Python:
// a task hands a blocking call to a thread_pool and suspends (the loop goes
// on with other tasks) until a pool thread has finished it.
//
//     conc::thread_pool pool(4);
//     conc::loop lp;
//     std::string s = lp.run([](conc::thread_pool& pool) -> conc::task<std::string> {
//         co_return co_await conc::run_in_executor(pool, read_whole_file, "big.txt");
//     }(pool));
//
// The pool finishes the future on one of its threads; the done-callback only
// posts a wake-up to the loop (loop::post), so the task always resumes on the
// loop's thread.  While a task waits, a loop::hold keeps the loop from taking
// "nothing left to wait for" as a deadlock.
//
// Cancelling the awaiting task (job::cancel) resumes it at once with
// cancelled_error and cancels the future if its work has not started (as
// asyncio does); work already running goes on, and its completion later finds
// nobody waiting.  The callback and the awaiter share their state, so neither
// the awaiter nor the loop need outlive the work.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "conc/loop.hpp"
#include "conc/pool.hpp"

namespace conc {

namespace detail {

// What the future's done-callback (on a pool thread) and the awaiter (on the
// loop's thread) share.  `lp` is cleared, under the mutex, as soon as nobody
// waits any more, so a late callback never posts to a loop that may be gone;
// `w` is touched only on the loop's thread.
struct future_wake {
    std::mutex m;
    loop* lp = nullptr;
    waiter* w = nullptr;
};

template <class R>
class future_awaiter : public waiter {
public:
    future_awaiter(future<R> f, bool move_result) : fut_(std::move(f)), move_(move_result) {
        if (!fut_.valid()) throw std::invalid_argument("conc::wrap_future: an empty future");
    }
    ~future_awaiter() override { detach(); }

    bool await_ready() const noexcept { return fut_.done(); }
    bool await_suspend(std::coroutine_handle<> h) {
        loop& l = loop::current();
        if (!detail::loop_access::begin_wait(l, *this, h)) {   // cancelled already: resumes and throws
            fut_.cancel();
            return false;
        }
        wake_ = std::make_shared<future_wake>();
        wake_->lp = &l;
        wake_->w = this;
        hold_.emplace(l);
        fut_.add_done_callback([wk = wake_](const future<R>&) {
            std::lock_guard g(wk->m);
            if (!wk->lp) return;
            wk->lp->post([wk] {
                if (waiter* w = std::exchange(wk->w, nullptr)) w->fire();
            });
        });
        return true;
    }
    R await_resume() {
        release();
        throw_if_cancelled();
        if constexpr (std::is_void_v<R>) {
            fut_.get();
        } else if constexpr (std::is_copy_constructible_v<R>) {
            if (!move_) return fut_.get();
            return fut_.take();
        } else {
            return fut_.take();
        }
    }
    // Cancellation (and destruction while suspended): nobody waits any more.
    void detach() noexcept override {
        if (wake_ && wake_->w) fut_.cancel();   // still waiting: stop work not yet started
        release();
        waiter::detach();
    }

private:
    void release() noexcept {
        if (wake_) {
            wake_->w = nullptr;
            std::lock_guard g(wake_->m);
            wake_->lp = nullptr;
        }
        hold_.reset();
    }

    future<R> fut_;
    bool move_;
    std::shared_ptr<future_wake> wake_;
    std::optional<loop::hold> hold_;
};

template <class R>
task<R> await_future(future<R> f) {
    co_return co_await future_awaiter<R>(std::move(f), true);
}

}  // namespace detail

// asyncio.wrap_future: co_await wrap_future(f) suspends the task until f is
// done, then returns its result (a copy, as f may be shared; moved out if R
// cannot be copied) or rethrows its exception (future_cancelled if f was
// cancelled).  Only on a loop's thread.
template <class R>
detail::future_awaiter<R> wrap_future(future<R> f) {
    return detail::future_awaiter<R>(std::move(f), false);
}

// loop.run_in_executor: submits f(args...) to pool now (the arguments are
// copied or moved now, as by thread_pool::submit) and returns a task whose
// result is f's result, moved out, or f's exception.
template <class F, class... Args>
auto run_in_executor(thread_pool& pool, F&& f, Args&&... args) {
    return detail::await_future(pool.submit(std::forward<F>(f), std::forward<Args>(args)...));
}

}  // namespace conc
