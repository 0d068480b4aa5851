#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <future>
#include <numeric>
#include <memory>
#include <random>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conc/pool.hpp"

using namespace conc;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
static constexpr std::size_t scale = 10;  // sanitizers are slow; the invariants stay
#else
static constexpr std::size_t scale = 1;
#endif

// A gate that tasks wait on, opened by the test: no sleeps.
struct gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void wait() {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return open; });
    }
    void release() {
        {
            std::lock_guard lk(m);
            open = true;
        }
        cv.notify_all();
    }
};

static void spin_until(const std::atomic<int>& v, int target) {
    while (v.load() < target) std::this_thread::yield();
}

// ------------------------------------------------------------------ thread_pool

Test(thread_pool, million_tasks_each_result_seen_once) {
    const std::size_t n = 1000000 / scale;
    thread_pool pool(4);
    std::vector<std::atomic<unsigned char>> ran(n);
    std::vector<future<std::size_t>> fs;
    fs.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        fs.push_back(pool.submit([&ran](std::size_t k) { ran[k].fetch_add(1); return k * 3; }, i));
    unsigned long long sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        cr_assert_eq(fs[i].get(), i * 3);
        sum += fs[i].get();
    }
    for (std::size_t i = 0; i < n; ++i) cr_assert_eq(ran[i].load(), 1, "task %zu ran %d times", i, ran[i].load());
    cr_assert_eq(sum, 3ull * n * (n - 1) / 2);
}

Test(thread_pool, exceptions_propagate_through_get) {
    thread_pool pool(2);
    for (int round = 0; round < 100; ++round) {
        auto f = pool.submit([](int x) -> int { if (x % 2) throw std::runtime_error("odd " + std::to_string(x)); return x; }, round);
        if (round % 2) {
            try {
                f.get();
                cr_assert_fail("get() did not throw");
            } catch (const std::runtime_error& e) {
                cr_assert_eq(std::string(e.what()), "odd " + std::to_string(round));
            }
            cr_assert(f.exception() != nullptr);
        } else {
            cr_assert_eq(f.get(), round);
            cr_assert(f.exception() == nullptr);
        }
    }
    auto v = pool.submit([] { throw std::logic_error("void task"); });
    cr_assert_throw(v.get(), std::logic_error);
}

Test(thread_pool, imap_rethrows_at_the_failing_position_and_goes_on) {
    thread_pool pool(2);
    std::vector<int> in(100);
    std::iota(in.begin(), in.end(), 0);
    auto r = pool.imap([](int x) { if (x == 42) throw std::runtime_error("42"); return x; }, in);
    int pos = 0, errors = 0;
    for (auto it = r.begin(); it != r.end(); ++it, ++pos) {
        try {
            cr_assert_eq(*it, pos);
        } catch (const std::runtime_error&) {
            cr_assert_eq(pos, 42);
            ++errors;
        }
    }
    cr_assert_eq(pos, 100);
    cr_assert_eq(errors, 1);
    cr_assert_throw(pool.map([](int x) { if (x == 7) throw std::runtime_error("7"); return x; }, in), std::runtime_error);
}

Test(thread_pool, shutdown_wait_runs_every_pending_task) {
    for (int round = 0; round < 50; ++round) {
        std::atomic<int> count{0}, started{0};
        gate g;
        std::vector<future<int>> fs;
        {
            thread_pool pool(2);
            for (int i = 0; i < 2; ++i) pool.submit([&] { ++started; g.wait(); });
            for (int i = 0; i < 100; ++i) fs.push_back(pool.submit([&, i] { ++count; return i; }));
            std::thread opener([&] { spin_until(started, 2); g.release(); });
            pool.shutdown(true, false);
            opener.join();
            cr_assert_eq(count.load(), 100);
            cr_assert_throw(pool.submit([] {}), std::runtime_error);
        }
        for (int i = 0; i < 100; ++i) {
            cr_assert(fs[i].done());
            cr_assert_eq(fs[i].get(), i);
        }
    }
}

Test(thread_pool, shutdown_cancel_pending_cancels_what_has_not_started) {
    for (int round = 0; round < 50; ++round) {
        std::atomic<int> count{0}, started{0};
        std::atomic<int> callbacks{0};
        gate g;
        thread_pool pool(2);
        std::vector<future<void>> blockers;
        for (int i = 0; i < 2; ++i) blockers.push_back(pool.submit([&] { ++started; g.wait(); }));
        spin_until(started, 2);  // both threads are busy: what follows stays pending
        std::vector<future<int>> fs;
        for (int i = 0; i < 100; ++i) {
            fs.push_back(pool.submit([&] { ++count; return 1; }));
            fs.back().add_done_callback([&](const future<int>& f) { if (f.cancelled()) ++callbacks; });
        }
        pool.shutdown(false, true);
        for (auto& f : fs) {
            cr_assert(f.done());
            cr_assert(f.cancelled());
            cr_assert_throw(f.get(), future_cancelled);
        }
        cr_assert_eq(callbacks.load(), 100);
        for (auto& b : blockers) cr_assert(!b.cancelled());
        g.release();
        pool.shutdown(true);
        for (auto& b : blockers) b.get();
        cr_assert_eq(count.load(), 0);
    }
}

static void busy_for_us(unsigned us) {
    auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
    while (std::chrono::steady_clock::now() < end) {
    }
}

Test(thread_pool, imap_keeps_order_with_random_durations) {
    thread_pool pool(3);
    std::mt19937 rng(12345);
    for (int round = 0; round < 20; ++round) {
        std::size_t n = 2000 / scale + rng() % 500;
        std::vector<unsigned> in(n);
        for (auto& d : in) d = rng() % 30;
        std::size_t chunk = 1 + rng() % 8;
        auto f = [](unsigned d) {
            if (d % 3 == 0)
                std::this_thread::sleep_for(std::chrono::microseconds(d));
            else
                busy_for_us(d);
            return d * 2 + 1;
        };
        std::size_t i = 0;
        for (unsigned r : pool.imap(f, in, chunk)) {
            cr_assert_eq(r, in[i] * 2 + 1, "round %d position %zu", round, i);
            ++i;
        }
        cr_assert_eq(i, n);
        std::multiset<unsigned> want, got;
        for (unsigned d : in) want.insert(d * 2 + 1);
        for (unsigned r : pool.imap_unordered(f, in, chunk)) got.insert(r);
        cr_assert(want == got);
        auto m = pool.map(f, in);
        for (std::size_t k = 0; k < n; ++k) cr_assert_eq(m[k], in[k] * 2 + 1);
    }
}

