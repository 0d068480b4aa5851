#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conc/co_sync.hpp"
#include "conc/loop.hpp"
#include "conc/signals.hpp"
#include "conc/wait.hpp"
#include "coro_test.hpp"

using namespace conc;
using namespace std::chrono_literals;

// Coroutine lambdas below take their state as parameters, not captures: a
// capture lives in the closure, which dies at the end of the statement, while
// a parameter is copied into the coroutine frame.


static task<int> add(int a, int b) { co_return a + b; }
static task<int> nested(int depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await nested(depth - 1);
}
static task<int> fails(const char* msg) {
    co_await loop::current().yield();
    throw std::runtime_error(msg);
}

CORO_TEST(loop, run_returns_the_result_of_nested_tasks) {
    loop lp;
    CHECK_EQ(lp.run(add(2, 3)), 5);
    CHECK_EQ(lp.run(nested(10000)), 10000);   // a frame a level, as recursion
}

// The deepest stack address seen so far (the stack grows down).
[[gnu::noinline]] static void note_stack(std::uintptr_t* deepest) {
    char here;
    asm volatile("" : : "r"(&here) : "memory");
    *deepest = std::min(*deepest, reinterpret_cast<std::uintptr_t>(&here));
}
static task<int> ends_at_once(int i, std::uintptr_t* deepest) {
    note_stack(deepest);
    co_return i;
}
static task<long> await_many_that_end_at_once(int n, std::uintptr_t* deepest) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await ends_at_once(i, deepest);
    co_return sum;
}

// Where the compiler makes no tail call of a symmetric transfer (-O0, the
// ASan build at -O1), each such await once nested a frame on the stack until
// the loop overflowed it.
CORO_TEST(loop, awaiting_many_tasks_that_end_at_once_grows_no_stack) {
    constexpr int n = 200000;
    std::uintptr_t first = UINTPTR_MAX, deepest = UINTPTR_MAX;
    loop lp;
    lp.run(ends_at_once(0, &first));
    deepest = first;
    CHECK_EQ(lp.run(await_many_that_end_at_once(n, &deepest)), long(n) * (n - 1) / 2);
    CHECK(first - deepest < 64 * 1024);
}

CORO_TEST(loop, exceptions_travel_to_the_awaiter) {
    loop lp;
    auto t = []() -> task<std::string> {
        try {
            co_await fails("boom");
        } catch (const std::runtime_error& e) {
            co_return std::string("caught ") + e.what();
        }
        co_return "no";
    };
    CHECK_EQ(lp.run(t()), std::string("caught boom"));
    cr_assert_throw(lp.run(fails("out")), std::runtime_error);
}

CORO_TEST(loop, timers_fire_in_deadline_order_and_ties_in_creation_order) {
    loop lp;
    std::vector<int> order;
    // Absolute deadlines from one base: the order cannot depend on how long
    // the tasks took to start on a loaded machine.
    auto base = clock::now();
    auto sleeper = [](std::vector<int>& order, clock::time_point deadline, int id) -> task<void> {
        co_await loop::current().sleep_until(deadline);
        order.push_back(id);
    };
    lp.run([&]() -> task<void> {
        std::vector<task<void>> ts;
        ts.push_back(sleeper(order, base + 40ms, 1));
        ts.push_back(sleeper(order, base + 10ms, 2));
        ts.push_back(sleeper(order, base + 25ms, 3));
        ts.push_back(sleeper(order, base, 4));
        for (int i = 5; i < 9; ++i) ts.push_back(sleeper(order, base + 30ms, i));   // ties: creation order
        co_await gather(std::move(ts));
    }());
    std::vector<int> want{4, 2, 3, 5, 6, 7, 8, 1};
    CHECK(order == want);
}

CORO_TEST(loop, sleep_waits_at_least_its_duration) {
    loop lp;
    auto t0 = clock::now();
    lp.run([]() -> task<void> { co_await loop::current().sleep_for(20ms); }());
    CHECK(clock::now() - t0 >= 20ms);
}

CORO_TEST(loop, cancel_interrupts_a_task_mid_await) {
    loop lp;
    bool saw_cancel = false, after = false;
    lp.run([&]() -> task<void> {
        auto& l = loop::current();
        auto j = l.spawn([](bool& saw_cancel, bool& after) -> task<void> {
            try {
                co_await loop::current().sleep_for(1h);
            } catch (const cancelled_error&) {
                saw_cancel = true;
                throw;
            }
            after = true;
        }(saw_cancel, after));
        co_await l.yield();
        CHECK(!j.done());
        j.cancel();
        try {
            co_await j;
        } catch (const cancelled_error&) {
        }
        CHECK(j.done());
        CHECK(j.cancelled());
    }());
    CHECK(saw_cancel);
    CHECK(!after);
}

