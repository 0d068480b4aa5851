// supervisor: exit_tally, fill_standard_fds, stopping children (grace, KILL,
// late adoption, lingering groups) and the signals INT, TERM and HUP.
// Real children through conc::child.  Coroutines are free functions taking
// their state by reference (g++ 12: no coroutine lambdas in Test bodies, no
// cr_assert in coroutines).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "conc/child.hpp"
#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/signals.hpp"
#include "coro_test.hpp"
#include "messages.hpp"
#include "supervisor.hpp"

using namespace conc;
using namespace std::chrono_literals;
using cli::exit_tally;
using cli::supervisor;

// ---- exit_tally ----------------------------------------------------------

Test(supervisor, tally_code_takes_the_most_serious_cause) {
    exit_tally t;
    cr_assert_eq(t.code(), 0);
    t.job_ended(true);
    cr_assert_eq(t.code(), 0);
    t.job_ended(false);
    cr_assert_eq(t.code(), cli::exit_failed);
    t.decided = 0;   // --halt success: the policy's status wins over failures
    cr_assert_eq(t.code(), 0);
    t.decided = 1;
    cr_assert_eq(t.code(), 1);
    t.timed_out = true;
    cr_assert_eq(t.code(), cli::exit_timeout);
    t.cannot_run = 127;
    cr_assert_eq(t.code(), 127);
    t.cannot_run = 126;
    cr_assert_eq(t.code(), 126);
    t.internal_error = true;
    cr_assert_eq(t.code(), cli::exit_internal);
    t.reader_gone = true;
    cr_assert_eq(t.code(), 128 + SIGPIPE);
    t.signal = SIGTERM;
    cr_assert_eq(t.code(), 128 + SIGTERM);
    t.signal = SIGINT;
    cr_assert_eq(t.code(), 130);
}

Test(supervisor, tally_each_cause_alone) {
    exit_tally a;
    a.signal = SIGHUP;
    cr_assert_eq(a.code(), 129);
    exit_tally b;
    b.reader_gone = true;
    cr_assert_eq(b.code(), 141);
    exit_tally c;
    c.internal_error = true;
    cr_assert_eq(c.code(), 125);
    exit_tally d;
    d.cannot_run = 126;
    cr_assert_eq(d.code(), 126);
    exit_tally e;
    e.timed_out = true;
    cr_assert_eq(e.code(), 124);
    exit_tally f;
    f.decided = 0;
    cr_assert_eq(f.code(), 0);
    exit_tally g;
    g.failed = 1;
    cr_assert_eq(g.code(), 123);
}

Test(supervisor, tally_summary_speaks_only_when_failures_decide_the_status) {
    exit_tally t;
    cr_assert_eq(t.summary(), "");
    for (int i = 0; i < 200; ++i) t.job_ended(i % 70 != 5);   // 5, 75, 145 fail
    cr_assert_eq(t.finished, 200u);
    cr_assert_eq(t.failed, 3u);
    cr_assert_eq(t.summary(), "3 of 200 jobs failed");
    cr_assert_eq(t.summary("commands"), "3 of 200 commands failed");
    exit_tally d = t;
    d.decided = 0;
    cr_assert_eq(d.summary(), "");
    exit_tally s = t;
    s.signal = SIGINT;
    cr_assert_eq(s.summary(), "");
    exit_tally r = t;
    r.reader_gone = true;
    cr_assert_eq(r.summary(), "");
    exit_tally ok;
    for (int i = 0; i < 10; ++i) ok.job_ended(true);
    cr_assert_eq(ok.summary(), "");
}

// ---- fill_standard_fds ---------------------------------------------------

