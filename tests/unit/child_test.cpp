// child.hpp: pipes, exit, stop(grace) on whole groups, the parent-death signal.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "conc/child.hpp"
#include "conc/signals.hpp"
#include "coro_test.hpp"

using namespace conc;
using namespace std::chrono_literals;

// Reads fd to end of file, waiting at most `limit` for each piece: true if it got there.
static bool reaches_eof(int fd, std::string& out, int limit_ms = 20000) {
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, limit_ms) <= 0) return false;
        long n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return n == 0;
        out.append(buf, std::size_t(n));
    }
}

static task<std::string> read_to_end(unique_fd& fd) {
    std::string s;
    char buf[4096];
    for (;;) {
        co_await loop::current().readable(fd.get());
        long n = read_some(fd.get(), buf, sizeof buf);
        if (n <= 0) break;
        s.append(buf, std::size_t(n));
    }
    co_return s;
}

static task<std::string> echo_through(loop& lp) {
    child_spec spec;
    spec.argv = {"tr", "a-z", "A-Z"};
    spec.in = child_io::pipe();
    spec.out = child_io::pipe();
    child c(lp, std::move(spec));
    write_all(c.in().get(), "hello\n");
    c.in().reset();   // end of file for tr
    std::string out = co_await read_to_end(c.out());
    exit_status st = co_await c.exited();
    co_return out + st.describe();
}

CORO_TEST(child, pipes_carry_input_and_output_and_exited_gives_the_status) {
    ignore_sigpipe();
    loop lp;
    for (int round = 0; round < 50; ++round) CHECK_EQ(lp.run(echo_through(lp)), std::string("HELLO\nexit 0"));
}

static task<int> two_waiters(loop& lp) {
    child c(lp, child_spec{.argv = {"sh", "-c", "exit 7"}});
    auto a = lp.spawn(c.exited());
    auto b = lp.spawn(c.exited());
    exit_status x = co_await a, y = co_await b;
    co_return x.code() * 10 + y.code();
}

CORO_TEST(child, several_tasks_may_await_the_exit) {
    loop lp;
    for (int round = 0; round < 20; ++round) CHECK_EQ(lp.run(two_waiters(lp)), 77);
}

Test(child, not_found_is_127_and_not_executable_is_126_with_the_parent_death_path) {
    loop lp;
    try {
        child c(lp, child_spec{.argv = {"/no/such/command"}});
        cr_assert_fail("no exception");
    } catch (const spawn_error& e) {
        cr_assert_eq(e.exit_code(), 127);
    }
    try {
        child c(lp, child_spec{.argv = {"/dev/null"}});
        cr_assert_fail("no exception");
    } catch (const spawn_error& e) {
        cr_assert_eq(e.exit_code(), 126);
    }
}

static task<std::string> try_spawn_then_report(loop& lp, std::vector<std::string> argv) {
    auto started = try_spawn(lp, child_spec{.argv = std::move(argv)});
    if (auto* e = std::get_if<spawn_error>(&started)) {
        co_await lp.yield();   // what a handler could not do
        co_return "failed " + std::to_string(e->exit_code()) + " " + e->command();
    }
    exit_status st = co_await std::get<child>(started).exited();
    co_return st.describe();
}

CORO_TEST(child, try_spawn_gives_the_spawn_error_instead_of_throwing_it) {
    loop lp;
    for (int round = 0; round < 20; ++round) {
        CHECK_EQ(lp.run(try_spawn_then_report(lp, {"/no/such/command"})), std::string("failed 127 /no/such/command"));
        CHECK_EQ(lp.run(try_spawn_then_report(lp, {"/dev/null"})), std::string("failed 126 /dev/null"));
        CHECK_EQ(lp.run(try_spawn_then_report(lp, {"sh", "-c", "exit 3"})), std::string("exit 3"));
    }
}

// The leader exits at once; its child keeps the output pipe and ignores TERM.
// stop() must KILL it after the grace: the pipe then reaches end of file.
static task<std::string> stop_orphaned_grandchild(loop& lp) {
    child_spec spec;
    spec.argv = {"sh", "-c", "trap '' TERM; (sleep 300; echo never) & echo started"};
    spec.out = child_io::pipe();
    child c(lp, std::move(spec));
    exit_status st = co_await c.exited();
    co_await c.stop(100ms);
    std::string out = co_await read_to_end(c.out());
    co_return st.describe() + ":" + out;
}

CORO_TEST(child, stop_kills_grandchildren_after_the_leader_has_exited) {
    loop lp;
    CHECK_EQ(lp.run(stop_orphaned_grandchild(lp)), std::string("exit 0:started\n"));
}

static task<std::string> stop_a_stubborn_leader(loop& lp) {
    child_spec spec;
    spec.argv = {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"};
    spec.out = child_io::pipe();
    child c(lp, std::move(spec));
    char buf[6];
    co_await lp.readable(c.out().get());
    read_full(c.out().get(), buf, 6);   // "ready\n": the trap is set
    auto stopping = lp.spawn(c.stop(50ms));
    exit_status st = co_await c.exited();
    co_await stopping;
    co_return st.describe();
}

CORO_TEST(child, stop_sends_kill_after_the_grace_when_term_is_ignored) {
    loop lp;
    CHECK_EQ(lp.run(stop_a_stubborn_leader(lp)), std::string("killed by signal 9"));
}

static task<int> stop_a_polite_leader(loop& lp) {
    child c(lp, child_spec{.argv = {"sleep", "300"}});
    auto t0 = clock::now();
    auto stopping = lp.spawn(c.stop(60s));
    exit_status st = co_await c.exited();
    co_await stopping;
    // TERM did it: stop() returned long before its 60 s grace.
    co_return clock::now() - t0 < 30s ? st.signal() : -1;
}

CORO_TEST(child, stop_returns_as_soon_as_the_group_is_gone) {
    loop lp;
    CHECK_EQ(lp.run(stop_a_polite_leader(lp)), SIGTERM);
}

// A process starts a child with the parent-death signal, then dies: the child
// must go too, which the test sees as end of file on the child's stdout.
Test(child, parent_death_signal_kills_the_child_when_its_parent_dies) {
    auto out = make_pipe();
    pid_t middle = ::fork();
    if (middle == 0) {
        spawn_spec s;
        s.argv = {"sleep", "300"};
        s.out = stdio::to(out.write.get());
        s.parent_death_signal = SIGKILL;
        process p = spawn(s);
        ::_exit(0);
    }
    out.write.reset();
    int st;
    ::waitpid(middle, &st, 0);
    std::string got;
    cr_assert(reaches_eof(out.read.get(), got), "the child outlived its parent");
}

Test(child, dropping_a_running_child_kills_its_group) {
    loop lp;
    child_spec spec;
    spec.argv = {"sh", "-c", "sleep 300 & sleep 300"};
    spec.out = child_io::pipe();
    unique_fd r;
    {
        child c(lp, std::move(spec));
        r = std::move(c.out());
    }
    std::string got;
    cr_assert(reaches_eof(r.get(), got), "the group outlived its child object");
}