CORO_TEST(loop, cancel_before_start_and_on_a_running_task) {
    loop lp;
    int started = 0;
    lp.run([&]() -> task<void> {
        auto& l = loop::current();
        auto j = l.spawn([](int& started) -> task<void> {
            ++started;
            co_return;
        }(started));
        j.cancel();   // not started yet
        std::vector jobs2 = {j};
        co_await wait(jobs2);
        CHECK(j.cancelled());
        // A task that cancels itself sees it at its next suspension point.
        auto k = l.spawn([]() -> task<int> { co_return 1; }());
        std::vector jobs6 = {k};
        co_await wait(jobs6);
        CHECK_EQ(k.result(), 1);
    }());
    CHECK_EQ(started, 0);
}

CORO_TEST(loop, cancelled_fd_wait_is_unregistered) {
    loop lp;
    auto p = make_pipe(O_NONBLOCK);
    lp.run([&]() -> task<void> {
        auto& l = loop::current();
        int fd = p.read.get();
        auto j = l.spawn([](loop& l, int fd) -> task<void> { co_await l.readable(fd); }(l, fd));
        co_await l.yield();
        j.cancel();
        std::vector jobs2 = {j};
        co_await wait(jobs2);
        CHECK(j.cancelled());
        // The fd is free again: another task can wait on it.
        auto k = l.spawn([](loop& l, int fd) -> task<char> {
            co_await l.readable(fd);
            char c;
            read_some(fd, &c, 1);
            co_return c;
        }(l, fd));
        write_all(p.write.get(), "z");
        CHECK_EQ(co_await k, 'z');
    }());
}

CORO_TEST(loop, gather_returns_results_in_order) {
    loop lp;
    auto delayed = [](int v, int ms) -> task<int> {
        co_await loop::current().sleep_for(std::chrono::milliseconds(ms));
        co_return v;
    };
    auto r = lp.run([&]() -> task<std::vector<int>> {
        std::vector<task<int>> ts;
        for (int i = 0; i < 10; ++i) ts.push_back(delayed(i, (10 - i) % 4));
        co_return co_await gather(std::move(ts));
    }());
    for (int i = 0; i < 10; ++i) CHECK_EQ(r[i], i);
    auto [a, b, c] = lp.run([&]() -> task<std::tuple<int, std::string, std::monostate>> {
        co_return co_await gather(delayed(1, 2), []() -> task<std::string> { co_return "x"; }(),
                                  []() -> task<void> { co_return; }());
    }());
    CHECK_EQ(a, 1);
    CHECK_EQ(b, std::string("x"));
    (void)c;
}

CORO_TEST(loop, gather_first_exception_cancels_the_rest_and_propagates) {
    loop lp;
    int cancelled = 0;
    auto forever = [&]() -> task<int> {
        try {
            co_await loop::current().sleep_for(1h);
        } catch (const cancelled_error&) {
            ++cancelled;
            throw;
        }
        co_return 0;
    };
    bool caught = false;
    lp.run([&]() -> task<void> {
        std::vector<task<int>> ts;
        ts.push_back(forever());
        ts.push_back([]() -> task<int> {
            co_await fails("first");
            co_return 0;
        }());
        ts.push_back(forever());
        try {
            co_await gather(std::move(ts));
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "first";
        }
    }());
    CHECK(caught);
    CHECK_EQ(cancelled, 2);
    CHECK_EQ(lp.pending_jobs(), 0u);
}

