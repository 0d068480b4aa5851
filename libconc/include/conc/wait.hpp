// conc/wait.hpp: waiting on several jobs of the loop, and cancelling them.
//
// asyncio.wait, asyncio.gather and asyncio.wait_for for conc::loop: wait()
// under a policy (all completed, first completed, first exception), gather()
// (a vector of tasks, or tasks of different types), with_timeout().
//
//     conc::loop lp;
//     int n = lp.run([]() -> conc::task<int> {
//         auto [a, b] = co_await conc::gather(work(1), work(2));
//         co_return a + b;
//     }());
#pragma once
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "conc/detail/wait_policy.hpp"
#include "conc/loop.hpp"
#include "conc/task.hpp"

namespace conc {

template <class T>
struct wait_result {
    std::vector<job<T>> done;
    std::vector<job<T>> pending;
};

namespace detail {

// Waits on several jobs at once under a policy, with an optional deadline.
class multi_wait : public waiter {
public:
    multi_wait(loop& l, std::vector<job_base*> jobs, wait_policy p, std::optional<clock::time_point> deadline);
    ~multi_wait() override { detach(); }
    bool await_ready() const noexcept { return satisfied() || expired_; }
    bool await_suspend(std::coroutine_handle<> h);
    void await_resume() const { throw_if_cancelled(); }
    void detach() noexcept override;

private:
    struct sub : waiter {
        multi_wait* parent = nullptr;
        job_base* job = nullptr;
        ~sub() override { detach(); }
        void fire() override;
    };
    struct deadline_timer : timer_waiter {
        multi_wait* parent = nullptr;
        void fire() override;
    };
    bool satisfied() const noexcept;
    void complete();
    void job_done(job_base& j);

    std::vector<job_base*> jobs_;
    std::size_t done_count_ = 0;   // while suspended: how many of jobs_ are done
    wait_policy policy_;
    std::unique_ptr<sub[]> subs_;
    std::optional<deadline_timer> timer_;
    bool expired_ = false;
};

inline task<void> wait_jobs(std::vector<job_base*> jobs, wait_policy p,
                            std::optional<clock::duration> timeout) {
    std::optional<clock::time_point> deadline;
    if (timeout) deadline = clock::now() + *timeout;
    co_await multi_wait(loop::current(), std::move(jobs), p, deadline);
}

inline void cancel_all(const std::vector<job_base*>& jobs) {
    for (auto* j : jobs)
        if (!j->done) loop_access::cancel(*j->lp, *j);
}

// Cancels the jobs and waits until every one of them has finished.
inline task<void> cancel_and_wait(std::vector<job_base*> jobs) {
    cancel_all(jobs);
    co_await wait_jobs(std::move(jobs), wait_policy::all_completed, std::nullopt);
}

// gather's rule for any mix of jobs: wait until all are done or one failed;
// then cancel the rest, wait for them, and rethrow the first exception.
// (Named vectors, not braced temporaries, in the co_awaits here and below:
// g++ 12 miscompiles initializer lists inside co_await expressions.)
inline task<void> gather_all(std::vector<job_base*> jobs) {
    try {
        co_await wait_jobs(jobs, wait_policy::first_exception, std::nullopt);
    } catch (const cancelled_error&) {
        cancel_all(jobs);
        throw;
    }
    std::exception_ptr first;
    for (auto* j : jobs)
        if (j->done && j->error) {
            first = j->error;
            break;
        }
    if (first) {
        co_await cancel_and_wait(jobs);
        std::rethrow_exception(first);
    }
}

}  // namespace detail

// asyncio.wait: returns the jobs that are done and those still pending.
template <class T>
task<wait_result<T>> wait(std::vector<job<T>> jobs, wait_policy policy = wait_policy::all_completed,
                          std::optional<clock::duration> timeout = std::nullopt) {
    std::vector<detail::job_base*> bases;
    for (auto& j : jobs) bases.push_back(j.base());
    co_await detail::wait_jobs(std::move(bases), policy, timeout);
    wait_result<T> r;
    for (auto& j : jobs) (j.done() ? r.done : r.pending).push_back(std::move(j));
    co_return r;
}

// asyncio.wait_for: t's result, or timeout_error after d (t is then cancelled
// and awaited before the error is thrown).
template <class T, class Rep, class Period>
task<T> with_timeout(task<T> t, std::chrono::duration<Rep, Period> d) {
    auto j = loop::current().spawn(std::move(t));
    std::vector<detail::job_base*> bases{j.base()};
    try {
        co_await detail::wait_jobs(bases, wait_policy::all_completed,
                                   std::chrono::duration_cast<clock::duration>(d));
    } catch (const cancelled_error&) {
        j.cancel();
        throw;
    }
    if (!j.done()) {
        co_await detail::cancel_and_wait(bases);
        if (j.cancelled()) throw timeout_error();
    }
    if constexpr (std::is_void_v<T>) j.result();
    else co_return std::move(const_cast<T&>(j.result()));
}

namespace detail {
template <class T>
stored_t<T> take_result(job<T>& j) {
    if constexpr (std::is_void_v<T>) { j.result(); return {}; }
    else return std::move(const_cast<T&>(j.result()));
}
}  // namespace detail

// asyncio.gather over a vector: every result in order.  The first exception
// cancels the others, waits for them, and propagates.
template <class T>
task<std::vector<detail::stored_t<T>>> gather(std::vector<task<T>> tasks) {
    std::vector<job<T>> jobs;
    std::vector<detail::job_base*> bases;
    jobs.reserve(tasks.size());
    for (auto& t : tasks) {
        jobs.push_back(loop::current().spawn(std::move(t)));
        bases.push_back(jobs.back().base());
    }
    co_await detail::gather_all(bases);
    std::vector<detail::stored_t<T>> out;
    out.reserve(jobs.size());
    for (auto& j : jobs) out.push_back(detail::take_result(j));
    co_return out;
}

// asyncio.gather over different types: a tuple (void results become std::monostate).
template <class... T>
task<std::tuple<detail::stored_t<T>...>> gather(task<T>... tasks) {
    auto& lp = loop::current();
    std::tuple<job<T>...> jobs{lp.spawn(std::move(tasks))...};
    std::vector<detail::job_base*> bases = std::apply([](auto&... j) { return std::vector<detail::job_base*>{j.base()...}; }, jobs);
    co_await detail::gather_all(bases);
    co_return std::apply([](auto&... j) { return std::tuple<detail::stored_t<T>...>{detail::take_result(j)...}; }, jobs);
}

}  // namespace conc
