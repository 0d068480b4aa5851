#include <criterion/criterion.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "conc/codec.hpp"
#include "conc/connection.hpp"
#include "conc/fd.hpp"
#include "conc/forked_process.hpp"
#include "conc/loop.hpp"
#include "conc/signals.hpp"
#include "coro_test.hpp"
#include "ipc_support.hpp"

using namespace conc;
using ipc::colour;
using ipc::person;
using ipc::sample;
using namespace std::chrono_literals;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::uint64_t v = rng();
        std::memcpy(&s[i], &v, 8);
    }
    for (std::size_t i = n & ~std::size_t(7); i < n; ++i) s[i] = char(rng());
    return s;
}

// Big enough that no socket or pipe buffer holds it: the writer blocks until the reader reads.
constexpr std::size_t big = 8u << 20;

using nested = std::tuple<char, std::vector<std::pair<std::string, std::vector<std::tuple<int, std::string>>>>,
                          std::pair<double, std::vector<bool>>>;

// In the child: receives one T and sends it back, for each T in order.
template <class... Ts>
void echo_each(connection c) {
    (c.send(c.recv<Ts>()), ...);
}

}  // namespace

Test(connection, a_duplex_pipe_plays_ping_pong_between_processes, .timeout = 120) {
    auto [here, there] = pipe();
    cr_assert(here.readable() && here.writable() && there.readable() && there.writable());
    constexpr int rounds = 20000;
    forked_process p(
        [](connection c) {
            for (int i = 0; i < rounds; ++i) {
                if (i % 2) c.send(c.recv<std::string>() + "!");
                else c.send(c.recv<int>() + 1);
            }
        },
        std::move(there));
    p.start();
    for (int i = 0; i < rounds; ++i) {
        if (i % 2) {
            here.send(std::to_string(i));
            cr_assert_eq(here.recv<std::string>(), std::to_string(i) + "!");
        } else {
            here.send(i);
            cr_assert_eq(here.recv<int>(), i + 1);
        }
    }
    p.join();
    cr_assert_eq(*p.exitcode(), 0);
    cr_assert_throw(here.recv_bytes(), eof_error);
}

Test(connection, a_one_way_pipe_has_a_read_only_and_a_write_only_end, .timeout = 60) {
    auto [r, w] = pipe(false);
    cr_assert(r.readable() && !r.writable());
    cr_assert(w.writable() && !w.readable());
    cr_assert_throw(r.send(1), std::logic_error);
    cr_assert_throw(r.send_bytes("x"), std::logic_error);
    cr_assert_throw(w.recv_bytes(), std::logic_error);
    cr_assert_throw(w.poll(), std::logic_error);
    forked_process p(
        [](connection out) {
            for (int i = 0; i < 5000; ++i) out.send(std::make_pair(i, std::string(std::size_t(i % 300), 'a')));
        },
        std::move(w));
    p.start();
    for (int i = 0; i < 5000; ++i) {
        auto [n, s] = r.recv<std::pair<int, std::string>>();
        cr_assert_eq(n, i);
        cr_assert_eq(s.size(), std::size_t(i % 300));
    }
    cr_assert_throw(r.recv<int>(), eof_error);
    p.join();
}

Test(connection, messages_of_several_megabytes_go_through_both_kinds_of_pipe, .timeout = 120) {
    for (bool duplex : {true, false}) {
        auto [a, b] = pipe(duplex);   // one-way: a reads, b writes
        std::vector<std::string> sent = {random_bytes(big, 1), std::string(), random_bytes(5u << 20 | 1, 2),
                                         random_bytes(100, 3), random_bytes(big, 4)};
        forked_process p(
            [&sent](connection c) {
                for (auto& m : sent) c.send_bytes(m);
                c.send(sent);   // typed: all of them in one message
            },
            std::move(b));
        p.start();
        for (auto& m : sent) {
            std::string got = a.recv_bytes();
            cr_assert_eq(got.size(), m.size());
            cr_assert(got == m, "duplex %d: a message of %zu bytes differs", duplex, m.size());
        }
        cr_assert(a.recv<std::vector<std::string>>() == sent);
        p.join();
        cr_assert_eq(*p.exitcode(), 0);
    }
    // Both ways on one duplex pipe: the child reads while the parent writes, then answers in kind.
    auto [here, there] = pipe();
    forked_process echo([](connection c) { echo_each<std::string, std::string>(std::move(c)); }, std::move(there));
    echo.start();
    std::string m1 = random_bytes(big, 5), m2 = random_bytes(3u << 20, 6);
    here.send(m1);
    cr_assert(here.recv<std::string>() == m1);
    here.send(m2);
    cr_assert(here.recv<std::string>() == m2);
    echo.join();
}