CORO_TEST(loop, wait_policies_and_timeout) {
    loop lp;
    lp.run([]() -> task<void> {
        auto& l = loop::current();
        co::event go;
        auto quick = l.spawn([]() -> task<int> { co_return 1; }());
        auto slow = l.spawn([](co::event& go) -> task<int> {
            co_await go.wait();
            co_return 2;
        }(go));
        auto bad = l.spawn([]() -> task<int> {
            co_await fails("bad");
            co_return 3;
        }());

        std::vector jobs5 = {quick, slow};
        auto r1 = co_await wait(jobs5, wait_policy::first_completed);
        CHECK_EQ(r1.done.size(), 1u);
        CHECK_EQ(r1.pending.size(), 1u);
        CHECK_EQ(r1.done[0].result(), 1);

        std::vector jobs4 = {slow, bad};
        auto r2 = co_await wait(jobs4, wait_policy::first_exception);
        CHECK_EQ(r2.done.size(), 1u);
        CHECK(r2.done[0].exception() != nullptr);
        CHECK_EQ(r2.pending.size(), 1u);

        std::vector jobs1 = {slow};
        auto r3 = co_await wait(jobs1, wait_policy::all_completed, 10ms);
        CHECK_EQ(r3.done.size(), 0u);
        CHECK_EQ(r3.pending.size(), 1u);

        go.set();
        std::vector jobs3 = {quick, slow, bad};
        auto r4 = co_await wait(jobs3, wait_policy::all_completed);
        CHECK_EQ(r4.done.size(), 3u);
        CHECK_EQ(slow.result(), 2);
    }());
}

CORO_TEST(loop, with_timeout_cancels_the_slow_task) {
    loop lp;
    bool inner_cancelled = false;
    lp.run([&]() -> task<void> {
        auto slow = [&]() -> task<int> {
            try {
                co_await loop::current().sleep_for(1h);
            } catch (const cancelled_error&) {
                inner_cancelled = true;
                throw;
            }
            co_return 1;
        };
        bool timed_out = false;
        try {
            co_await with_timeout(slow(), 10ms);
        } catch (const timeout_error&) {
            timed_out = true;
        }
        CHECK(timed_out);
        int v = co_await with_timeout(add(20, 22), 1h);
        CHECK_EQ(v, 42);
    }());
    CHECK(inner_cancelled);
    CHECK_EQ(lp.pending_jobs(), 0u);
}

CORO_TEST(loop, ten_thousand_concurrent_tasks) {
    loop lp;
    const int n = 10000;
    int woke = 0;
    long sum = lp.run([&]() -> task<long> {
        auto& l = loop::current();
        co::event go;
        std::vector<job<int>> jobs;
        for (int i = 0; i < n; ++i)
            jobs.push_back(l.spawn([](co::event& go, int& woke, int i) -> task<int> {
                co_await go.wait();
                ++woke;
                co_await loop::current().sleep_for(std::chrono::microseconds(i % 100));
                co_return i;
            }(go, woke, i)));
        co_await l.yield();
        CHECK_EQ(l.pending_jobs(), std::size_t(n) + 1);
        go.set();
        auto r = co_await wait(jobs);
        long s = 0;
        for (auto& j : r.done) s += j.result();
        co_return s;
    }());
    CHECK_EQ(woke, n);
    CHECK_EQ(sum, long(n) * (n - 1) / 2);
}

CORO_TEST(loop, done_callbacks_run_once_done) {
    loop lp;
    std::vector<int> seen;
    lp.run([&]() -> task<void> {
        auto j = loop::current().spawn(add(1, 1));
        j.add_done_callback([&] { seen.push_back(1); });
        co_await j;
        j.add_done_callback([&] { seen.push_back(2); });   // already done: runs at once
    }());
    CHECK(seen == (std::vector<int>{1, 2}));
}

CORO_TEST(loop, channel_moves_every_item_exactly_once) {
    for (std::size_t cap : {0u, 1u, 7u, 1000u}) {
        loop lp;
        const int n = 20000, producers = 3, consumers = 4;
        std::vector<int> seen(n * producers, 0);
        lp.run([&]() -> task<void> {
            auto& l = loop::current();
            channel<int> ch(cap);
            std::vector<job<void>> ps, cs;
            for (int p = 0; p < producers; ++p)
                ps.push_back(l.spawn([](channel<int>& ch, int p, int n) -> task<void> {
                    for (int i = 0; i < n; ++i) co_await ch.send(p * n + i);
                }(ch, p, n)));
            for (int c = 0; c < consumers; ++c)
                cs.push_back(l.spawn([](channel<int>& ch, std::vector<int>& seen) -> task<void> {
                    while (auto v = co_await ch.receive()) ++seen[*v];
                }(ch, seen)));
            co_await wait(ps);
            ch.close();
            co_await wait(cs);
            for (auto& c : cs) c.result();
        }());
        for (int v : seen) CHECK_EQ(v, 1);
    }
}

CORO_TEST(loop, channel_send_after_close_throws) {
    loop lp;
    lp.run([]() -> task<void> {
        channel<int> ch(1);
        co_await ch.send(1);
        ch.close();
        cr_assert_throw(ch.try_send(*std::make_unique<int>(2)), channel_closed);
        auto v = co_await ch.receive();
        CHECK_EQ(*v, 1);
        CHECK(!(co_await ch.receive()));
    }());
}

