// conc/task.hpp: task<T>, a lazy C++20 coroutine.
//
// A task does nothing until it is awaited (or handed to loop::spawn).  Its
// result, or the exception it threw, goes to whoever awaits it, with no trip
// through the loop.
//
// Awaiting a task runs it at once, on the awaiting coroutine's stack, until
// it ends or first suspends.  A task that ends at once lets its awaiter go on
// without any transfer of control, so a loop that awaits many tasks which
// finish at once (a record already buffered, a pipe with room) grows no
// stack, also in builds where the compiler makes no tail call of a symmetric
// transfer (-O0, ASan at -O1: such a loop once overflowed the stack there).
// A task that suspended resumes its awaiter when it ends, by symmetric
// transfer.  The price: a chain of tasks awaiting tasks holds a small frame a
// level while it runs, as ordinary recursion does.
#pragma once
#include <atomic>
#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace conc {

template <class T = void>
class task;

namespace detail {

struct task_promise_base {
    std::coroutine_handle<> continuation = std::noop_coroutine();
    std::exception_ptr error;
    // start_task's handshake with the end of the task.
    enum : int { transfer, running_inline, ended_inline };
    std::atomic<int> inline_state{transfer};

    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            // Ending inside start_task: back to it, which lets the awaiter go on.
            int expected = running_inline;
            if (h.promise().inline_state.compare_exchange_strong(expected, ended_inline, std::memory_order_acq_rel))
                return std::noop_coroutine();
            return h.promise().continuation;
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct task_promise : task_promise_base {
    std::variant<std::monostate, T> value;
    task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v) { value.template emplace<1>(std::forward<U>(v)); }
    T take() {
        if (error) std::rethrow_exception(error);
        return std::move(std::get<1>(value));
    }
};

template <>
struct task_promise<void> : task_promise_base {
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {
        if (error) std::rethrow_exception(error);
    }
};

// For an awaiter of the task h, in the awaiting coroutine's await_suspend:
// runs h here until it ends or first suspends, and returns what
// await_suspend returns: true when h suspended (it resumes `awaiting` when it
// ends), false when it has ended (`awaiting` goes on at once).
template <class P>
bool start_task(std::coroutine_handle<P> h, std::coroutine_handle<> awaiting) noexcept {
    task_promise_base& p = h.promise();
    p.continuation = awaiting;
    p.inline_state.store(task_promise_base::running_inline, std::memory_order_relaxed);
    h.resume();
    // h may have suspended and been resumed on another thread already: the
    // exchange decides who goes on with `awaiting`.
    int expected = task_promise_base::running_inline;
    return p.inline_state.compare_exchange_strong(expected, task_promise_base::transfer, std::memory_order_acq_rel);
}

}  // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using value_type = T;

    task() noexcept = default;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() {
        if (h_) h_.destroy();
    }

    bool valid() const noexcept { return bool(h_); }
    bool done() const noexcept { return !h_ || h_.done(); }

    auto operator co_await() && noexcept {
        struct awaiter {
            std::coroutine_handle<promise_type> h;
            bool await_ready() const noexcept { return !h || h.done(); }
            bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
                return detail::start_task(h, awaiting);
            }
            T await_resume() { return h.promise().take(); }
        };
        return awaiter{h_};
    }
    auto operator co_await() & noexcept { return std::move(*this).operator co_await(); }

    // For the loop: the coroutine itself.
    std::coroutine_handle<promise_type> handle() const noexcept { return h_; }

private:
    std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace conc