Test(connection, typed_messages_of_every_codec_kind_round_trip, .timeout = 60) {
    auto [here, there] = pipe();
    forked_process p(
        [](connection c) {
            echo_each<int, double, char, bool, colour, sample, std::string, std::vector<int>, std::vector<std::string>,
                      std::vector<bool>, std::vector<sample>, std::pair<int, std::string>, std::tuple<>,
                      std::tuple<int, std::string, std::vector<double>>, nested, person, std::vector<person>>(
                std::move(c));
        },
        std::move(there));
    p.start();
    auto check = [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        here.send(v);
        cr_assert(here.recv<T>() == v);
    };
    check(-12345);
    check(2.75);
    check('z');
    check(true);
    check(colour::blue);
    check(sample{3, 0.5, colour::green});
    check(std::string("with\0nul", 8));
    check(std::vector<int>{1, 2, 3});
    check(std::vector<std::string>{"", "b", std::string(70000, 'c')});
    check(std::vector<bool>{true, false, true});
    check(std::vector<sample>{{1, 1, colour::red}, {2, 2, colour::blue}});
    check(std::pair<int, std::string>{9, "nine"});
    check(std::tuple<>{});
    check(std::tuple<int, std::string, std::vector<double>>{1, "x", {0.25, 0.5}});
    check(nested{'k', {{"a", {{1, "x"}, {2, ""}}}, {"", {}}}, {0.5, {true, false}}});
    check(person{"ada", {90, 85}});
    check(std::vector<person>{{"a", {}}, {"", {1}}});
    p.join();
    cr_assert_eq(*p.exitcode(), 0);
}

Test(connection, a_message_of_the_wrong_type_is_a_decode_error_and_is_consumed) {
    auto [a, b] = pipe();
    b.send(std::string("abc"));
    b.send(7);
    cr_assert_throw(a.recv<int>(), decode_error);   // 11 bytes are not an int
    cr_assert_eq(a.recv<int>(), 7);
    b.send_bytes("raw");
    cr_assert_eq(a.recv_bytes(), std::string("raw"));
}

Test(connection, recv_on_a_closed_peer_is_eof_error) {
    {
        auto [a, b] = pipe();
        b.send(1);
        b.close();
        cr_assert(b.closed());
        cr_assert_throw(b.send(1), std::logic_error);
        cr_assert_eq(a.recv<int>(), 1);   // what was sent before the close still arrives
        try {
            a.recv<int>();
            cr_assert_fail("no eof_error");
        } catch (const eof_error& e) {
            cr_assert_str_eq(e.what(), "connection closed");
        }
        cr_assert_throw(a.recv_bytes(), eof_error);   // and again
        cr_assert(a.poll());                          // end of file: recv would not block
    }
    {
        // The peer went away in the middle of a message.
        auto [a, b] = pipe(false);
        std::string frame(8, '\0');
        std::uint64_t len = 100;
        std::memcpy(frame.data(), &len, 8);
        write_all(b.fd(), frame + "only ten b");
        b.close();
        try {
            a.recv_bytes();
            cr_assert_fail("no eof_error");
        } catch (const eof_error& e) {
            cr_assert_str_eq(e.what(), "connection closed in the middle of a message");
        }
    }
    {
        // The peer is a child that ends: its end is closed by the exit, ours at start.
        auto [here, there] = pipe();
        forked_process p([](connection) {}, std::move(there));
        p.start();
        cr_assert_throw(here.recv<int>(), eof_error);
        p.join();
    }
}

Test(connection, send_to_a_closed_peer_is_epipe_not_death) {
    auto [a, b] = pipe();
    b.close();
    try {
        a.send(std::string(1 << 20, 'x'));
        cr_assert_fail("sent to nobody");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), EPIPE);
    }
    ignore_sigpipe();   // a one-way pipe raises SIGPIPE, as every pipe does
    auto [r, w] = pipe(false);
    r.close();
    cr_assert_throw(w.send(1), sys_error);
}