// size, capacity, empty and full against a model queue, over random
// try_send/try_receive sequences.
CORO_TEST(loop, channel_size_capacity_empty_full_follow_a_model) {
    std::mt19937 rng(12);
    for (std::size_t cap : {1u, 2u, 7u}) {
        channel<int> ch(cap);
        std::deque<int> model;
        CHECK_EQ(ch.capacity(), cap);
        int next = 0;
        for (int op = 0; op < 20000; ++op) {
            if (rng() % 2) {
                bool ok = ch.try_send(next);
                CHECK_EQ(ok, model.size() < cap);
                if (ok) model.push_back(next);
                ++next;
            } else {
                auto v = ch.try_receive();
                CHECK_EQ(bool(v), !model.empty());
                if (v) {
                    CHECK_EQ(*v, model.front());
                    model.pop_front();
                }
            }
            CHECK_EQ(ch.size(), model.size());
            CHECK_EQ(ch.empty(), model.empty());
            CHECK_EQ(ch.full(), model.size() == cap);
        }
    }
}

// empty() and full() say what try_receive() and try_send() would do, so they
// count the tasks waiting: a receiver waiting on a rendezvous channel makes
// it not full, a sender waiting makes it not empty.
CORO_TEST(loop, channel_empty_and_full_count_waiting_tasks) {
    loop lp;
    lp.run([]() -> task<void> {
        auto& l = loop::current();
        channel<int> rv(0);
        CHECK(rv.empty());
        CHECK(rv.full());
        CHECK_EQ(rv.capacity(), 0u);
        auto r = l.spawn([](channel<int>& ch) -> task<int> { co_return *co_await ch.receive(); }(rv));
        co_await l.yield();  // the receiver now waits
        CHECK(!rv.full());
        CHECK(rv.empty());
        CHECK(rv.try_send(5));
        CHECK(rv.full());
        int got = co_await r;
        CHECK_EQ(got, 5);
        auto s = l.spawn([](channel<int>& ch) -> task<void> { co_await ch.send(6); }(rv));
        co_await l.yield();  // the sender now waits
        CHECK(!rv.empty());
        CHECK_EQ(rv.size(), 0u);
        auto v = rv.try_receive();
        CHECK(v && *v == 6);
        co_await s;
        CHECK(rv.empty());

        channel<int> b(2);
        CHECK(b.try_send(1));
        CHECK(!b.full());
        CHECK(b.try_send(2));
        CHECK(b.full());
        auto s2 = l.spawn([](channel<int>& ch) -> task<void> { co_await ch.send(3); }(b));
        co_await l.yield();  // a sender waits on the full channel
        CHECK(b.full());
        CHECK_EQ(b.size(), 2u);
        v = b.try_receive();
        CHECK(v && *v == 1);
        CHECK(b.full());  // the waiting sender's value moved in
        co_await s2;
        v = b.try_receive();
        CHECK(v && *v == 2);
        v = b.try_receive();
        CHECK(v && *v == 3);
        CHECK(b.empty());
        CHECK(!b.full());
        CHECK_EQ(b.size(), 0u);
    }());
}

CORO_TEST(loop, semaphore_bounds_concurrency) {
    loop lp;
    int inside = 0, most = 0, done = 0;
    lp.run([&]() -> task<void> {
        co::semaphore sem(3);
        std::vector<task<void>> ts;
        for (int i = 0; i < 100; ++i)
            ts.push_back([](co::semaphore& sem, int& inside, int& most, int& done) -> task<void> {
                co_await sem.acquire();
                ++inside;
                most = std::max(most, inside);
                co_await loop::current().yield();
                --inside;
                ++done;
                sem.release();
            }(sem, inside, most, done));
        co_await gather(std::move(ts));
        CHECK_EQ(sem.value(), 3u);
    }());
    CHECK_EQ(most, 3);
    CHECK_EQ(done, 100);
}