Test(thread_pool, imap_is_lazy_over_an_endless_range) {
    thread_pool pool(2);
    std::atomic<long> calls{0};
    long consumed = 0;
    for (long v : pool.imap([&](long x) { ++calls; return x * x; }, std::views::iota(0L), 10)) {
        cr_assert_eq(v, consumed * consumed);
        if (++consumed == 5000) break;
    }
    // Only a bounded window of chunks runs ahead of the consumer.
    cr_assert_leq(calls.load(), consumed + 10 * long(4 * pool.size() + 2));
}

static long fib_on(thread_pool& pool, int n) {
    if (n < 2) return n;
    auto a = pool.submit([&pool, n] { return fib_on(pool, n - 1); });
    auto b = pool.submit([&pool, n] { return fib_on(pool, n - 2); });
    return a.get() + b.get();
}

Test(thread_pool, task_that_submits_to_its_own_pool_and_waits_does_not_deadlock) {
    for (unsigned threads : {1u, 2u, 4u}) {
        thread_pool pool(threads);
        for (int round = 0; round < 5; ++round) {
            auto f = pool.submit([&pool] { return fib_on(pool, 15); });
            cr_assert_eq(f.get(), 610);
        }
        // imap and imap_unordered from inside a task of the same pool
        auto g = pool.submit([&pool] {
            std::vector<int> in(200);
            std::iota(in.begin(), in.end(), 0);
            long s = 0;
            for (int v : pool.imap([](int x) { return x + 1; }, in, 3)) s += v;
            for (int v : pool.imap_unordered([](int x) { return x + 1; }, in, 3)) s += v;
            return s;
        });
        cr_assert_eq(g.get(), 2 * 20100);
    }
}

Test(thread_pool, add_done_callback_before_and_after_completion) {
    thread_pool pool(2);
    for (int round = 0; round < 200; ++round) {
        gate g;
        auto f = pool.submit([&] { g.wait(); return round; });
        std::promise<int> seen;
        f.add_done_callback([&](const future<int>& d) { seen.set_value(d.get()); });
        g.release();
        cr_assert_eq(seen.get_future().get(), round);

        // already done: called at once, on this thread
        f.wait();
        auto me = std::this_thread::get_id();
        bool called = false;
        f.add_done_callback([&](const future<int>& d) {
            called = std::this_thread::get_id() == me && d.get() == round;
        });
        cr_assert(called);
    }
    // from many threads at once, racing completion: each callback runs exactly once
    std::atomic<int> calls{0};
    for (int round = 0; round < 200; ++round) {
        auto f = pool.submit([] { return 1; });
        std::vector<std::thread> ts;
        for (int t = 0; t < 3; ++t) ts.emplace_back([&] { f.add_done_callback([&](auto&) { ++calls; }); });
        for (auto& t : ts) t.join();
        f.wait();
    }
    cr_assert_eq(calls.load(), 600);
}

// Issue 12, defect 3: an exception out of a done-callback goes to the callback
// error handler (by default one line on stderr); the future's value is
// unaffected and the other callbacks still run, whether the callback runs on
// the finishing thread or, the future being done, on the caller's.
Test(thread_pool, a_throwing_done_callback_is_reported_on_stderr_and_the_others_run, .init = cr_redirect_stderr) {
    std::atomic<int> ran{0};
    promise<int> p;
    auto f = p.get_future();
    f.add_done_callback([](const future<int>&) { throw std::runtime_error("boom"); });
    f.add_done_callback([&](const future<int>& d) { ran += d.get(); });
    p.set_value(5);
    cr_assert_eq(f.get(), 5);
    cr_assert_eq(ran.load(), 5);
    // already done: the callback runs now, on this thread, and nothing is thrown here
    f.add_done_callback([](const future<int>&) { throw 42; });
    f.add_done_callback([&](const future<int>& d) { ran += d.get(); });
    cr_assert_eq(ran.load(), 10);
    cr_assert_eq(f.get(), 5);
    // on a pool thread
    thread_pool pool(1);
    gate g;
    auto t = pool.submit([&] { g.wait(); return 7; });
    t.add_done_callback([](const future<int>& d) { throw std::logic_error("late " + std::to_string(d.get())); });
    t.add_done_callback([&](const future<int>& d) { ran += d.get(); });
    g.release();
    cr_assert_eq(t.get(), 7);
    pool.shutdown();
    cr_assert_eq(ran.load(), 17);
    std::fflush(stderr);
    cr_assert_stderr_eq_str("libconc: exception in done callback: boom\n"
                            "libconc: exception in done callback: unknown exception\n"
                            "libconc: exception in done callback: late 7\n");
}

static std::string square(std::string_view s);  // the fork_pool tests' function, below

namespace {
std::atomic<int> callback_errors{0};
void count_callback_error(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::runtime_error& x) {
        if (std::string(x.what()) == "cb") ++callback_errors;
    }
}
}  // namespace

Test(thread_pool, set_callback_error_handler_gets_every_callback_exception_on_any_thread) {
    auto previous = set_callback_error_handler(count_callback_error);
    cr_assert(previous != nullptr);
    const int n = 2000;
    std::atomic<int> others{0};
    long sum = 0;
    {
        thread_pool pool(2);
        std::vector<future<int>> fs;
        for (int i = 0; i < n; ++i) {
            fs.push_back(pool.submit([](int x) { return x; }, i));
            fs.back().add_done_callback([](const future<int>&) { throw std::runtime_error("cb"); });
            fs.back().add_done_callback([&](const future<int>&) { ++others; });
        }
        for (auto& f : fs) sum += f.get();
    }  // joined: every callback has run
    fork_pool procs(square, 2);
    for (int i = 0; i < 100; ++i) {
        auto f = procs.apply_async(std::to_string(i));
        f.add_done_callback([](const future<std::string>&) { throw std::runtime_error("cb"); });
        cr_assert_eq(f.get(), std::to_string(i * i));
        f.add_done_callback([](const future<std::string>&) { throw std::runtime_error("cb"); });
    }
    procs.close();
    procs.join();  // the I/O thread, which runs the callbacks of fork_pool futures, is done
    cr_assert_eq(sum, long(n) * (n - 1) / 2);
    cr_assert_eq(others.load(), n);
    cr_assert_eq(callback_errors.load(), n + 200);
    // a handler that throws itself: dropped
    set_callback_error_handler([](std::exception_ptr) { throw 1; });
    promise<int> p;
    p.get_future().add_done_callback([](const future<int>&) { throw 2; });
    p.set_value(1);
    cr_assert_eq(p.get_future().get(), 1);
    cr_assert(set_callback_error_handler(nullptr) != count_callback_error);
    cr_assert(set_callback_error_handler(previous) == previous);  // nullptr restored the default
}