Test(connection, poll_waits_up_to_its_timeout) {
    auto [a, b] = pipe();
    cr_assert(!a.poll());
    auto t0 = clock::now();
    cr_assert(!a.poll(60ms));
    cr_assert_geq(clock::now() - t0, 60ms);
    b.send(1);
    b.send(2);
    cr_assert(a.poll(60s));
    cr_assert(a.poll(std::nullopt));
    cr_assert_eq(a.recv<int>(), 1);
    cr_assert(a.poll());   // the second message was read ahead with the first
    cr_assert_eq(a.recv<int>(), 2);
    cr_assert(!a.poll());
    // A sender in another process: poll without a limit wakes when it sends.
    auto [here, there] = pipe();
    connection release;
    auto [rel_here, rel_there] = pipe();
    forked_process p(
        [](connection c, connection go) {
            go.recv<int>();
            c.send(std::string("late"));
        },
        std::move(there), std::move(rel_there));
    p.start();
    cr_assert(!here.poll(20ms));
    rel_here.send(1);
    cr_assert(here.poll(std::nullopt));
    cr_assert_eq(here.recv<std::string>(), std::string("late"));
    p.join();
}

Test(connection, one_thread_sends_while_another_receives_on_one_end, .timeout = 120) {
    auto [here, there] = pipe();
    forked_process echo(
        [](connection c) {
            try {
                for (;;) c.send(c.recv<std::uint64_t>() * 2);
            } catch (const eof_error&) {   // we closed our end: the child holds no copy of it
            }
        },
        std::move(there));
    echo.start();
    constexpr std::uint64_t n = 20000;
    std::uint64_t sum = 0;
    std::thread reader([&] {
        for (std::uint64_t i = 0; i < n; ++i) sum += here.recv<std::uint64_t>();
    });
    for (std::uint64_t i = 0; i < n; ++i) here.send(i);
    reader.join();
    cr_assert_eq(sum, n * (n - 1));
    here.close();
    echo.join();
    cr_assert_eq(*echo.exitcode(), 0);
}

Test(connection, the_child_keeps_only_the_connections_given_to_its_function, .timeout = 60) {
    // Given as an argument, captured by value, or inside a struct argument: open in the child.
    struct pair_of_ends {
        connection in, out;
    };
    auto [a_here, a_there] = pipe();
    auto [b_here, b_there] = pipe();
    auto [c_here, c_there] = pipe(false);
    auto [d_here, d_there] = pipe();   // captured by reference: closed in the child
    auto [e_here, e_there] = pipe();   // never given: closed in the child, so e_there sees end of file
    connection& d = d_there;
    forked_process p(
        [b = std::move(b_there), &d](connection a, pair_of_ends cd) mutable {
            a.send(1);
            b.send(2);
            cd.out.send(3);
            try {
                d.send(4);
                a.send(std::string("used the parent's end"));
            } catch (const std::logic_error& e) {
                a.send(std::string(e.what()));
            }
            a.recv<int>();   // still running while the parent looks for end of file on e
        },
        std::move(a_there), pair_of_ends{connection(), std::move(c_there)});
    p.start();
    cr_assert_eq(a_here.recv<int>(), 1);
    cr_assert_eq(b_here.recv<int>(), 2);
    cr_assert_eq(c_here.recv<int>(), 3);
    std::string msg = a_here.recv<std::string>();
    cr_assert(msg.find("closed in this forked child") != std::string::npos, "%s", msg.c_str());
    e_here.close();   // the running child holds no copy of it
    cr_assert_throw(e_there.recv<int>(), eof_error);
    a_here.send(0);
    p.join();
    cr_assert_eq(*p.exitcode(), 0);
    cr_assert(!d.closed());   // the parent's own objects are untouched
}

// ---- on a loop ---------------------------------------------------------------

