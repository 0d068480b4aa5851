// conc::timer: threading.Timer.
#include <criterion/criterion.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "conc/error.hpp"
#include "conc/timer.hpp"

using namespace std::chrono_literals;

Test(timer, runs_its_function_once_after_the_interval) {
    for (int round = 0; round < 50; ++round) {
        std::atomic<int> runs{0};
        auto t0 = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point at;
        conc::timer t(5ms, [&] { at = std::chrono::steady_clock::now(); ++runs; });
        cr_assert(!t.is_alive());
        t.start();
        t.join();
        cr_assert_eq(runs.load(), 1);
        cr_assert(t.fired() && !t.is_alive());
        cr_assert(at - t0 >= 5ms, "not before the interval");
    }
}

Test(timer, cancel_before_the_interval_means_it_never_runs) {
    for (int round = 0; round < 200; ++round) {
        std::atomic<int> runs{0};
        conc::timer t(1h, [&] { ++runs; });
        t.start();
        cr_assert(t.is_alive());
        t.cancel();
        t.join();   // at once: the wait ends with the cancel
        cr_assert_eq(runs.load(), 0);
        cr_assert(!t.fired() && !t.is_alive());
    }
}

Test(timer, cancel_from_another_thread_races_safely_with_the_deadline) {
    // Whichever wins, the function runs at most once and fired() says which.
    for (int round = 0; round < 300; ++round) {
        std::atomic<int> runs{0};
        conc::timer t(std::chrono::microseconds(round % 7 * 50), [&] { ++runs; });
        t.start();
        std::thread other([&] { t.cancel(); });
        other.join();
        t.join();
        cr_assert_eq(runs.load(), t.fired() ? 1 : 0);
    }
}

Test(timer, the_destructor_cancels_and_joins) {
    std::atomic<int> runs{0};
    {
        conc::timer t(1h, [&] { ++runs; });
        t.start();
    }   // would hang for an hour if it did not cancel
    {
        conc::timer never_started(1ms, [&] { ++runs; });
    }
    cr_assert_eq(runs.load(), 0);
}

Test(timer, start_twice_and_join_from_inside_are_errors) {
    conc::timer t(0ms, [] {});
    t.start();
    cr_assert_throw(t.start(), std::logic_error);
    t.join();

    std::atomic<bool> threw{false};
    conc::timer* self = nullptr;
    conc::timer u(0ms, [&] {
        try {
            self->join();
        } catch (const std::logic_error&) {
            threw = true;
        }
    });
    self = &u;
    u.start();
    u.join();
    cr_assert(threw.load());
}

static std::atomic<int> reported{0};

Test(timer, an_exception_goes_to_the_callback_handler) {
    auto prev = conc::set_callback_error_handler([](std::exception_ptr) { ++reported; });
    conc::timer t(0ms, [] { throw std::runtime_error("x"); });
    t.start();
    t.join();
    conc::set_callback_error_handler(prev);
    cr_assert_eq(reported.load(), 1);
    cr_assert(t.fired());
}
