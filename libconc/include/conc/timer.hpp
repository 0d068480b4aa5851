// conc/timer.hpp: a function run on a thread of its own after an interval,
// unless cancelled first: Python's threading.Timer.
//
//     conc::timer t(std::chrono::seconds(30), [] { std::puts("still running"); });
//     t.start();
//     ... work ...
//     t.cancel();          // from any thread; the function will not run
//
// On a loop, loop::call_later does the same without a thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace conc {

class timer {
public:
    template <class Rep, class Period>
    timer(std::chrono::duration<Rep, Period> interval, std::function<void()> fn)
        : interval_(std::chrono::duration_cast<std::chrono::nanoseconds>(interval)), fn_(std::move(fn)) {}
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;
    // Cancels the timer and waits for its thread (and the function, if it
    // has begun).  The function must not destroy its own timer.
    ~timer();

    // start, join and the destructor belong to the thread that owns the
    // timer; cancel, is_alive and fired may be called from any thread.
    // Starts the thread; the interval counts from here.  Throws
    // std::logic_error if started twice.
    void start();
    // Thread-safe: if the function has not begun, it never will.  Does not
    // wait; a function already running goes on.
    void cancel() noexcept;
    // Waits until the thread has ended (at once if never started).  Throws
    // std::logic_error if called from the timer's own function.
    void join();
    // Started and not yet ended (threading.Thread.is_alive).
    bool is_alive() const;
    // The function ran (it may have thrown: see set_callback_error_handler).
    bool fired() const;

private:
    void body();

    std::chrono::nanoseconds interval_;
    std::function<void()> fn_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool started_ = false;
    bool cancelled_ = false;
    bool fired_ = false;
    bool ended_ = false;
    std::thread thread_;
};

}  // namespace conc