CORO_TEST(loop, child_exit_races_with_output_readiness) {
    loop lp;
    for (int round = 0; round < 20; ++round) {
        lp.run([&]() -> task<void> {
            auto& l = loop::current();
            std::vector<task<std::string>> ts;
            for (int i = 0; i < 16; ++i)
                ts.push_back([](loop& l, int i) -> task<std::string> {
                    auto p = make_pipe();
                    set_nonblocking(p.read.get());   // the child's end stays blocking
                    spawn_spec s;
                    s.argv = {"sh", "-c", "head -c $1 /dev/zero | tr '\\0' x; exit $2", "sh",
                              std::to_string(i * 7919), std::to_string(i % 5)};
                    s.out = stdio::to(p.write.get());
                    process child = spawn(s);
                    p.write.reset();
                    std::string out;
                    char buf[4096];
                    for (;;) {
                        std::size_t n = co_await read_some_async(p.read.get(), buf, sizeof buf);
                        if (n == 0) break;
                        out.append(buf, n);
                    }
                    exit_status st = co_await l.child_exit(child);
                    co_return std::to_string(out.size()) + ":" + std::to_string(st.code());
                }(l, i));
            auto r = co_await gather(std::move(ts));
            for (int i = 0; i < 16; ++i)
                CHECK_EQ(r[i], std::to_string(i * 7919) + ":" + std::to_string(i % 5));
        }());
    }
}

CORO_TEST(loop, child_that_exited_before_the_await_is_seen) {
    loop lp;
    spawn_spec s;
    s.argv = {"sh", "-c", "exit 7"};
    process p = spawn(s);
    usleep(1000);
    exit_status st = lp.run([&]() -> task<exit_status> { co_return co_await loop::current().child_exit(p); }());
    CHECK_EQ(st.code(), 7);
    CHECK(!p.running());
}

CORO_TEST(loop, signals_arriving_during_poll_are_delivered) {
    loop lp;
    auto ack = make_pipe();
    const int rounds = 200;
    signal_set sigs(lp, {SIGUSR1, SIGUSR2});   // from here on no arrival is lost
    std::thread sender([&] {
        for (int i = 0; i < rounds; ++i) {
            ::kill(getpid(), SIGUSR1);
            char c;
            read_full(ack.read.get(), &c, 1);   // the loop saw it; send the next
        }
    });
    int got = lp.run([&]() -> task<int> {
        int n = 0;
        while (n < rounds) {
            int s = co_await sigs.next();
            CHECK_EQ(s, SIGUSR1);
            ++n;
            write_all(ack.write.get(), "k");
        }
        co_return n;
    }());
    sender.join();
    CHECK_EQ(got, rounds);
}

CORO_TEST(loop, post_from_threads_runs_every_callback_on_the_loop) {
    loop lp;
    const int threads = 4, each = 10000;
    int count = 0;
    lp.run([&]() -> task<void> {
        auto& l = loop::current();
        loop::hold h(l);
        co::event all;
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([&] {
                for (int i = 0; i < each; ++i)
                    l.post([&] {
                        if (++count == threads * each) all.set();
                    });
            });
        co_await all.wait();
        for (auto& t : ts) t.join();
    }());
    CHECK_EQ(count, threads * each);
}

CORO_TEST(loop, a_wait_that_nothing_can_end_is_reported_as_deadlock) {
    loop lp;
    cr_assert_throw(lp.run([]() -> task<void> {
        co::event never;
        co_await never.wait();
    }()), std::logic_error);
}

CORO_TEST(loop, pending_tasks_are_cancelled_when_run_ends) {
    loop lp;
    bool cleaned = false;
    lp.run([&]() -> task<void> {
        loop::current().spawn([](bool& cleaned) -> task<void> {
            try {
                co_await loop::current().sleep_for(1h);
            } catch (const cancelled_error&) {
                cleaned = true;
            }
        }(cleaned));
        co_return;
    }());
    CHECK(cleaned);
    CHECK_EQ(lp.pending_jobs(), 0u);
}

// ---- call_soon, call_later, call_at; current_task, all_tasks ------------------

CORO_TEST(loop, callbacks_run_in_order_of_time_then_of_scheduling) {
    loop lp;
    std::vector<int> order;
    auto main = [](loop& l, std::vector<int>& o) -> task<void> {
        auto t0 = clock::now();
        l.call_at(t0 + 30ms, [&o] { o.push_back(4); });
        l.call_later(20ms, [&o] { o.push_back(3); });
        l.call_soon([&o] { o.push_back(1); });
        l.call_soon([&o] { o.push_back(2); });
        l.call_at(t0 + 30ms, [&o] { o.push_back(5); });   // tie: scheduling order
        co_await l.sleep_for(60ms);
    };
    lp.run(main(lp, order));
    CHECK_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
}