Test(thread_pool, wait_for_and_cancel) {
    thread_pool pool(1);
    gate g;
    std::atomic<int> started{0};
    auto blocker = pool.submit([&] {
        started = 1;
        g.wait();
    });
    spin_until(started, 1);   // running now: cancel() must refuse it
    cr_assert(!blocker.wait_for(std::chrono::milliseconds(1)));
    auto queued = pool.submit([] { return 5; });
    cr_assert(queued.cancel());
    cr_assert(queued.cancelled());
    cr_assert(!blocker.cancel());  // already running
    g.release();
    cr_assert(blocker.wait_for(std::chrono::hours(1)));
    cr_assert(blocker.done());
}

// ------------------------------------------------------------------ fork_pool

static std::string square(std::string_view s) {
    long v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    if (s == "kill") ::raise(SIGKILL);
    if (s == "exit3") ::_exit(3);
    if (s == "throw") throw std::runtime_error("bad input");
    if (s == "pid") return std::to_string(::getpid());
    return std::to_string(v * v);
}

static int count_fds() {
    int n = 0;
    DIR* d = opendir("/proc/self/fd");
    while (readdir(d)) ++n;
    closedir(d);
    return n;
}

static bool no_children() {
    return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

Test(fork_pool, imap_equals_sequential_map) {
    const std::size_t n = 100000 / scale;
    std::vector<std::string> in(n);
    for (std::size_t i = 0; i < n; ++i) in[i] = std::to_string(i);
    fork_pool pool(square, 2);
    for (std::size_t chunk : {std::size_t(1), std::size_t(1000)}) {
        std::size_t i = 0;
        for (auto& r : pool.imap(in, chunk)) {
            cr_assert_eq(r, square(in[i]), "chunksize %zu item %zu", chunk, i);
            ++i;
        }
        cr_assert_eq(i, n);
        std::set<std::string> want, got;
        for (std::size_t k = 0; k < n; k += 7) want.insert(square(in[k]));
        std::size_t seen = 0;
        for (auto& r : pool.imap_unordered(in, chunk)) {
            ++seen;
            if (want.count(r)) got.insert(r);
        }
        cr_assert_eq(seen, n);
        cr_assert(want == got);
    }
    auto m = pool.map(in);
    cr_assert_eq(m.size(), n);
    for (std::size_t k = 0; k < n; ++k) cr_assert_eq(m[k], square(in[k]));
    cr_assert_eq(pool.apply("12"), "144");
}

// Every length around the inline copies' edges (0-3, 4-7, 8-16, SSO's 15),
// and items long enough to outgrow a chunk's first frame buffer.
Test(fork_pool, imap_carries_items_and_results_of_every_length) {
    auto reverse = [](std::string_view s) { return std::string(s.rbegin(), s.rend()) + "!"; };
    std::vector<std::string> in;
    for (std::size_t len = 0; len <= 70; ++len)
        for (char c = 'a'; c < 'a' + 3; ++c) {
            std::string s(len, c);
            for (std::size_t k = 0; k < len; ++k) s[k] = char(c + k % 23);
            in.push_back(s);
        }
    for (std::size_t len : {200, 5000, 70000}) in.push_back(std::string(len, 'x') + "y");
    fork_pool pool(reverse, 2);
    for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(1000)}) {
        std::size_t i = 0;
        for (auto& r : pool.imap(in, chunk)) {
            cr_assert_eq(r, reverse(in[i]), "chunksize %zu item %zu", chunk, i);
            ++i;
        }
        cr_assert_eq(i, in.size());
    }
}

// Frames larger than a pipe holds, several queued on a worker at once: the
// frames go out in pieces (the writer waits for room in the middle of one),
// a reply is read in many blocks, and the worker's and the parent's buffers
// grow to hold a whole frame.  Small items between them keep their order.
Test(fork_pool, frames_larger_than_the_pipes_arrive_whole_and_in_order) {
    auto reverse = [](std::string_view s) { return std::string(s.rbegin(), s.rend()); };
    std::vector<std::string> in;
    for (int i = 0; i < 30; ++i)
        in.push_back(i % 3 == 0 ? std::string(std::size_t(3) << 20, char('a' + i % 26)) + std::to_string(i)
                                : std::to_string(i));
    fork_pool pool(reverse, 2, {.tasks_ahead = 4});
    for (std::size_t chunk : {std::size_t(1), std::size_t(4)}) {
        std::size_t i = 0;
        for (auto& r : pool.imap(in, chunk)) {
            cr_assert(r == reverse(in[i]), "chunksize %zu item %zu", chunk, i);
            ++i;
        }
        cr_assert_eq(i, in.size());
    }
}

Test(fork_pool, worker_killed_mid_task_fails_only_its_task) {
    fork_pool pool(square, 2);
    for (int round = 0; round < 5; ++round) {
        std::vector<future<std::string>> fs;
        for (int i = 0; i < 300; ++i) fs.push_back(pool.apply_async(i == 100 ? "kill" : i == 200 ? "exit3" : std::to_string(i)));
        for (int i = 0; i < 300; ++i) {
            if (i == 100 || i == 200) {
                try {
                    fs[i].get();
                    cr_assert_fail("task %d should have failed", i);
                } catch (const worker_died& e) {
                    cr_assert_str_eq(e.what(), i == 100 ? "worker died: killed by signal 9" : "worker exited with status 3");
                }
            } else {
                cr_assert_eq(fs[i].get(), std::to_string(i * i));
            }
        }
        // chunks: only the chunk with the crash fails, at each of its positions
        std::vector<std::string> in;
        for (int i = 0; i < 1000; ++i) in.push_back(i == 555 ? "kill" : std::to_string(i));
        int pos = 0, failed = 0;
        auto r = pool.imap(in, 10);
        for (auto it = r.begin(); it != r.end(); ++it, ++pos) {
            try {
                cr_assert_eq(*it, std::to_string(pos * pos));
            } catch (const worker_died&) {
                cr_assert(pos >= 550 && pos < 560);
                ++failed;
            }
        }
        cr_assert_eq(pos, 1000);
        cr_assert_eq(failed, 10);
    }
}

Test(fork_pool, exception_in_function_reaches_the_caller) {
    fork_pool pool(square, 2);
    try {
        pool.apply("throw");
        cr_assert_fail("no exception");
    } catch (const remote_error& e) {
        cr_assert_str_eq(e.what(), "bad input");
    }
    cr_assert_eq(pool.apply("3"), "9");  // the worker lives on
}