namespace {

// In a forked child: closes the fds in `closed`, calls fill_standard_fds()
// and checks what the header promises.  The exit code names the first broken promise.
int check_filled(std::vector<int> closed) {
    for (int fd : closed) ::close(fd);
    cli::fill_standard_fds();
    for (int fd = 0; fd <= 2; ++fd)
        if (::fcntl(fd, F_GETFD) < 0) return 10 + fd;   // still closed
    for (int fd : closed) {
        char c;
        if (fd == 0) {
            if (::read(0, &c, 1) != 0) return 20;   // end of file at once
            continue;
        }
        errno = 0;
        if (::write(fd, "x", 1) != -1 || errno != EBADF) return 30 + fd;   // writing fails, visibly
    }
    int p[2];
    if (::pipe(p) != 0) return 40;
    if (p[0] <= 2 || p[1] <= 2) return 41;   // no pipe takes a standard number
    return 0;
}

int run_forked(std::vector<int> closed) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(check_filled(closed));
    int st = 0;
    if (::waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

}  // namespace

Test(supervisor, fill_standard_fds_fills_closed_stdin_and_stdout, .timeout = 30) {
    cr_assert_eq(run_forked({0, 1}), 0);
}

Test(supervisor, fill_standard_fds_fills_all_three_and_each_alone, .timeout = 30) {
    cr_assert_eq(run_forked({0, 1, 2}), 0);
    cr_assert_eq(run_forked({0}), 0);
    cr_assert_eq(run_forked({1}), 0);
    cr_assert_eq(run_forked({2}), 0);
    cr_assert_eq(run_forked({}), 0);   // nothing closed: nothing changes
}

// ---- stopping children ---------------------------------------------------

namespace {

// A child that ignores INT, TERM and HUP (so does everything it starts) and says "ready" once the trap is set.
child stubborn_child(loop& lp) {
    child_spec spec;
    spec.argv = {"sh", "-c", "trap '' INT TERM HUP; echo ready; while :; do sleep 1; done"};
    spec.out = child_io::pipe();
    return child(lp, std::move(spec));
}

task<void> await_ready(child& c) {
    char buf[6];
    co_await loop::current().readable(c.out().get());
    read_full(c.out().get(), buf, sizeof buf);
}

// Reads fd to end of file, at most `limit` per wait: true if it got there.
bool reaches_eof(int fd, int limit_ms = 20000) {
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, limit_ms) <= 0) return false;
        long n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EAGAIN) continue;
        if (n <= 0) return n == 0;
    }
}

struct stop_result {
    std::vector<int> signals;   // how each child ended
    bool stopping = false;
    int sup_signal = -1;
    int on_stop_calls = 0;
};

task<void> stop_stubborn(supervisor& sup, int n, stop_result& r) {
    auto& lp = loop::current();
    std::vector<child> cs;
    for (int i = 0; i < n; ++i) cs.push_back(stubborn_child(lp));
    for (auto& c : cs) {
        sup.adopt(c);
        co_await await_ready(c);
    }
    sup.stop_all(SIGTERM);
    for (auto& c : cs) {
        exit_status st = co_await c.exited();
        r.signals.push_back(st.signal());
        sup.release(c);
    }
    co_await sup.wait_stopped();
    r.stopping = sup.stopping();
    r.sup_signal = sup.signal();
}

}  // namespace

CORO_TEST(supervisor, children_that_ignore_term_are_killed_after_the_grace, .timeout = 60) {
    for (int round = 0; round < 5; ++round) {
        loop lp;
        stop_result r;
        supervisor sup(lp, 100ms);
        sup.on_stop([&r](int) { ++r.on_stop_calls; });
        lp.run(stop_stubborn(sup, 3, r));
        CHECK_EQ(r.signals.size(), 3u);
        for (int s : r.signals) CHECK_EQ(s, SIGKILL);
        CHECK(r.stopping);
        CHECK_EQ(r.sup_signal, 0);      // no signal came: stop_all was the tool's choice
        CHECK_EQ(r.on_stop_calls, 0);
    }
}

namespace {

struct late_result {
    int term_signal = 0, kill_signal = 0;
    bool prompt = false;
};

task<void> adopt_late(supervisor& sup, late_result& r) {
    auto& lp = loop::current();
    auto start = clock::now();
    sup.stop_all(SIGTERM);   // grace is long: only adopt() can signal these in time
    child a(lp, child_spec{.argv = {"sleep", "300"}});
    sup.adopt(a);
    r.term_signal = (co_await a.exited()).signal();
    sup.release(a);
    sup.stop_all(SIGKILL);
    child b = stubborn_child(lp);
    co_await await_ready(b);   // the trap is set: TERM would not do
    sup.adopt(b);
    r.kill_signal = (co_await b.exited()).signal();
    sup.release(b);
    r.prompt = clock::now() - start < 30s;
}

}  // namespace

CORO_TEST(supervisor, a_child_adopted_after_stop_all_gets_the_signal_at_once, .timeout = 60) {
    for (int round = 0; round < 5; ++round) {
        loop lp;
        late_result r;
        supervisor sup(lp, 60s);
        lp.run(adopt_late(sup, r));
        CHECK_EQ(r.term_signal, SIGTERM);
        CHECK_EQ(r.kill_signal, SIGKILL);
        CHECK(r.prompt);
    }
}

namespace {

struct lingering_result {
    std::string first_line;
    int leader_code = -1;
    bool leader_reaped = false;
};

// The leader exits at once; its background child keeps stdout and ignores TERM.
task<void> release_lingering(supervisor& sup, child& c, lingering_result& r) {
    auto& lp = loop::current();
    sup.adopt(c);
    char buf[8];
    co_await lp.readable(c.out().get());
    std::size_t n = read_full(c.out().get(), buf, 8);   // "started\n"
    r.first_line.assign(buf, n);
    exit_status st = co_await c.exited();
    r.leader_code = st.code();
    sup.stop_all(SIGTERM);   // the grandchild ignores it
    sup.release(c);          // the leader is gone, its group is not: stopped too
    co_await sup.wait_stopped();
    r.leader_reaped = c.has_exited();
}

}  // namespace

