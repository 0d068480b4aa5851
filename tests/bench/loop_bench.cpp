// loop_bench: the cost of conc::loop's own machinery.
//
//   pingpong_conc / pingpong_poll   two tasks pass one byte back and forth over
//       a pair of non-blocking pipes; the peer is a hand-written poll(2) loop
//       doing exactly the same with two state machines in this thread.
//   channel_1m    1,000,000 ints through a rendezvous channel<int>.
//   timers_100k   100,000 spawned tasks, each sleeping a distinct duration
//       (0 to 10 ms, armed in shuffled order), awaited one by one.
//   gather_timers_100k   the same sleepers awaited with one gather().
//
// Prints "name<TAB>median seconds" per figure (median of RUNS runs, default 5).
// Usage: loop_bench [pingpong|channel_1m|timers_100k|gather_timers_100k ...]
//        (default: all)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <vector>

#include "conc/co_sync.hpp"
#include "conc/loop.hpp"
#include "conc/wait.hpp"

using namespace conc;
using bench_clock = std::chrono::steady_clock;

static int runs = 5;

static double median_seconds(const std::function<void()>& fn) {
    std::vector<double> t;
    for (int r = 0; r < runs; ++r) {
        auto t0 = bench_clock::now();
        fn();
        t.push_back(std::chrono::duration<double>(bench_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// Two figures measured in alternation (a, b, a, b, ...) so that the noise of
// a shared machine falls on both alike; reports both medians.
static void median_pair(const char* name_a, void (*a)(), const char* name_b, void (*b)());

static void report(const char* name, double s) {
    std::printf("%s\t%.6f\n", name, s);
    std::fflush(stdout);
}

[[noreturn]] static void die(const char* what) {
    std::fprintf(stderr, "loop_bench: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

// ---- (a) ping-pong over two pipes -----------------------------------------

constexpr int pingpong_rounds = 200000;

static task<void> ping(int out, int in, int rounds) {
    char b = 'x';
    for (int i = 0; i < rounds; ++i) {
        if (write_some(out, &b, 1) != 1) throw std::runtime_error("ping: write");
        co_await loop::current().readable(in);
        if (read_some(in, &b, 1) != 1) throw std::runtime_error("ping: read");
    }
}

static task<void> pong(int in, int out, int rounds) {
    char b;
    for (int i = 0; i < rounds; ++i) {
        co_await loop::current().readable(in);
        if (read_some(in, &b, 1) != 1) throw std::runtime_error("pong: read");
        if (write_some(out, &b, 1) != 1) throw std::runtime_error("pong: write");
    }
}

static task<void> pingpong_main(int p1w, int p1r, int p2w, int p2r, int rounds) {
    auto& lp = loop::current();
    auto a = lp.spawn(ping(p1w, p2r, rounds));
    auto b = lp.spawn(pong(p1r, p2w, rounds));
    co_await a;
    co_await b;
}

static void pingpong_conc() {
    pipe_pair p1 = make_pipe(O_NONBLOCK), p2 = make_pipe(O_NONBLOCK);
    loop lp;
    lp.run(pingpong_main(p1.write.get(), p1.read.get(), p2.write.get(), p2.read.get(), pingpong_rounds));
}

// The same with poll(2) by hand: A writes pipe1 then waits to read pipe2;
// B waits to read pipe1, then writes pipe2.  Each poll() waits on the fds of
// the machines that are waiting, as the loop does.
static void pingpong_poll() {
    pipe_pair p1 = make_pipe(O_NONBLOCK), p2 = make_pipe(O_NONBLOCK);
    int p1r = p1.read.get(), p1w = p1.write.get(), p2r = p2.read.get(), p2w = p2.write.get();
    enum state { must_write, must_read, finished };
    state a = must_write, b = must_read;
    int a_left = pingpong_rounds, b_left = pingpong_rounds;
    char buf = 'x';
    while (a != finished || b != finished) {
        if (a == must_write) {
            if (::write(p1w, &buf, 1) != 1) die("write");
            a = must_read;
        }
        pollfd fds[2];
        nfds_t n = 0;
        int ia = -1, ib = -1;
        if (b == must_read) { ib = int(n); fds[n++] = {p1r, POLLIN, 0}; }
        if (a == must_read) { ia = int(n); fds[n++] = {p2r, POLLIN, 0}; }
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (ib >= 0 && fds[ib].revents) {
            if (::read(p1r, &buf, 1) != 1) die("read");
            if (::write(p2w, &buf, 1) != 1) die("write");
            b = --b_left ? must_read : finished;
        }
        if (ia >= 0 && fds[ia].revents) {
            if (::read(p2r, &buf, 1) != 1) die("read");
            a = --a_left ? must_write : finished;
        }
    }
}

// ---- (b) channel<int> -----------------------------------------------------

constexpr int channel_items = 1000000;

static task<void> producer(channel<int>& ch, int n) {
    for (int i = 0; i < n; ++i) co_await ch.send(i);
    ch.close();
}

static task<long> consumer(channel<int>& ch) {
    long received = 0, sum = 0;
    while (auto v = co_await ch.receive()) {
        ++received;
        sum += *v;
    }
    if (sum != long(channel_items) * (channel_items - 1) / 2) throw std::runtime_error("channel: bad sum");
    co_return received;
}

static task<long> channel_main(int n) {
    channel<int> ch(0);
    auto& lp = loop::current();
    auto c = lp.spawn(consumer(ch));
    auto p = lp.spawn(producer(ch, n));
    co_await p;
    co_return co_await c;
}

static void channel_1m() {
    loop lp;
    if (lp.run(channel_main(channel_items)) != channel_items) throw std::runtime_error("channel: lost items");
}

// ---- (c) timers ------------------------------------------------------------

constexpr int timer_count = 100000;

static task<void> sleeper(std::chrono::nanoseconds d) { co_await loop::current().sleep_for(d); }

// Distinct durations 0 .. 10 ms in a scrambled order, so the heap does real work.
static std::chrono::nanoseconds timer_delay(int i) {
    return std::chrono::nanoseconds((long(i) * 7919 % timer_count) * 100);
}

static task<void> timers_main(int n) {
    auto& lp = loop::current();
    std::vector<job<void>> jobs;
    jobs.reserve(std::size_t(n));
    for (int i = 0; i < n; ++i) jobs.push_back(lp.spawn(sleeper(timer_delay(i))));
    for (auto& j : jobs) co_await j;
}

static task<void> gather_timers_main(int n) {
    std::vector<task<void>> ts;
    ts.reserve(std::size_t(n));
    for (int i = 0; i < n; ++i) ts.push_back(sleeper(timer_delay(i)));
    co_await gather(std::move(ts));
}

static void timers_100k() {
    loop lp;
    lp.run(timers_main(timer_count));
}

static void gather_timers_100k() {
    loop lp;
    lp.run(gather_timers_main(timer_count));
}

static void median_pair(const char* name_a, void (*a)(), const char* name_b, void (*b)()) {
    std::vector<double> ta, tb;
    for (int r = 0; r < runs; ++r) {
        for (int k = 0; k < 2; ++k) {
            bool first = (k == 0) == (r % 2 == 0);   // ab, ba, ab, ...
            auto t0 = bench_clock::now();
            (first ? a : b)();
            (first ? ta : tb).push_back(std::chrono::duration<double>(bench_clock::now() - t0).count());
        }
    }
    std::sort(ta.begin(), ta.end());
    std::sort(tb.begin(), tb.end());
    report(name_a, ta[ta.size() / 2]);
    report(name_b, tb[tb.size() / 2]);
}

int main(int argc, char** argv) {
    if (const char* r = std::getenv("RUNS")) runs = std::max(1, std::atoi(r));
    struct figure {
        const char* name;
        void (*fn)();
    };
    const figure figures[] = {
        {"pingpong", nullptr},   // pingpong_conc and pingpong_poll, alternated
        {"channel_1m", channel_1m},
        {"timers_100k", timers_100k},
        {"gather_timers_100k", gather_timers_100k},
    };
    std::vector<std::string> want(argv + 1, argv + argc);
    try {
        for (const auto& f : figures)
            if (want.empty() || std::find(want.begin(), want.end(), f.name) != want.end())
            {
                if (f.fn) report(f.name, median_seconds(f.fn));
                else median_pair("pingpong_conc", pingpong_conc, "pingpong_poll", pingpong_poll);
            }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loop_bench: %s\n", e.what());
        return 1;
    }
}