Test(fork_pool, maxtasksperchild_renews_workers) {
    fork_pool pool(square, 2, {.maxtasksperchild = 5});
    std::vector<std::string> in(200, "pid");
    auto pids = pool.map(in, 1);
    std::set<std::string> distinct(pids.begin(), pids.end());
    cr_assert_geq(distinct.size(), 200u / 5);
    for (auto& p : pids) cr_assert_neq(std::stol(p), long(::getpid()));
}

Test(fork_pool, close_join_finishes_queued_work) {
    fork_pool pool(square, 2);
    std::vector<future<std::string>> fs;
    for (int i = 0; i < 500; ++i) fs.push_back(pool.apply_async(std::to_string(i)));
    pool.close();
    cr_assert_throw(pool.apply_async("1"), std::runtime_error);
    pool.join();
    for (int i = 0; i < 500; ++i) cr_assert_eq(fs[i].get(), std::to_string(i * i));
    cr_assert(no_children());
}

Test(fork_pool, terminate_fails_what_is_unfinished) {
    fork_pool pool([](std::string_view s) {
        if (s == "hang") ::pause();
        return std::string(s);
    }, 1);
    auto a = pool.apply_async("hang");
    std::vector<future<std::string>> rest;
    for (int i = 0; i < 10; ++i) rest.push_back(pool.apply_async("x"));
    pool.terminate();
    pool.join();
    cr_assert_throw(a.get(), std::runtime_error);
    for (auto& f : rest) cr_assert_throw(f.get(), std::runtime_error);
    cr_assert(no_children());
}

Test(fork_pool, no_child_and_no_fd_left_after_any_sequence) {
    cr_assert(no_children());
    int before = count_fds();
    for (int round = 0; round < 10; ++round) {
        {
            fork_pool pool(square, 2, {.maxtasksperchild = unsigned(1 + round % 3)});
            fork_pool other(square, 1);  // a second pool: its workers must not hold ours
            auto k = pool.apply_async("kill");
            std::vector<std::string> in(50, "7");
            auto m = pool.map(in, 3);
            for (auto& s : m) cr_assert_eq(s, "49");
            cr_assert_throw(k.get(), worker_died);
            cr_assert_eq(other.apply("5"), "25");
            if (round % 2) {
                pool.close();
                pool.join();
            }
            // an abandoned imap
            auto r = other.imap(in, 1);
            cr_assert_eq(*r.begin(), "49");
        }
        cr_assert(no_children(), "round %d left a child", round);
        cr_assert_eq(count_fds(), before, "round %d leaked an fd", round);
    }
}

// Issue 12, defect 1: elements produced by value (a transform yielding
// std::string) must be held while they are copied into the frame.
Test(fork_pool, imap_over_a_range_of_temporaries_copies_each_element_whole) {
    fork_pool pool([](std::string_view s) { return std::string(s); }, 2);
    auto make = [](std::size_t i) { return std::string(40, char('a' + i % 26)) + std::to_string(i); };
    auto items = std::views::iota(std::size_t(0), std::size_t(2000)) | std::views::transform(make);
    for (std::size_t chunk : {std::size_t(1), std::size_t(7)}) {
        std::size_t i = 0;
        for (auto& r : pool.imap(items, chunk)) {
            cr_assert_eq(r, make(i), "chunksize %zu item %zu", chunk, i);
            ++i;
        }
        cr_assert_eq(i, std::size_t(2000));
    }
    auto m = pool.map(items, 5);
    cr_assert_eq(m.size(), std::size_t(2000));
    for (std::size_t k = 0; k < m.size(); ++k) cr_assert_eq(m[k], make(k));
}

// Issue 12, defect 2: a worker whose function calls exit() ends with _exit
// semantics: stdio flushed, none of the parent's exit handlers or static
// destructors run; its task fails with "worker exited with status N" and the
// pool replaces it and goes on.  Before the fix the worker hung in the
// destructor of pool.cpp's static wait slots (pthread_cond_destroy).
namespace {
// A static object of the parent's: its destructor must never run in a worker.
struct parent_static {
    pid_t owner = ::getpid();
    int fd = -1;
    ~parent_static() {
        if (::getpid() != owner && fd >= 0) (void)!::write(fd, "D", 1);
    }
};
parent_static witness;

// A file shared by the parent and its workers (O_APPEND, unlinked), read back whole.
struct shared_file {
    int fd;
    shared_file() {
        char path[] = "/tmp/pool_test_XXXXXX";
        fd = ::mkstemp(path);
        cr_assert_geq(fd, 0);
        ::unlink(path);
        ::fcntl(fd, F_SETFL, O_APPEND);
    }
    ~shared_file() { ::close(fd); }
    std::string contents() const {
        std::string s;
        char buf[4096];
        long n;
        for (off_t off = 0; (n = ::pread(fd, buf, sizeof buf, off)) > 0; off += n) s.append(buf, std::size_t(n));
        return s;
    }
};
}  // namespace

Test(fork_pool, worker_calling_exit_fails_only_its_task_and_runs_no_parent_destructor, .timeout = 600) {
    shared_file destructors, out;
    witness.fd = destructors.fd;
    FILE* log = ::fdopen(::dup(out.fd), "a");  // fully buffered: only a flush writes it
    cr_assert(log);
    auto fn = [log](std::string_view s) {
        if (s.starts_with("exit")) {
            std::fprintf(log, "<%.*s>", int(s.size()), s.data());  // left in the buffer for exit()
            std::exit(std::stoi(std::string(s.substr(4))));
        }
        return std::string(s) + "!";
    };
    for (int round = 0; round < 100; ++round) {
        fork_pool pool(fn, 2);
        std::vector<std::string> in;
        for (int i = 0; i < 40; ++i) in.push_back(i % 10 == 3 ? "exit" + std::to_string(i) : std::to_string(i));
        int pos = 0, failed = 0;
        auto r = pool.imap(in);
        for (auto it = r.begin(); it != r.end(); ++it, ++pos) {
            try {
                cr_assert_eq(*it, in[pos] + "!", "round %d item %d", round, pos);
            } catch (const worker_died& e) {
                cr_assert_eq(pos % 10, 3, "round %d item %d failed: %s", round, pos, e.what());
                std::string want = "worker exited with status " + std::to_string(pos);
                cr_assert_eq(std::string(e.what()), want, "round %d item %d", round, pos);
                ++failed;
            }
        }
        cr_assert_eq(pos, 40);
        cr_assert_eq(failed, 4);
        auto zero = pool.apply_async("exit0");
        cr_assert_eq(pool.apply("x"), "x!");
        try {
            zero.get();
            cr_assert_fail("exit(0) in a task did not fail it");
        } catch (const worker_died& e) {
            cr_assert_eq(std::string(e.what()), "worker exited with status 0", "round %d", round);
        }
    }
    cr_assert(no_children());
    std::fclose(log);
    witness.fd = -1;
    cr_assert_eq(destructors.contents(), "", "a parent's static destructor ran in a worker");
    std::string want;
    for (int round = 0; round < 100; ++round) want += "<exit3><exit13><exit23><exit33><exit0>";
    std::string got = out.contents();
    cr_assert_eq(got.size(), want.size(), "stdio of exiting workers: %zu bytes, want %zu", got.size(), want.size());
}