CORO_TEST(supervisor, release_of_a_child_whose_group_lingers_stops_the_group_and_wait_stopped_waits, .timeout = 60) {
    for (int round = 0; round < 5; ++round) {
        loop lp;
        lingering_result r;
        supervisor sup(lp, 100ms);
        child_spec spec;
        spec.argv = {"sh", "-c", "trap '' TERM; sleep 300 & echo started"};
        spec.out = child_io::pipe();
        child c(lp, std::move(spec));
        lp.run(release_lingering(sup, c, r));
        CHECK_EQ(r.first_line, std::string("started\n"));
        CHECK_EQ(r.leader_code, 0);
        CHECK(r.leader_reaped);
        // The grandchild held the pipe: it is dead once the pipe reaches end of file.
        // (c.gone() is not checked: the dead grandchild is a zombie of pid 1 until
        // pid 1 reaps it, which here takes about a second.)
        CHECK(reaches_eof(c.out().get()));
    }
}

// ---- signals -------------------------------------------------------------

namespace {

struct signal_result {
    std::vector<int> on_stop;   // every call's signal
    int child_signal = 0;
    int sup_signal = 0;
    bool stopping = false;
    std::vector<int> stubborn_signals;
    bool prompt = false;
};

task<void> wait_for_stop(const signal_result& r, std::size_t calls) {
    auto deadline = clock::now() + 20s;
    while (r.on_stop.size() < calls && clock::now() < deadline) co_await loop::current().sleep_for(1ms);
}

task<void> term_inside_loop(supervisor& sup, signal_result& r) {
    auto& lp = loop::current();
    co_await lp.yield();   // the supervisor's watcher has its signal_set
    child c(lp, child_spec{.argv = {"sleep", "300"}});
    sup.adopt(c);
    ::kill(::getpid(), SIGTERM);
    r.child_signal = (co_await c.exited()).signal();
    sup.release(c);
    co_await wait_for_stop(r, 1);
    r.sup_signal = sup.signal();
    r.stopping = sup.stopping();
}

task<void> two_signals(supervisor& sup, signal_result& r, int first, int second) {
    auto& lp = loop::current();
    auto start = clock::now();
    co_await lp.yield();
    std::vector<child> cs;
    for (int i = 0; i < 3; ++i) cs.push_back(stubborn_child(lp));
    for (auto& c : cs) {
        co_await await_ready(c);
        sup.adopt(c);
    }
    ::raise(first);
    co_await wait_for_stop(r, 1);   // handled: the children got it and ignored it
    ::raise(second);                // no more grace
    for (auto& c : cs) {
        r.stubborn_signals.push_back((co_await c.exited()).signal());
        sup.release(c);
    }
    r.sup_signal = sup.signal();
    r.prompt = clock::now() - start < 30s;   // the grace is 60 s
}

}  // namespace

CORO_TEST(supervisor, term_inside_the_loop_calls_on_stop_once_and_terms_the_children, .timeout = 60) {
    for (int round = 0; round < 5; ++round) {
        loop lp;
        signal_result r;
        supervisor sup(lp, 60s);
        sup.on_stop([&r](int sig) { r.on_stop.push_back(sig); });
        lp.run(term_inside_loop(sup, r));
        CHECK_EQ(r.on_stop.size(), 1u);
        CHECK(!r.on_stop.empty() && r.on_stop[0] == SIGTERM);
        CHECK_EQ(r.child_signal, SIGTERM);
        CHECK_EQ(r.sup_signal, SIGTERM);
        CHECK(r.stopping);
    }
}

CORO_TEST(supervisor, a_second_signal_kills_at_once, .timeout = 60) {
    const int pairs[][2] = {{SIGTERM, SIGTERM}, {SIGINT, SIGTERM}, {SIGHUP, SIGINT}};
    for (auto& p : pairs) {
        loop lp;
        signal_result r;
        supervisor sup(lp, 60s);
        sup.on_stop([&r](int sig) { r.on_stop.push_back(sig); });
        lp.run(two_signals(sup, r, p[0], p[1]));
        CHECK_EQ(r.on_stop.size(), 1u);
        CHECK(!r.on_stop.empty() && r.on_stop[0] == p[0]);
        CHECK_EQ(r.sup_signal, p[0]);
        CHECK_EQ(r.stubborn_signals.size(), 3u);
        for (int s : r.stubborn_signals) CHECK_EQ(s, SIGKILL);
        CHECK(r.prompt);
    }
}

// A signal ignored when the process started stays ignored.  ignored_at_start
// is read once, at start, so this runs in a fresh copy of this test binary
// started with SIGINT ignored: it runs only the helper test below.

