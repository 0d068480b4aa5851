// executor.hpp: blocking work on a thread_pool, awaited from the loop.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conc/executor.hpp"
#include "conc/wait.hpp"
#include "coro_test.hpp"

using namespace conc;
using namespace std::chrono_literals;

// Coroutine lambdas take their state as parameters, not captures (see
// loop_test.cpp): a spawned task outlives the closure that made it.

// Waits, without blocking the loop, until flag is set (by a pool thread).
static task<void> until_set(const std::atomic<bool>& flag) {
    while (!flag.load()) co_await loop::current().sleep_for(1ms);
}

static int blocking_square(int x) {
    if (x % 7 == 0) ::usleep(100);   // some of them really block
    return x * x;
}

static task<void> worker(thread_pool& pool, int first, int count, std::vector<int>& seen,
                         std::thread::id loop_thread, int& wrong_thread) {
    for (int i = first; i < first + count; ++i) {
        int r = co_await run_in_executor(pool, blocking_square, i);
        if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
        if (r == i * i) ++seen[std::size_t(i)];
    }
}

CORO_TEST(executor, thousand_blocking_calls_from_a_hundred_tasks_each_result_once) {
    thread_pool pool(4);
    for (int round = 0; round < 5; ++round) {
        loop lp;
        std::vector<int> seen(1000, 0);
        int wrong_thread = 0;
        lp.run([](thread_pool& pool, std::vector<int>& seen, int& wrong_thread) -> task<void> {
            std::vector<task<void>> ts;
            for (int t = 0; t < 100; ++t)
                ts.push_back(worker(pool, t * 10, 10, seen, std::this_thread::get_id(), wrong_thread));
            co_await gather(std::move(ts));
        }(pool, seen, wrong_thread));
        for (int i = 0; i < 1000; ++i) CHECK_EQ(seen[std::size_t(i)], 1);
        CHECK_EQ(wrong_thread, 0);
        CHECK_EQ(lp.pending_jobs(), 0u);
    }
}

CORO_TEST(executor, exceptions_travel_from_the_pool_thread_to_the_awaiting_task) {
    thread_pool pool(2);
    loop lp;
    std::string got = lp.run([](thread_pool& pool) -> task<std::string> {
        try {
            co_await run_in_executor(pool, []() -> int { throw std::runtime_error("disk on fire"); });
        } catch (const std::runtime_error& e) {
            co_return std::string(e.what());
        }
        co_return "nothing thrown";
    }(pool));
    CHECK_EQ(got, std::string("disk on fire"));
    // And out of loop::run when nobody catches it.
    bool thrown = false;
    try {
        lp.run(run_in_executor(pool, [] { throw std::out_of_range("x"); }));
    } catch (const std::out_of_range&) {
        thrown = true;
    }
    CHECK(thrown);
}

CORO_TEST(executor, wrap_future_returns_a_copy_and_handles_done_and_cancelled_futures) {
    thread_pool pool(2);
    loop lp;
    auto f = pool.submit([] { return std::string(100, 'a'); });
    std::string a = lp.run(
        [](future<std::string> f) -> task<std::string> { co_return co_await wrap_future(f); }(f));
    CHECK_EQ(a, std::string(100, 'a'));
    CHECK_EQ(f.get(), std::string(100, 'a'));   // still there: wrap_future copied it
    // Already done: no suspension at all.
    std::string b = lp.run(
        [](future<std::string> f) -> task<std::string> { co_return co_await wrap_future(f); }(f));
    CHECK_EQ(b, a);
    // A promise fulfilled by another thread.
    promise<int> pr;
    std::thread t([&] {
        std::this_thread::sleep_for(5ms);
        pr.set_value(42);
    });
    int c = lp.run([](future<int> f) -> task<int> { co_return co_await wrap_future(f); }(pr.get_future()));
    t.join();
    CHECK_EQ(c, 42);
    // A cancelled future: future_cancelled.
    promise<int> never;
    auto nf = never.get_future();
    nf.cancel();
    bool got_cancelled = false;
    try {
        lp.run([](future<int> f) -> task<int> { co_return co_await wrap_future(f); }(nf));
    } catch (const future_cancelled&) {
        got_cancelled = true;
    }
    CHECK(got_cancelled);
    // void
    lp.run(run_in_executor(pool, [] {}));
}