// Issue 12, defect 4: destroying a pool whose submitted tasks have all
// completed closes and joins it (the workers exit normally and flush their
// stdio, as after "with Pool() as p:"); with tasks unfinished it still
// terminates them.
Test(fork_pool, destroying_a_pool_whose_work_is_done_lets_the_workers_flush_their_stdio, .timeout = 600) {
    for (int round = 0; round < 100; ++round) {
        shared_file out;
        FILE* log = ::fdopen(::dup(out.fd), "a");  // fully buffered, never flushed by fn
        cr_assert(log);
        std::vector<std::string> in;
        for (int i = 0; i < 20; ++i) in.push_back(std::to_string(round * 100 + i));
        {
            fork_pool pool([log](std::string_view s) {
                std::fprintf(log, "<%.*s>", int(s.size()), s.data());
                return std::string(s);
            }, 2);
            cr_assert(pool.map(in, 1 + round % 3) == in);
            auto last = pool.apply_async("last");
            cr_assert_eq(last.get(), "last");
        }
        std::fclose(log);
        std::string got = out.contents(), want;
        std::multiset<std::string> seen;
        for (std::size_t b = 0; (b = got.find('<', b)) != std::string::npos; ++b)
            seen.insert(got.substr(b + 1, got.find('>', b) - b - 1));
        std::multiset<std::string> expected(in.begin(), in.end());
        expected.insert("last");
        cr_assert(seen == expected, "round %d: the workers wrote '%s'", round, got.c_str());
        cr_assert(no_children(), "round %d left a child", round);
    }
}

Test(fork_pool, destroying_a_pool_with_unfinished_work_terminates_it) {
    for (int round = 0; round < 20; ++round) {
        future<std::string> hung, queued;
        {
            fork_pool pool([](std::string_view s) {
                if (s == "hang") ::pause();
                return std::string(s);
            }, 1);
            cr_assert_eq(pool.apply("x"), "x");
            hung = pool.apply_async("hang");
            queued = pool.apply_async("y");
        }
        for (auto* f : {&hung, &queued}) {
            try {
                f->get();
                cr_assert_fail("round %d: an unfinished task did not fail", round);
            } catch (const std::runtime_error& e) {
                cr_assert_str_eq(e.what(), "fork_pool terminated");
            }
        }
        cr_assert(no_children());
    }
}

// Issue 12, defect 5: in a chunk (chunksize > 1) where one item throws, only
// that item's position rethrows; the other items' results are delivered.
// map rethrows the first exception in input order.
Test(thread_pool, an_item_that_throws_fails_only_its_own_position_in_a_chunk) {
    thread_pool pool(2);
    std::vector<int> in(1000);
    std::iota(in.begin(), in.end(), 0);
    auto fn = [](int x) {
        if (x % 97 == 42) throw std::runtime_error("item " + std::to_string(x));
        return x * 2;
    };
    for (std::size_t chunk : {std::size_t(1), std::size_t(3), std::size_t(10), std::size_t(250)}) {
        int pos = 0, errors = 0;
        auto r = pool.imap(fn, in, chunk);
        for (auto it = r.begin(); it != r.end(); ++it, ++pos) {
            try {
                cr_assert_eq(*it, pos * 2, "chunksize %zu item %d", chunk, pos);
                cr_assert_neq(pos % 97, 42, "chunksize %zu item %d did not throw", chunk, pos);
            } catch (const std::runtime_error& e) {
                cr_assert_eq(std::string(e.what()), "item " + std::to_string(pos), "chunksize %zu item %d", chunk, pos);
                ++errors;
            }
        }
        cr_assert_eq(pos, 1000);
        cr_assert_eq(errors, 10);
        std::multiset<int> got;
        errors = 0;
        auto u = pool.imap_unordered(fn, in, chunk);
        for (auto it = u.begin(); it != u.end(); ++it) {
            try {
                got.insert(*it / 2);
            } catch (const std::runtime_error&) {
                ++errors;
            }
        }
        cr_assert_eq(errors, 10);
        cr_assert_eq(got.size(), 990u);
        for (int x : in) cr_assert_eq(got.count(x), x % 97 == 42 ? 0u : 1u, "chunksize %zu item %d", chunk, x);
        try {
            pool.map(fn, in, chunk);
            cr_assert_fail("map did not throw");
        } catch (const std::runtime_error& e) {
            cr_assert_str_eq(e.what(), "item 42");
        }
    }
}

Test(fork_pool, an_item_that_throws_fails_only_its_own_position_in_a_chunk) {
    fork_pool pool([](std::string_view s) {
        if (s.starts_with("t")) throw std::runtime_error("bad " + std::string(s));
        return std::string(s) + "!";
    }, 2);
    std::vector<std::string> in;
    for (int i = 0; i < 1000; ++i) in.push_back((i % 97 == 42 ? "t" : "") + std::to_string(i));
    for (std::size_t chunk : {std::size_t(1), std::size_t(3), std::size_t(10), std::size_t(250)}) {
        int pos = 0, errors = 0;
        auto r = pool.imap(in, chunk);
        for (auto it = r.begin(); it != r.end(); ++it, ++pos) {
            try {
                cr_assert_eq(*it, in[pos] + "!", "chunksize %zu item %d", chunk, pos);
                cr_assert_neq(pos % 97, 42, "chunksize %zu item %d did not throw", chunk, pos);
            } catch (const remote_error& e) {
                cr_assert_eq(std::string(e.what()), "bad " + in[pos], "chunksize %zu item %d", chunk, pos);
                ++errors;
            }
        }
        cr_assert_eq(pos, 1000);
        cr_assert_eq(errors, 10);
        std::multiset<std::string> got;
        errors = 0;
        auto u = pool.imap_unordered(in, chunk);
        for (auto it = u.begin(); it != u.end(); ++it) {
            try {
                got.insert(*it);
            } catch (const remote_error&) {
                ++errors;
            }
        }
        cr_assert_eq(errors, 10);
        cr_assert_eq(got.size(), 990u);
        for (auto& x : in) cr_assert_eq(got.count(x + "!"), x[0] == 't' ? 0u : 1u, "chunksize %zu item %s", chunk, x.c_str());
        try {
            pool.map(in, chunk);
            cr_assert_fail("map did not throw");
        } catch (const remote_error& e) {
            cr_assert_str_eq(e.what(), "bad t42");
        }
    }
}