namespace {

const char* const helper_env = "CONC_SUPERVISOR_TEST_IGNORED_INT";

struct ignored_result {
    std::string child_said;
    std::vector<int> on_stop;
    bool still_ignored = false;
};

task<void> ignored_int(supervisor& sup, ignored_result& r) {
    auto& lp = loop::current();
    co_await lp.yield();
    child_spec spec;
    spec.argv = {"sh", "-c", "kill -INT $$; echo alive"};   // the command inherits the ignore
    spec.out = child_io::pipe();
    child c(lp, std::move(spec));
    sup.adopt(c);
    char buf[6];
    co_await lp.readable(c.out().get());
    std::size_t n = read_full(c.out().get(), buf, sizeof buf);
    r.child_said.assign(buf, n);
    co_await c.exited();
    sup.release(c);
    ::raise(SIGINT);    // ignored: the loop never hears of it
    ::raise(SIGTERM);   // heard: it must be the first signal on_stop sees
    while (r.on_stop.empty()) co_await lp.sleep_for(1ms);   // bounded by the test's timeout
    struct sigaction sa {};
    ::sigaction(SIGINT, nullptr, &sa);
    r.still_ignored = sa.sa_handler == SIG_IGN;
}

}  // namespace

// Run by main() instead of the tests when helper_env is set (in a process
// started with SIGINT ignored): 0 if every promise holds, else which one broke.
// Not a Criterion test: Criterion's workers do not keep an ignored SIGINT.
int ignored_at_start_helper() {
    struct sigaction sa {};
    ::sigaction(SIGINT, nullptr, &sa);
    if (sa.sa_handler != SIG_IGN) return 10;
    loop lp;
    ignored_result r;
    supervisor sup(lp, 60s);
    sup.on_stop([&r](int sig) { r.on_stop.push_back(sig); });
    lp.run(ignored_int(sup, r));
    if (r.child_said != "alive\n") return 11;          // the command inherits the ignore
    if (r.on_stop.size() != 1 || r.on_stop[0] != SIGTERM) return 12;   // INT never reached the loop
    if (sup.signal() != SIGTERM) return 13;
    if (!r.still_ignored) return 14;
    return 0;
}

Test(supervisor, a_signal_ignored_at_start_stays_ignored_for_the_tool_and_its_commands, .timeout = 60) {
    auto p = make_pipe();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::signal(SIGINT, SIG_IGN);
        ::setenv(helper_env, "1", 1);
        ::unsetenv("BXFI_MAP");   // else the new process takes itself for Criterion's worker and aborts
        ::dup2(p.write.get(), 1);
        ::dup2(p.write.get(), 2);
        ::execl("/proc/self/exe", "supervisor_test", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    p.write.reset();
    std::string report = read_all(p.read.get());
    int st = 0;
    cr_assert_eq(::waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "helper ended by signal %d:\n%s", WTERMSIG(st), report.c_str());
    cr_assert_eq(WEXITSTATUS(st), 0, "helper check %d failed:\n%s", WEXITSTATUS(st), report.c_str());
}

// ---- exit_tally: the total and the summary (written with parun) ----

namespace tally_cases {
using namespace cli;

Test(exit_tally, failures_give_123_and_a_summary_of_those_that_finished) {
    exit_tally t;
    t.job_ended(true);
    t.job_ended(false);
    cr_assert_eq(t.code(), exit_failed);
    cr_assert_eq(t.summary(), "1 of 2 jobs failed");
}

Test(exit_tally, a_known_total_is_the_of_m) {
    exit_tally t;
    t.total = 5;
    t.job_ended(false);
    cr_assert_eq(t.summary("commands"), "1 of 5 commands failed");
}

Test(exit_tally, the_most_serious_cause_wins_and_then_no_summary) {
    exit_tally t;
    t.job_ended(false);
    t.timed_out = true;
    cr_assert_eq(t.code(), exit_timeout);
    cr_assert_eq(t.summary(), "");
    t.signal = SIGTERM;
    cr_assert_eq(t.code(), 128 + SIGTERM);
}

Test(exit_tally, a_decided_status_replaces_the_tally) {
    exit_tally t;
    t.job_ended(false);
    t.decided = 0;
    cr_assert_eq(t.code(), 0);
    cr_assert_eq(t.summary(), "");
}

}  // namespace tally_cases


// Criterion's own main, as its documentation writes it, except in the helper process.
int main(int argc, char* argv[]) {
    if (std::getenv(helper_env)) return ignored_at_start_helper();
    struct criterion_test_set* tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}

// With main() defined here, LeakSanitizer reports 48 bytes Criterion allocates
// (calloc inside libcriterion.so) and never frees; its own main() has the same
// calls, and other test binaries report nothing.  Criterion's, not ours: suppressed.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcriterion.so\n"; }