// The work blocks until `release` is set; `started` tells the test it runs.
static void gated_work(std::atomic<bool>* started, std::atomic<bool>* release, std::atomic<int>* finished) {
    started->store(true);
    while (!release->load()) std::this_thread::sleep_for(1ms);
    finished->fetch_add(1);
}

CORO_TEST(executor, cancelling_the_awaiting_task_while_the_work_runs_leaves_nothing_dangling) {
    for (int round = 0; round < 20; ++round) {
        thread_pool pool(1);
        std::atomic<bool> started{false}, release{false};
        std::atomic<int> finished{0};
        bool saw_cancel = false;
        {
            loop lp;
            lp.run([](thread_pool& pool, std::atomic<bool>& started, std::atomic<bool>& release,
                      std::atomic<int>& finished, bool& saw_cancel, int round) -> task<void> {
                auto& l = loop::current();
                auto j = l.spawn(run_in_executor(pool, gated_work, &started, &release, &finished));
                co_await until_set(started);
                j.cancel();
                try {
                    co_await j;
                } catch (const cancelled_error&) {
                    saw_cancel = true;
                }
                CHECK(j.cancelled());
                // The work is still running; the loop keeps going without it.
                co_await l.sleep_for(std::chrono::microseconds(round * 50));
                if (round % 2) release.store(true);   // half the time it ends while the loop runs
                co_await l.sleep_for(2ms);
            }(pool, started, release, finished, saw_cancel, round));
            CHECK(saw_cancel);
        }   // the loop is gone; the other half of the time the work ends after this
        release.store(true);
        pool.shutdown(true);   // the done-callback has run by now
        CHECK_EQ(finished.load(), 1);
    }
}

CORO_TEST(executor, cancelling_the_awaiting_task_cancels_work_not_yet_started) {
    thread_pool pool(1);
    std::atomic<bool> started{false}, release{false};
    std::atomic<int> finished{0};
    loop lp;
    auto blocker = pool.submit(gated_work, &started, &release, &finished);
    std::atomic<bool> never_started{false}, never_release{true};
    auto queued = pool.submit(gated_work, &never_started, &never_release, &finished);
    lp.run([](future<void> queued, std::atomic<bool>& started) -> task<void> {
        auto& l = loop::current();
        co_await until_set(started);   // the only thread is busy: `queued` waits in the queue
        auto j = l.spawn([](future<void> f) -> task<void> { co_await wrap_future(f); }(queued));
        co_await l.yield();
        co_await l.yield();
        j.cancel();
        std::vector<job<void>> js{j};
        co_await wait(js);
        CHECK(j.cancelled());
    }(queued, started));
    CHECK(queued.cancelled());
    release.store(true);
    blocker.get();
    CHECK_EQ(finished.load(), 1);
    CHECK(!never_started.load());
}

CORO_TEST(executor, a_cancel_that_arrives_before_the_wait_cancels_the_future) {
    promise<int> pr;
    auto f = pr.get_future();
    loop lp;
    lp.run([](future<int> f) -> task<void> {
        auto& l = loop::current();
        auto j = l.spawn([](future<int> f) -> task<int> {
            co_await loop::current().yield();   // cancelled while it stands in the ready queue
            co_return co_await wrap_future(f);
        }(f));
        co_await l.yield();   // j runs up to its yield
        j.cancel();
        std::vector<job<int>> js{j};
        co_await wait(js);
        CHECK(j.cancelled());
    }(f));
    CHECK(f.cancelled());
}