// The pools' queues: size, capacity, empty, full (channel<T>'s names).
Test(thread_pool, queue_counts_the_tasks_no_thread_has_taken) {
    for (int round = 0; round < 50; ++round) {
        thread_pool pool(1);
        cr_assert(pool.queue().empty());
        cr_assert_eq(pool.queue().size(), 0u);
        cr_assert_eq(pool.queue().capacity(), std::size_t(-1));
        cr_assert(!pool.queue().full());
        gate g;
        std::atomic<int> started{0};
        auto blocker = pool.submit([&] { ++started; g.wait(); });
        spin_until(started, 1);  // the only thread is busy: what follows stays queued
        std::vector<future<int>> fs;
        for (int i = 0; i < 10; ++i) fs.push_back(pool.submit([i] { return i; }));
        cr_assert_eq(pool.queue().size(), 10u);
        cr_assert(!pool.queue().empty());
        cr_assert(!pool.queue().full());
        cr_assert(fs[3].cancel());  // counts until the thread takes it off
        cr_assert_eq(pool.queue().size(), 10u);
        g.release();
        for (int i = 0; i < 10; ++i)
            if (i != 3) cr_assert_eq(fs[i].get(), i);
        pool.shutdown();
        cr_assert(pool.queue().empty());
    }
    // shutdown(cancel_pending) empties it
    gate g;  // outlives the pool, whose thread waits on it
    std::atomic<int> started{0};
    thread_pool pool(1);
    pool.submit([&] { ++started; g.wait(); });
    spin_until(started, 1);
    for (int i = 0; i < 5; ++i) pool.submit([] {});
    cr_assert_eq(pool.queue().size(), 5u);
    pool.shutdown(false, true);
    cr_assert(pool.queue().empty());
    g.release();
}

Test(fork_pool, queue_counts_the_tasks_not_yet_handed_to_a_worker) {
    // The worker says "started" on one pipe and waits for "go" on another.
    int started[2], go[2];
    cr_assert_eq(::pipe(started), 0);
    cr_assert_eq(::pipe(go), 0);
    {
        fork_pool pool([&](std::string_view s) {
            if (s == "block") {
                char c = 's';
                (void)!::write(started[1], &c, 1);
                (void)!::read(go[0], &c, 1);
            }
            return std::string(s);
        }, 1, {.tasks_ahead = 1});
        for (int round = 0; round < 20; ++round) {
            cr_assert(pool.queue().empty());
            cr_assert(!pool.queue().full());
            cr_assert_eq(pool.queue().capacity(), std::size_t(-1));
            auto b = pool.apply_async("block");
            char c;
            cr_assert_eq(::read(started[0], &c, 1), 1);  // the worker holds "block"
            std::vector<future<std::string>> fs;
            for (int i = 0; i < 10; ++i) fs.push_back(pool.apply_async(std::to_string(i)));
            cr_assert_eq(pool.queue().size(), 10u, "round %d", round);
            cr_assert(!pool.queue().empty());
            cr_assert_eq(::write(go[1], "g", 1), 1);
            cr_assert_eq(b.get(), "block");
            for (int i = 0; i < 10; ++i) cr_assert_eq(fs[i].get(), std::to_string(i));
            cr_assert_eq(pool.queue().size(), 0u, "round %d", round);
        }
    }
    for (int fd : {started[0], started[1], go[0], go[1]}) ::close(fd);
}

// ---------------------------------------------------------------- typed fork_pool (issue 12)

namespace {
struct point {
    std::string name;
    double x, y;
};
}  // namespace
template <>
struct conc::codec<point> {
    static void encode(const point& p, std::string& out) {
        conc::encode(p.name, out);
        conc::encode(p.x, out);
        conc::encode(p.y, out);
    }
    static point decode(std::string_view& in) {
        return point{conc::codec<std::string>::decode(in), conc::codec<double>::decode(in),
                     conc::codec<double>::decode(in)};
    }
};

static long cube(int x) { return long(x) * x * x; }

Test(fork_pool, typed_imap_and_map_give_every_result_once_in_order) {
    const int n = int(20000 / scale);
    std::vector<int> in(n);
    std::iota(in.begin(), in.end(), -n / 2);
    fork_pool pool(2);  // no byte-string function: typed calls only
    for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(1000)}) {
        int i = 0;
        for (long r : pool.imap(cube, in, chunk)) {
            cr_assert_eq(r, cube(in[i]), "chunksize %zu item %d", chunk, i);
            ++i;
        }
        cr_assert_eq(i, n);
        std::vector<long> got;
        for (long r : pool.imap_unordered(cube, in, chunk)) got.push_back(r);
        std::vector<long> want;
        for (int v : in) want.push_back(cube(v));
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        cr_assert(got == want, "imap_unordered, chunksize %zu: not every result exactly once", chunk);
    }
    int k = 3;  // a captured value travels with the lambda
    auto m = pool.map([k](int x) { return std::to_string(x * k); }, in);
    cr_assert_eq(m.size(), std::size_t(n));
    for (int j = 0; j < n; ++j) cr_assert_eq(m[j], std::to_string(in[j] * 3));
    // elements produced by value (a transform), and a range that is not sized
    auto strs = in | std::views::take(500) | std::views::transform([](int x) { return std::string(30, 'x') + std::to_string(x); });
    int j = 0;
    for (auto& r : pool.imap([](const std::string& s) { return s.size(); }, strs, 16))
        cr_assert_eq(r, std::string(30, 'x').size() + std::to_string(in[j++]).size());
    cr_assert_eq(j, 500);
}

