#include <criterion/criterion.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conc/connection.hpp"
#include "conc/fd.hpp"
#include "conc/forked_process.hpp"
#include "conc/loop.hpp"
#include "conc/process.hpp"
#include "coro_test.hpp"
#include "fd_redirect.hpp"

using namespace conc;
using namespace std::chrono_literals;

namespace {

// A child that waits for one message from the test before it returns.
forked_process blocker(connection& release) {
    auto [here, there] = pipe();
    release = std::move(here);
    return forked_process([](connection c) { c.recv<int>(); }, std::move(there));
}

// Reaps pid (ours, or an orphan handed to us as subreaper) once it has ended:
// looks every few milliseconds, for at most a generous bound.
std::optional<exit_status> reap_within(pid_t pid, clock::duration bound) {
    auto deadline = clock::now() + bound;
    while (clock::now() < deadline) {
        if (auto s = try_reap(pid)) return s;
        std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
}

// Every child of this test process has been reaped: no zombie left.
void assert_no_children_left() {
    errno = 0;
    cr_assert_eq(::waitpid(-1, nullptr, WNOHANG), -1, "a child of the test is left");
    cr_assert_eq(errno, ECHILD);
}

// What the children write on stderr, through a pipe, while it lives.
class stderr_capture {
public:
    stderr_capture() : p_(make_pipe()), redirect_(2, p_.write.get()) {}   // stderr has no buffer to flush
    // Restores stderr; returns what was written, once every writer is gone.
    std::string finish() {
        std::fflush(stderr);
        redirect_.restore();
        p_.write.reset();
        return read_all(p_.read.get());
    }

private:
    pipe_pair p_;
    fd_redirect redirect_;
};

}  // namespace

Test(forked_process, runs_the_function_with_its_arguments_and_exits_0) {
    auto [here, there] = pipe();
    forked_process p([](connection c, int a, std::string b) { c.send(b + std::to_string(a)); }, std::move(there), 42,
                     std::string("answer "));
    cr_assert_eq(p.pid(), -1);
    cr_assert(!p.is_alive());
    cr_assert(!p.exitcode());
    p.start();
    cr_assert_gt(p.pid(), 0);
    cr_assert_eq(here.recv<std::string>(), std::string("answer 42"));
    p.join();
    cr_assert(!p.is_alive());
    cr_assert_eq(p.exitcode(), std::optional<int>(0));
    p.join();   // again: nothing to wait for
    assert_no_children_left();
}

Test(forked_process, is_alive_and_exitcode_while_it_runs_then_after) {
    connection release;
    forked_process p = blocker(release);
    p.start();
    cr_assert(p.is_alive());
    cr_assert(!p.exitcode());
    release.send(1);
    p.join();
    cr_assert(!p.is_alive());
    cr_assert_eq(*p.exitcode(), 0);
}

Test(forked_process, system_exit_sets_the_exit_code_through_a_catch_of_std_exception) {
    forked_process p([] {
        try {
            throw system_exit{3};
        } catch (const std::exception&) {
            std::_Exit(99);   // must not be reached: system_exit is not a std::exception
        }
    });
    p.start();
    p.join();
    cr_assert_eq(*p.exitcode(), 3);
}

Test(forked_process, an_uncaught_exception_prints_one_line_and_exits_1) {
    stderr_capture err;
    forked_process p([] { throw std::runtime_error("bad input"); });
    p.name("cruncher");
    p.start();
    forked_process q([] { throw 42; });
    q.start();
    p.join();
    q.join();
    std::string text = err.finish();
    cr_assert_eq(*p.exitcode(), 1);
    cr_assert_eq(*q.exitcode(), 1);
    cr_assert(text.find("libconc: process cruncher: bad input\n") != std::string::npos, "stderr: %s", text.c_str());
    cr_assert(text.find("libconc: process " + q.name() + ": unknown exception\n") != std::string::npos,
              "stderr: %s", text.c_str());
    std::size_t lines = 0;
    for (char c : text) lines += c == '\n';
    cr_assert_eq(lines, 2u, "stderr: %s", text.c_str());
}

Test(forked_process, names_default_to_python_s_and_can_be_set) {
    forked_process a([] {}), b([] {});
    cr_assert_eq(a.name().rfind("Process-", 0), 0u);
    cr_assert_neq(a.name(), b.name());
    cr_assert_eq(b.name("b").name(), std::string("b"));
}

Test(forked_process, terminate_and_kill_give_minus_the_signal) {
    connection r1, r2;
    forked_process t = blocker(r1), k = blocker(r2);
    t.start();
    k.start();
    t.terminate();
    k.kill();
    t.join();
    k.join();
    cr_assert_eq(*t.exitcode(), -SIGTERM);
    cr_assert_eq(*k.exitcode(), -SIGKILL);
    t.terminate();   // reaped: nothing is sent, nothing thrown
    k.kill();
    cr_assert_eq(*t.exitcode(), -SIGTERM);
}

Test(forked_process, join_with_a_timeout_says_whether_it_ended) {
    connection release;
    forked_process p = blocker(release);
    p.start();
    auto t0 = clock::now();
    cr_assert(!p.join(50ms));
    cr_assert_geq(clock::now() - t0, 50ms);
    cr_assert(!p.join(0s));
    cr_assert(p.is_alive());
    release.send(1);
    cr_assert(p.join(60s));
    cr_assert_eq(*p.exitcode(), 0);
    cr_assert(p.join(0s));   // ended already
    cr_assert(p.join(std::chrono::duration<double>(0.01)));
}

Test(forked_process, misuse_is_a_logic_error) {
    forked_process p([] {});
    cr_assert_throw(p.join(), std::logic_error);
    cr_assert_throw(p.join(1ms), std::logic_error);
    cr_assert_throw(p.terminate(), std::logic_error);
    cr_assert_throw(p.kill(), std::logic_error);
    p.start();
    cr_assert_throw(p.start(), std::logic_error);
    cr_assert_throw(p.daemon(true), std::logic_error);
    p.join();
    forked_process moved = std::move(p);
    cr_assert_eq(*moved.exitcode(), 0);
}

Test(forked_process, the_parent_drops_its_copy_of_the_arguments_at_start) {
    auto shared = std::make_shared<int>(1);
    forked_process p([](std::shared_ptr<int> s) { throw system_exit{*s + 1}; }, shared);
    cr_assert_eq(shared.use_count(), 2);
    p.start();
    cr_assert_eq(shared.use_count(), 1);
    p.join();
    cr_assert_eq(*p.exitcode(), 2);
    // A move-only argument: the end moved in is closed here, so its peer
    // sees end of file once the child has ended.
    auto [here, there] = pipe();
    forked_process q([](connection c) { c.send(7); }, std::move(there));
    q.start();
    cr_assert_eq(here.recv<int>(), 7);
    q.join();
    cr_assert_throw(here.recv<int>(), eof_error);
}

static int atexit_fd = -1;
static void write_atexit() {
    if (atexit_fd >= 0) (void)!::write(atexit_fd, "atexit ", 7);
}

Test(forked_process, stdio_is_flushed_once_and_the_child_skips_atexit) {
    pipe_pair p = make_pipe();
    atexit_fd = p.write.get();
    std::atexit(write_atexit);
    FILE* f = ::fdopen(::dup(p.write.get()), "w");
    cr_assert(f);
    std::setvbuf(f, nullptr, _IOFBF, 4096);
    std::fputs("parent ", f);   // buffered: the fork must not copy it into the child
    forked_process c([f] { std::fputs("child ", f); });   // flushed at the child's exit
    c.start();
    c.join();
    std::fclose(f);
    atexit_fd = -1;
    p.write.reset();
    cr_assert_eq(read_all(p.read.get()), std::string("parent child "));
}

Test(forked_process, a_daemon_dies_with_its_parent_and_a_non_daemon_does_not, .timeout = 120) {
    cr_assert_eq(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);   // orphans come to us: we can reap them
    for (int round = 0; round < 6; ++round) {
        bool daemon = round % 2 == 0;
        bool parent_killed = round % 3 == 2;   // the middle process killed with SIGKILL, or leaving by _exit
        auto [here, there] = pipe();
        forked_process middle(
            [daemon](connection c) {
                forked_process grandchild([] {
                    for (;;) ::pause();
                });
                grandchild.daemon(daemon).start();
                c.send(grandchild.pid());
                c.recv<int>();
                ::_exit(0);   // without destroying grandchild: only the parent-death signal can stop it
            },
            std::move(there));
        middle.start();
        pid_t g = here.recv<pid_t>();
        cr_assert_eq(::kill(g, 0), 0);
        if (parent_killed) middle.kill();
        else here.send(1);
        middle.join();
        cr_assert_eq(*middle.exitcode(), parent_killed ? -SIGKILL : 0);
        if (daemon) {
            auto st = reap_within(g, 60s);
            if (!st) ::kill(g, SIGKILL);   // not left behind by a failing test
            cr_assert(st, "round %d: the daemon outlived its parent", round);
            cr_assert(st->signaled() && st->signal() == SIGKILL, "round %d: %s", round, st->describe().c_str());
        } else {
            cr_assert_eq(::kill(g, 0), 0, "round %d: a non-daemon died with its parent", round);
            cr_assert(!try_reap(g));
            ::kill(g, SIGTERM);
            exit_status st = reap(g);
            cr_assert(st.signaled() && st.signal() == SIGTERM, "round %d: %s", round, st.describe().c_str());
        }
        errno = 0;
        cr_assert(::kill(g, 0) == -1 && errno == ESRCH);
    }
    assert_no_children_left();
}

Test(forked_process, destroying_a_running_one_kills_a_daemon_and_joins_the_others) {
    pid_t pid;
    {
        forked_process d([] {
            for (;;) ::pause();
        });
        d.daemon(true).start();
        pid = d.pid();
    }
    errno = 0;
    cr_assert(::kill(pid, 0) == -1 && errno == ESRCH, "the daemon is still there");   // killed and reaped
    pipe_pair p = make_pipe();
    {
        forked_process slow([&p] {
            std::this_thread::sleep_for(100ms);
            write_all(p.write.get(), "done");
        });
        slow.start();
        pid = slow.pid();
    }
    errno = 0;
    cr_assert(::kill(pid, 0) == -1 && errno == ESRCH, "the child was not joined");
    p.write.reset();
    cr_assert_eq(read_all(p.read.get()), std::string("done"));
    assert_no_children_left();
}

Test(forked_process, many_children_each_exit_with_their_own_code, .timeout = 120) {
    for (int round = 0; round < 5; ++round) {
        std::vector<forked_process> ps;
        for (int i = 0; i < 40; ++i) ps.emplace_back([](int code) { throw system_exit{code}; }, round * 40 + i);
        for (auto& p : ps) p.start();
        for (std::size_t i = 0; i < ps.size(); ++i) {
            if (i % 2) ps[i].join();
            else cr_assert(ps[i].join(60s));
            cr_assert_eq(*ps[i].exitcode(), round * 40 + int(i));
        }
        assert_no_children_left();
    }
}

// ---- on a loop ---------------------------------------------------------------

namespace {

task<std::vector<int>> join_all(std::vector<forked_process>& ps) {
    loop& lp = loop::current();
    std::vector<job<int>> js;
    for (auto& p : ps) js.push_back(lp.spawn(p.async_join()));
    std::vector<int> codes;
    for (auto& j : js) codes.push_back(co_await j);
    co_return codes;
}

task<int> terminated_while_awaited() {
    loop& lp = loop::current();
    connection release;
    forked_process p = blocker(release);
    p.start();
    job<int> j = lp.spawn(p.async_join());
    co_await lp.yield();
    co_await lp.yield();
    CHECK(!j.done());
    p.terminate();
    co_return co_await j;
}

// In the child: a loop of its own, awaiting a command's exit (SIGCHLD handled
// by this loop, not by the parent's).
task<int> child_loop_body() {
    spawn_spec s;
    s.argv = {"sh", "-c", "exit 7"};
    process cmd = spawn(s);
#if defined(__SANITIZE_THREAD__)
    // TSan stops running signal handlers in a child forked from a process
    // with threads (Criterion's worker has two): wait for the exit without
    // reaping, so that child_exit finds it at once.  It still takes SIGCHLD
    // for this loop, which a stale signal pipe of the parent's would refuse.
    siginfo_t info;
    ::waitid(P_PID, id_t(cmd.pid()), &info, WEXITED | WNOWAIT);
#endif
    exit_status st = co_await loop::current().child_exit(cmd);
    co_await loop::current().sleep_for(1ms);
    co_return st.code();
}

task<int> child_runs_its_own_loop() {
    loop& lp = loop::current();
    connection release;
    forked_process first = blocker(release);
    first.start();
    job<int> j1 = lp.spawn(first.async_join());   // the parent's loop now handles SIGCHLD
    co_await lp.yield();
    forked_process second([] {
        loop own;
        throw system_exit{own.run(child_loop_body())};
    });
    second.start();
    int code = co_await second.async_join();
    release.send(1);
    CHECK_EQ(co_await j1, 0);
    co_return code;
}

}  // namespace

CORO_TEST(forked_process, async_join_on_a_loop_returns_each_exit_code, .timeout = 120) {
    for (int round = 0; round < 5; ++round) {
        std::vector<forked_process> ps;
        ps.reserve(30);   // async_join holds the object: no reallocation after it starts
        for (int i = 0; i < 30; ++i) ps.emplace_back([](int code) { throw system_exit{code}; }, i);
        for (auto& p : ps) p.start();
        loop lp;
        std::vector<int> codes = lp.run(join_all(ps));
        for (int i = 0; i < 30; ++i) CHECK_EQ(codes[std::size_t(i)], i);
        for (auto& p : ps) CHECK(!p.is_alive());
    }
    loop lp;
    CHECK_EQ(lp.run(terminated_while_awaited()), -SIGTERM);
    assert_no_children_left();
}

CORO_TEST(forked_process, the_child_is_outside_the_parent_s_loop_and_may_run_its_own) {
    loop lp;
    CHECK_EQ(lp.run(child_runs_its_own_loop()), 7);
    assert_no_children_left();
}