CORO_TEST(loop, a_cancelled_callback_never_runs_and_the_handle_says_so) {
    loop lp;
    int runs = 0;
    auto main = [](loop& l, int& r) -> task<void> {
        for (int round = 0; round < 500; ++round) {
            auto a = l.call_soon([&r] { r += 1; });
            auto b = l.call_later(1ms, [&r] { r += 1000; });
            auto c = l.call_later(2ms, [&r] { r += 1; });
            b.cancel();
            b.cancel();   // twice is harmless
            CHECK(b.cancelled());
            CHECK(!a.ran() && !c.ran());
            co_await l.sleep_for(3ms);
            CHECK(a.ran() && c.ran() && !b.ran());
            CHECK(!a.cancelled());
            a.cancel();   // after it ran: nothing happens
            CHECK(!a.cancelled());
        }
    };
    lp.run(main(lp, runs));
    CHECK_EQ(runs, 1000);
}

CORO_TEST(loop, call_soon_from_a_callback_waits_for_the_next_turn) {
    loop lp;
    // A callback that reschedules itself forever must not starve the tasks.
    struct spinner {
        loop& l;
        long n = 0;
        bool stop = false;
        void again() {
            if (stop) return;
            ++n;
            l.call_soon([this] { again(); });
        }
    } s{lp};
    auto main = [](loop& l, spinner& sp) -> task<int> {
        sp.again();
        int turns = 0;
        for (; turns < 100; ++turns) co_await l.sleep_for(0ms);
        sp.stop = true;
        co_return turns;
    };
    CHECK_EQ(lp.run(main(lp, s)), 100);
    CHECK(s.n >= 100);
}

CORO_TEST(loop, a_throwing_callback_goes_to_the_handler_and_the_loop_goes_on) {
    static std::vector<std::string> seen;
    seen.clear();
    auto prev = set_callback_error_handler([](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            seen.push_back(x.what());
        }
    });
    loop lp;
    int after = 0;
    auto main = [](loop& l, int& a) -> task<void> {
        l.call_soon([] { throw std::runtime_error("soon"); });
        l.call_later(1ms, [] { throw std::runtime_error("later"); });
        l.call_later(2ms, [&a] { a = 1; });
        co_await l.sleep_for(5ms);
    };
    lp.run(main(lp, after));
    set_callback_error_handler(prev);
    CHECK_EQ(seen, (std::vector<std::string>{"soon", "later"}));
    CHECK_EQ(after, 1);
}

Test(loop, a_pending_callback_dies_with_the_loop_without_running) {
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> w = token;
    callback_handle h;
    {
        loop lp;
        h = lp.call_later(1h, [t = std::move(token)] { ++*t; });
        lp.call_soon([t = w.lock()] { ++*t; });
        cr_assert(!w.expired());
    }
    cr_assert(w.expired(), "the loop let go of its callbacks (and what they hold)");
    cr_assert(!h.ran());
    h.cancel();   // the loop is gone: still harmless
}

static task<void> named_worker(co::event* go) { co_await go->wait(); }

CORO_TEST(loop, current_task_and_all_tasks_see_the_live_jobs) {
    loop lp;
    auto main = [](loop& l) -> task<void> {
        task_ref me = current_task();
        CHECK(me.valid() && !me.done());
        CHECK_EQ(me.name(), std::string("Task-1"));
        co::event go;
        std::vector<job<void>> js;
        for (int i = 0; i < 5; ++i) js.push_back(l.spawn(named_worker(&go)));
        task_ref third = js[2];
        third.set_name("third");
        CHECK_EQ(task_ref(js[2]).name(), std::string("third"));
        auto all = all_tasks();
        CHECK_EQ(all.size(), std::size_t(6));
        CHECK(std::find(all.begin(), all.end(), me) != all.end());
        for (auto& j : js) CHECK(std::find(all.begin(), all.end(), task_ref(j)) != all.end());
        // a callback runs outside any task
        bool none = false;
        l.call_soon([&none] { none = !current_task().valid(); });
        third.cancel();
        co_await l.yield();
        co_await l.yield();
        CHECK(none);
        CHECK(third.cancelled() && js[2].cancelled());
        CHECK_EQ(all_tasks().size(), std::size_t(5));
        go.set();
        for (auto& j : js) {
            try { co_await j; } catch (const cancelled_error&) {}
        }
        CHECK_EQ(all_tasks().size(), std::size_t(1));
        CHECK(task_ref(js[0]).done());   // a handle made after the end still answers
    };
    lp.run(main(lp));
    CHECK(!current_task().valid());
    CHECK(all_tasks().empty());
}