Test(fork_pool, typed_calls_carry_strings_vectors_tuples_and_user_types) {
    fork_pool pool(2);
    std::vector<std::vector<int>> vs;
    for (int i = 0; i < 200; ++i) vs.emplace_back(std::size_t(i), i);
    auto sums = pool.map([](const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0L); }, vs, 9);
    for (int i = 0; i < 200; ++i) cr_assert_eq(sums[i], long(i) * i);

    std::vector<std::tuple<std::string, int>> reps;
    for (int i = 0; i < 100; ++i) reps.emplace_back(std::string(1, char('a' + i % 26)), i % 20);
    auto joined = pool.starmap([](std::string s, int n) {
        std::string o;
        for (int r = 0; r < n; ++r) o += s;
        return std::tuple{o, n};
    }, reps, 3);
    for (int i = 0; i < 100; ++i) {
        cr_assert_eq(std::get<0>(joined[i]), std::string(std::size_t(i % 20), char('a' + i % 26)));
        cr_assert_eq(std::get<1>(joined[i]), i % 20);
    }

    std::vector<point> pts{{"a", 1, 2}, {"bee", 3, 4}, {std::string(100, 'c'), -1, 0.5}};
    auto moved = pool.map([](point p) { return point{p.name + "'", p.x + 1, p.y * 2}; }, pts);
    for (std::size_t i = 0; i < pts.size(); ++i) {
        cr_assert_eq(moved[i].name, pts[i].name + "'");
        cr_assert_eq(moved[i].x, pts[i].x + 1);
        cr_assert_eq(moved[i].y, pts[i].y * 2);
    }

    auto prod = pool.submit([](int a, double b, std::string c) { return c + std::to_string(int(a * b)); }, 3, 2.5,
                            std::string("n="));
    cr_assert_eq(prod.get(), "n=7");
    auto nothing = pool.submit([](int) {}, 1);
    nothing.get();
    cr_assert_eq(pool.apply([](std::pair<int, int> p) { return p.first - p.second; }, std::make_tuple(std::pair{9, 4})), 5);
}

Test(fork_pool, typed_items_that_throw_fail_only_their_position) {
    fork_pool pool(2);
    std::vector<int> in(1000);
    std::iota(in.begin(), in.end(), 0);
    auto f = [](int x) {
        if (x % 97 == 0) throw std::invalid_argument("multiple of 97: " + std::to_string(x));
        return x + 1;
    };
    for (std::size_t chunk : {std::size_t(1), std::size_t(50)}) {
        auto r = pool.imap(f, in, chunk);
        int i = 0, failed = 0;
        for (auto it = r.begin(); it != r.end(); ++it, ++i) {
            if (i % 97 == 0) {
                cr_assert_throw(*it, remote_error);
                try {
                    *it;
                } catch (const remote_error& e) {
                    std::string want = "multiple of 97: " + std::to_string(i);
                    cr_assert_eq(std::string(e.what()), want);
                }
                ++failed;
            } else {
                cr_assert_eq(*it, i + 1);
            }
        }
        cr_assert_eq(i, 1000);
        cr_assert_eq(failed, 11);
    }
    cr_assert_throw(pool.map(f, in), remote_error);
    cr_assert_throw(pool.apply_async("bytes"), std::logic_error);  // no byte-string function
}

Test(fork_pool, typed_pools_leave_no_child_and_no_fd) {
    cr_assert(no_children());
    int before = count_fds();
    for (int round = 0; round < 10; ++round) {
        {
            fork_pool pool(2, {.maxtasksperchild = unsigned(1 + round % 3)});
            std::vector<int> in(300, round);
            auto m = pool.map([](int x) { return x * 2; }, in, 7);
            for (int v : m) cr_assert_eq(v, round * 2);
            auto dead = pool.submit([](int sig) { ::raise(sig); }, int(SIGKILL));
            cr_assert_throw(dead.get(), worker_died);
            auto r = pool.imap([](int x) { return x; }, in, 1);  // abandoned after one item
            cr_assert_eq(*r.begin(), round);
            if (round % 2) {
                pool.close();
                pool.join();
            }
        }
        cr_assert(no_children(), "round %d left a child", round);
        cr_assert_eq(count_fds(), before, "round %d leaked an fd", round);
    }
}

// ---------------------------------------------------------------- callbacks, as_completed, wait (issue 12)

namespace {
// Counts events from any thread; the test waits for a number of them.
struct counter {
    std::mutex m;
    std::condition_variable cv;
    int n = 0;
    void add() {   // notifies under the lock: once a waiter sees n, add() no longer touches cv
        std::lock_guard lk(m);
        ++n;
        cv.notify_all();
    }
    bool wait_for(int want) {  // a generous bound: only a hang fails
        std::unique_lock lk(m);
        return cv.wait_for(lk, std::chrono::seconds(60), [&] { return n >= want; });
    }
    int get() {
        std::lock_guard lk(m);
        return n;
    }
};
}  // namespace

Test(fork_pool, apply_async_calls_callback_or_error_callback_exactly_once) {
    fork_pool pool(2);
    const int n = int(400 / scale);
    counter ok, bad;
    std::vector<std::atomic<int>> seen(n);
    std::vector<future<int>> fs;
    for (int i = 0; i < n; ++i)
        fs.push_back(pool.apply_async(
            [](int x) {
                if (x % 5 == 0) throw std::runtime_error("five");
                return x;
            },
            std::tuple{i},
            [&](const int& v) {
                seen[v].fetch_add(1);
                ok.add();
            },
            [&, i](std::exception_ptr e) {
                try {
                    std::rethrow_exception(e);
                } catch (const remote_error& x) {
                    if (std::string(x.what()) == "five") seen[i].fetch_add(1);
                }
                bad.add();
            }));
    cr_assert(ok.wait_for(n - (n + 4) / 5));
    cr_assert(bad.wait_for((n + 4) / 5));
    for (auto& f : fs) f.wait();
    for (int i = 0; i < n; ++i) cr_assert_eq(seen[i].load(), 1, "item %d: %d callbacks", i, seen[i].load());
    cr_assert_eq(ok.get() + bad.get(), n);
}

Test(fork_pool, map_async_gives_every_result_in_order_or_the_first_error) {
    fork_pool pool(2);
    for (int round = 0; round < 20; ++round) {
        std::vector<int> in(std::size_t(50 * round + 1));
        std::iota(in.begin(), in.end(), round);
        counter called;
        std::size_t got_size = 0;
        auto f = pool.map_async([](int x) { return 2 * x; }, in, std::size_t(round % 7),
                                [&](const std::vector<int>& v) {
                                    got_size = v.size();
                                    called.add();
                                });
        const auto& v = f.get();
        cr_assert_eq(v.size(), in.size());
        for (std::size_t i = 0; i < in.size(); ++i) cr_assert_eq(v[i], 2 * in[i]);
        cr_assert(called.wait_for(1));
        cr_assert_eq(called.get(), 1);
        cr_assert_eq(got_size, in.size());
        // items 10 and 30 fail: the first in input order is the one reported
        auto e = pool.starmap_async([](int x, int fail) {
            if (fail) throw std::runtime_error("item " + std::to_string(x));
            return x;
        }, std::vector<std::pair<int, int>>{{0, 0}, {30, 1}, {10, 1}, {5, 0}}, std::size_t(1 + round % 3));
        try {
            e.get();
            cr_assert_fail("no exception");
        } catch (const remote_error& x) {
            cr_assert_eq(std::string(x.what()), "item 30");
        }
    }
    auto none = pool.map_async([](int x) { return x; }, std::vector<int>{});
    cr_assert(none.get().empty());
}