namespace {

task<std::uint64_t> async_ping_pong(connection& c, int rounds) {
    std::uint64_t total = 0;
    for (int i = 0; i < rounds; ++i) {
        co_await c.async_send(i);
        int back = co_await c.async_recv<int>();
        CHECK_EQ(back, i + 1);
        total += std::uint64_t(back);
    }
    co_return total;
}

task<void> async_big(connection& c, std::string m) {
    co_await c.async_send_bytes(m);
    std::string back = co_await c.async_recv_bytes();
    CHECK(back == m);
    std::vector<std::string> two{m, "tail"};   // g++ 12: no braced list inside co_await
    co_await c.async_send(two);
    auto v = co_await c.async_recv<std::vector<std::string>>();
    CHECK(v.size() == 2 && v[0] == m && v[1] == "tail");
}

// One task waits in async_recv on `in` while another sends on `out`; the
// child forwards from out to in.  A recv that blocked the thread would hang here.
task<int> recv_while_another_task_sends(connection& in, connection& out) {
    loop& lp = loop::current();
    auto receiver = [](connection& c) -> task<int> {
        int sum = 0;
        for (int i = 0; i < 100; ++i) sum += co_await c.async_recv<int>();
        co_return sum;
    };
    job<int> r = lp.spawn(receiver(in));
    for (int i = 0; i < 100; ++i) {
        co_await out.async_send(i);
        if (i % 10 == 0) co_await lp.sleep_for(1ms);
    }
    co_return co_await r;
}

task<std::string> async_recv_until_eof(connection& c) {
    std::string got;
    try {
        for (;;) got += co_await c.async_recv<std::string>();
    } catch (const eof_error&) {
        got += "|eof";
    }
    co_return got;
}

// Half a message is there; the task reading it is cancelled; the rest comes;
// the next recv has all of it.
task<std::string> cancelled_recv_loses_nothing(connection& r, int wfd) {
    loop& lp = loop::current();
    std::string frame(8, '\0');
    std::uint64_t len = 10;
    std::memcpy(frame.data(), &len, 8);
    write_all(wfd, frame + "01234");
    job<std::string> j = lp.spawn(r.async_recv_bytes());
    for (int i = 0; i < 5; ++i) co_await lp.sleep_for(1ms);
    CHECK(!j.done());
    j.cancel();
    try {
        co_await j;
    } catch (const cancelled_error&) {
    }
    CHECK(j.cancelled());
    write_all(wfd, std::string("56789"));
    co_return co_await r.async_recv_bytes();
}

forked_process adder(connection c) {
    return forked_process(
        [](connection c) {
            try {
                for (;;) c.send(c.recv<int>() + 1);
            } catch (const eof_error&) {
            }
        },
        std::move(c));
}

}  // namespace

CORO_TEST(connection, async_recv_and_send_on_a_loop_play_ping_pong, .timeout = 120) {
    auto [here, there] = pipe();
    forked_process p = adder(std::move(there));
    p.start();
    loop lp;
    std::uint64_t total = lp.run(async_ping_pong(here, 5000));
    CHECK_EQ(total, std::uint64_t(5000) * 5001 / 2);
    here.close();
    p.join();
    CHECK_EQ(*p.exitcode(), 0);
}

CORO_TEST(connection, async_messages_of_several_megabytes_both_ways, .timeout = 120) {
    auto [here, there] = pipe();
    forked_process echo(
        [](connection c) {
            c.send_bytes(c.recv_bytes());
            c.send(c.recv<std::vector<std::string>>());
        },
        std::move(there));
    echo.start();
    loop lp;
    lp.run(async_big(here, random_bytes(big, 7)));
    echo.join();
    CHECK_EQ(*echo.exitcode(), 0);
}

CORO_TEST(connection, async_recv_suspends_the_task_not_the_thread, .timeout = 120) {
    auto [in_here, in_there] = pipe(false);   // child -> us
    auto [out_there, out_here] = pipe(false);   // us -> child
    forked_process fwd(
        [](connection from, connection to) {
            for (int i = 0; i < 100; ++i) to.send(from.recv<int>());
        },
        std::move(out_there), std::move(in_there));
    fwd.start();
    loop lp;
    CHECK_EQ(lp.run(recv_while_another_task_sends(in_here, out_here)), 4950);
    fwd.join();
    // End of file on the loop, after what was sent.
    auto [a, b] = pipe();
    b.send(std::string("x"));
    b.send(std::string("y"));
    b.close();
    CHECK_EQ(lp.run(async_recv_until_eof(a)), std::string("xy|eof"));
}

CORO_TEST(connection, a_cancelled_async_recv_loses_nothing) {
    auto [r, w] = pipe(false);
    loop lp;
    CHECK_EQ(lp.run(cancelled_recv_loses_nothing(r, w.fd())), std::string("0123456789"));
}

// Under ASan, when Criterion runs these tests two at a time, LeakSanitizer
// reports 96 bytes that Criterion callocs inside libcriterion.so and never
// frees (one at a time: nothing; every test alone: nothing).  Criterion's,
// not ours, as in supervisor_test.cpp: suppressed.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcriterion.so\n"; }