Test(thread_pool, starmap_and_map_async) {
    thread_pool pool(2);
    std::vector<std::tuple<int, int>> in;
    for (int i = 0; i < 1000; ++i) in.emplace_back(i, i + 1);
    auto sums = pool.starmap([](int a, int b) { return a + b; }, in, 13);
    for (int i = 0; i < 1000; ++i) cr_assert_eq(sums[i], 2 * i + 1);
    std::vector<int> xs(1000);
    std::iota(xs.begin(), xs.end(), 0);
    counter err;
    auto f = pool.map_async(
        [](int x) {
            if (x == 500 || x == 700) throw std::out_of_range(std::to_string(x));
            return x;
        },
        xs, 0, nullptr, [&](std::exception_ptr) { err.add(); });
    try {
        f.get();
        cr_assert_fail("no exception");
    } catch (const std::out_of_range& e) {
        cr_assert_eq(std::string(e.what()), "500");
    }
    cr_assert(err.wait_for(1));
    cr_assert_eq(err.get(), 1);
    auto g = pool.map_async([](int x) { return x * 3; }, xs);
    for (int i = 0; i < 1000; ++i) cr_assert_eq(g.get()[i], 3 * i);
}

Test(thread_pool, submit_takes_move_only_callables_and_arguments) {
    thread_pool pool(2);
    const int n = int(10000 / scale);
    std::vector<future<std::unique_ptr<int>>> fs;
    for (int i = 0; i < n; ++i) {
        auto boxed = std::make_unique<int>(i);
        auto owner = [k = std::make_unique<int>(2)](std::unique_ptr<int> p, std::unique_ptr<int> q) {
            return std::make_unique<int>(*p * *k + *q);
        };
        fs.push_back(pool.submit(std::move(owner), std::move(boxed), std::make_unique<int>(1)));
    }
    for (int i = 0; i < n; ++i) cr_assert_eq(*fs[i].take(), 2 * i + 1);
    std::promise<int> p;  // a move-only argument of a standard type
    auto f = pool.submit([](std::promise<int> pr) { pr.set_value(7); }, std::move(p));
    f.get();
}

// Promises finished in a random order, round after round: as_completed
// yields each future once, in the order they finished (those done before
// the call first).
Test(futures, as_completed_yields_each_future_once_in_finishing_order) {
    std::mt19937 rng(12);
    thread_pool helper(2);
    for (int round = 0; round < 200; ++round) {
        std::size_t n = 1 + round % 17;
        std::vector<promise<int>> ps(n);
        std::vector<future<int>> fs;
        for (auto& p : ps) fs.push_back(p.get_future());
        std::vector<std::size_t> order(n);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        std::size_t early = round % 3;  // some are done before as_completed is called
        for (std::size_t k = 0; k < std::min(early, n); ++k) ps[order[k]].set_value(int(order[k]));
        as_completed<int> ac(fs);
        auto setter = helper.submit([&] {
            for (std::size_t k = std::min(early, n); k < n; ++k) ps[order[k]].set_value(int(order[k]));
        });
        std::vector<std::size_t> got;
        for (const future<int>& f : ac) got.push_back(std::size_t(f.get()));
        setter.get();
        // those done before the call come first, in the order of fs
        std::sort(order.begin(), order.begin() + std::ptrdiff_t(std::min(early, n)));
        cr_assert(got == order, "round %d: not the finishing order", round);
    }
}

Test(futures, as_completed_over_pool_futures_and_its_timeout) {
    fork_pool pool(2);
    thread_pool threads(2);
    std::vector<future<int>> fs;
    for (int i = 0; i < 100; ++i) fs.push_back(pool.submit([](int x) { return x; }, i));
    std::vector<int> got;
    for (auto& f : as_completed(fs, std::chrono::minutes(1))) got.push_back(f.get());
    std::sort(got.begin(), got.end());
    for (int i = 0; i < 100; ++i) cr_assert_eq(got[i], i);

    promise<int> never;
    std::vector<future<int>> mixed{threads.submit([] { return 1; }), never.get_future(),
                                   threads.submit([] { return 2; })};
    int yielded = 0;
    bool timed_out = false;
    try {
        for (auto& f : as_completed(mixed, std::chrono::milliseconds(50))) yielded += f.get();
    } catch (const timeout_error&) {
        timed_out = true;
    }
    cr_assert(timed_out);
    cr_assert_eq(yielded, 3);  // both done futures came first
    never.set_value(0);
}

Test(futures, wait_returns_done_and_not_done_by_policy) {
    thread_pool threads(2);
    for (int round = 0; round < 50; ++round) {
        promise<int> a, b, c;
        std::vector<future<int>> fs{a.get_future(), b.get_future(), c.get_future()};
        auto r0 = wait(fs, wait_policy::all_completed, std::chrono::milliseconds(1));
        cr_assert_eq(r0.done.size(), 0u);  // a timeout is not an error
        cr_assert_eq(r0.not_done.size(), 3u);
        auto setter = threads.submit([&] { b.set_value(2); });
        auto r1 = wait(fs, wait_policy::first_completed);
        cr_assert_geq(r1.done.size(), 1u);
        cr_assert(r1.done.front() == fs[1]);
        setter.get();
        auto thrower = threads.submit([&] { c.set_exception(std::make_exception_ptr(std::runtime_error("c"))); });
        auto r2 = wait(fs, wait_policy::first_exception);
        cr_assert_eq(r2.done.size(), 2u);
        cr_assert(r2.done[0] == fs[1] && r2.done[1] == fs[2]);
        cr_assert_eq(r2.not_done.size(), 1u);
        cr_assert(r2.not_done[0] == fs[0]);
        thrower.get();
        auto last = threads.submit([&] { a.set_value(1); });
        auto r3 = wait(fs);
        cr_assert_eq(r3.done.size(), 3u);
        cr_assert_eq(r3.not_done.size(), 0u);
        last.get();
    }
    std::vector<future<int>> none;
    cr_assert_eq(wait(none, wait_policy::first_completed).done.size(), 0u);
}
