// output: held, line and ordered output of many jobs on the process's fd 1 and 2.
//
// Each test points fd 1 and 2 at pipes of its own (Criterion runs every test
// in its own process) and gives them back at the end.  The capture pipes are
// read by a task on the same loop, so "what has been written so far" is exact
// whenever a test looks.  Jobs are fed by threads, by the test itself, or by
// real children.  Coroutines are free functions taking their state by
// reference (g++ 12: no coroutine lambdas in Test bodies, no cr_assert in coroutines).
#include <fcntl.h>
#include <stdlib.h>
#include <functional>
#include <string_view>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conc/child.hpp"
#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/signals.hpp"
#include "conc/writer.hpp"
#include "coro_test.hpp"
#include "fd_redirect.hpp"
#include "output.hpp"
#include "progress.hpp"

using namespace conc;
using namespace std::chrono_literals;
using cli::output;
using cli::output_mode;
using cli::output_options;

namespace {

// Points fd `target` (1 or 2) at a pipe; pull() reads what has arrived so far.
class capture {
public:
    // The pipe's write end stays blocking, like a shell's pipe.
    explicit capture(int target) : capture(target, make_pipe()) {}

    int fd() const noexcept { return read_.get(); }
    bool eof() const noexcept { return eof_; }
    // Everything in the pipe now (never waits).
    const std::string& pull() {
        char buf[65536];
        while (!eof_) {
            long n = read_some(read_.get(), buf, sizeof buf);
            if (n < 0) break;
            if (n == 0) eof_ = true;
            else data_.append(buf, std::size_t(n));
        }
        return data_;
    }
    // Gives the fd back and reads to end of file: every other writer (the
    // output's writers) must be gone.
    std::string finish() {
        redirect_.restore();
        set_nonblocking(read_.get(), false);
        char buf[65536];
        while (!eof_) {
            long n = read_some(read_.get(), buf, sizeof buf);
            if (n <= 0) eof_ = true;
            else data_.append(buf, std::size_t(n));
        }
        return data_;
    }

private:
    capture(int target, pipe_pair p) : read_(std::move(p.read)), redirect_(target, p.write.get()) {
        set_nonblocking(read_.get());
    }
    unique_fd read_;
    fd_redirect redirect_;   // after read_: given back before the pipe closes
    std::string data_;
    bool eof_ = false;
};

// Reads a capture as bytes arrive (so the output's writers never stall); cancelled when the run ends.
task<void> collect(capture& c) {
    while (!c.eof()) {
        co_await loop::current().readable(c.fd());
        c.pull();
    }
}

// Waits until the capture holds needle: false after a generous 20 s.
task<bool> wait_for_text(capture& c, std::string needle) {
    auto deadline = clock::now() + 20s;
    while (c.pull().find(needle) == std::string::npos) {
        if (clock::now() > deadline) co_return false;
        co_await loop::current().sleep_for(1ms);
    }
    co_return true;
}

std::string random_text(std::mt19937& rng, std::size_t n) {
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";
    std::string s(n, ' ');
    for (auto& c : s) c = letters[rng() % (sizeof letters - 1)];
    return s;
}

// A job's text for one stream: a unique header, then lines; empty sometimes.
std::string job_text(std::uint64_t seq, int stream, std::mt19937& rng, std::size_t max_lines) {
    std::size_t lines = rng() % (max_lines + 1);
    if (lines == 0) return {};
    std::string s = "<j" + std::to_string(seq) + "s" + std::to_string(stream) + ">\n";
    for (std::size_t i = 0; i < lines; ++i) s += random_text(rng, rng() % 300) + "\n";
    return s;
}

// Writes out and err to their pipes in pieces of random size, interleaved, then closes them.
void feed(unique_fd out_w, unique_fd err_w, std::string out, std::string err, unsigned seed) {
    std::mt19937 rng(seed);
    std::size_t o = 0, e = 0;
    while (o < out.size() || e < err.size()) {
        bool to_out = e == err.size() || (o < out.size() && rng() % 2);
        std::string& s = to_out ? out : err;
        std::size_t& off = to_out ? o : e;
        std::size_t n = std::min<std::size_t>(1 + rng() % 9000, s.size() - off);
        write_all(to_out ? out_w.get() : err_w.get(), s.data() + off, n);
        off += n;
        if (rng() % 4 == 0) std::this_thread::yield();
    }
}

// True if got is exactly the non-empty parts, each whole, in any order (or in the given order).
bool whole_parts(const std::string& got, const std::vector<std::string>& parts, bool in_order) {
    std::vector<bool> used(parts.size(), false);
    std::size_t pos = 0, next = 0;
    while (pos < got.size()) {
        bool found = false;
        for (std::size_t i = in_order ? next : 0; i < parts.size(); ++i) {
            if (used[i] || parts[i].empty()) continue;
            if (got.compare(pos, parts[i].size(), parts[i]) == 0) {
                used[i] = found = true;
                pos += parts[i].size();
                next = i + 1;
                break;
            }
            if (in_order) return false;
        }
        if (!found) return false;
    }
    for (std::size_t i = 0; i < parts.size(); ++i)
        if (!parts[i].empty() && !used[i]) return false;
    return true;
}

struct job_pipes {
    unique_fd out_r, err_r;
};

job_pipes start_fed_job(std::string out, std::string err, unsigned seed, std::vector<std::thread>& threads) {
    auto o = make_pipe(), e = make_pipe();
    set_nonblocking(o.read.get());
    set_nonblocking(e.read.get());
    threads.emplace_back(feed, std::move(o.write), std::move(e.write), std::move(out), std::move(err), seed);
    return {std::move(o.read), std::move(e.read)};
}

// One job: both streams drained at once, then finish().
task<void> drain_and_finish(output& o, std::unique_ptr<output::job> j, int out_fd, int err_fd) {
    auto& lp = loop::current();
    auto err = lp.spawn(o.drain(*j, 2, err_fd));
    co_await o.drain(*j, 1, out_fd);
    co_await err;
    co_await o.finish(std::move(j));
}

task<void> run_fed_jobs(output& o, capture& out, capture& err, std::vector<job_pipes>& pipes) {
    auto& lp = loop::current();
    lp.spawn(collect(out));
    lp.spawn(collect(err));
    std::vector<job<void>> jobs;
    for (std::size_t i = 0; i < pipes.size(); ++i) {
        auto j = o.open(i + 1);
        jobs.push_back(lp.spawn(drain_and_finish(o, std::move(j), pipes[i].out_r.get(), pipes[i].err_r.get())));
    }
    for (auto& j : jobs) co_await j;
    co_await o.close(pipes.size());
}

}  // namespace

CORO_TEST(output, held_jobs_come_out_whole_and_exactly_once_on_both_streams, .timeout = 120) {
    ignore_sigpipe();
    for (unsigned round = 0; round < 15; ++round) {
        std::mt19937 rng(round);
        std::size_t n = 2 + rng() % 8;
        std::vector<std::string> outs, errs;
        std::string out_text, err_text;
        {
            capture out(1), err(2);
            loop lp;
            std::vector<std::thread> threads;
            std::vector<job_pipes> pipes;
            for (std::size_t i = 0; i < n; ++i) {
                outs.push_back(job_text(i + 1, 1, rng, round % 3 == 0 ? 4000 : 40));   // some beyond the writer's 256 KiB
                errs.push_back(job_text(i + 1, 2, rng, 20));
                pipes.push_back(start_fed_job(outs.back(), errs.back(), round * 100 + unsigned(i), threads));
            }
            {
                output_options opt;
                if (round % 2) opt.memory = 4096;   // spools spill to disk and go out in pieces
                output o(lp, opt);
                lp.run(run_fed_jobs(o, out, err, pipes));
                CHECK(!o.failed());
            }
            for (auto& t : threads) t.join();
            out_text = out.finish();
            err_text = err.finish();
        }
        CHECK(whole_parts(out_text, outs, false));
        CHECK(whole_parts(err_text, errs, false));
    }
}

namespace {

std::string child_line(std::uint64_t seq, int stream, int i) {
    return "c" + std::to_string(seq) + "-" + (stream == 1 ? "o " : "e ") + std::to_string(i) + " abcdefghij\n";
}

task<void> run_child_job(output& o, std::uint64_t seq, int lines) {
    auto& lp = loop::current();
    child_spec spec;
    spec.argv = {"sh", "-c",
                 "i=0; while [ $i -lt $LINES ]; do printf 'c%s-o %s abcdefghij\\n' $SEQ $i;"
                 " printf 'c%s-e %s abcdefghij\\n' $SEQ $i >&2; i=$((i+1)); done"};
    spec.env = {"SEQ=" + std::to_string(seq), "LINES=" + std::to_string(lines)};
    spec.out = child_io::pipe();
    spec.err = child_io::pipe();
    child c(lp, std::move(spec));
    auto j = o.open(seq);
    auto err = lp.spawn(o.drain(*j, 2, c.err().get()));
    co_await o.drain(*j, 1, c.out().get());
    co_await err;
    co_await c.exited();
    co_await o.finish(std::move(j));
}

task<void> run_child_jobs(output& o, capture& out, capture& err, std::size_t n, int lines) {
    auto& lp = loop::current();
    lp.spawn(collect(out));
    lp.spawn(collect(err));
    std::vector<job<void>> jobs;
    for (std::size_t i = 1; i <= n; ++i) jobs.push_back(lp.spawn(run_child_job(o, i, lines)));
    for (auto& j : jobs) co_await j;
    co_await o.close(n);
}

}  // namespace

CORO_TEST(output, held_output_of_child_processes_comes_out_whole_per_job, .timeout = 120) {
    ignore_sigpipe();
    const std::size_t n = 6;
    const int lines = 400;
    std::vector<std::string> outs, errs;
    for (std::size_t s = 1; s <= n; ++s) {
        std::string o, e;
        for (int i = 0; i < lines; ++i) {
            o += child_line(s, 1, i);
            e += child_line(s, 2, i);
        }
        outs.push_back(o);
        errs.push_back(e);
    }
    for (int round = 0; round < 8; ++round) {
        std::string out_text, err_text;
        {
            capture out(1), err(2);
            loop lp;
            {
                output o(lp, output_options{});
                lp.run(run_child_jobs(o, out, err, n, lines));
            }
            out_text = out.finish();
            err_text = err.finish();
        }
        CHECK(whole_parts(out_text, outs, false));
        CHECK(whole_parts(err_text, errs, false));
    }
}

// ---- ordered (-k) --------------------------------------------------------

namespace {

struct ordered_plan {
    std::vector<std::size_t> finish_order;   // indexes into the jobs, seq = index + 1
    std::vector<bool> skipped;               // skip(seq) instead of finish
    std::vector<bool> never;                 // neither: the tool stopped before it ran
    bool early_output = false;               // something came out before close() though seq 1 never came
};

task<void> run_ordered(output& o, capture& out, capture& err, std::vector<job_pipes>& pipes, ordered_plan& plan) {
    auto& lp = loop::current();
    lp.spawn(collect(out));
    lp.spawn(collect(err));
    std::vector<std::unique_ptr<output::job>> js;
    std::vector<job<void>> drains;
    for (std::size_t i = 0; i < pipes.size(); ++i) {
        js.push_back(o.open(i + 1));
        drains.push_back(lp.spawn(o.drain(*js.back(), 1, pipes[i].out_r.get())));
        drains.push_back(lp.spawn(o.drain(*js.back(), 2, pipes[i].err_r.get())));
    }
    for (std::size_t i : plan.finish_order) {
        co_await drains[2 * i];
        co_await drains[2 * i + 1];
        if (plan.never[i]) continue;
        if (plan.skipped[i]) co_await o.skip(i + 1);
        else co_await o.finish(std::move(js[i]));
    }
    if (plan.never[0]) {
        co_await o.out().flush();
        co_await o.err().flush();
        plan.early_output = !out.pull().empty() || !err.pull().empty();
    }
    co_await o.close(pipes.size());
}

void ordered_rounds(bool with_skips, bool first_never_comes) {
    ignore_sigpipe();
    for (unsigned round = 0; round < 15; ++round) {
        std::mt19937 rng(round + 1000);
        std::size_t n = 3 + rng() % 8;
        std::vector<std::string> outs, errs;
        ordered_plan plan;
        plan.skipped.assign(n, false);
        plan.never.assign(n, false);
        for (std::size_t i = 0; i < n; ++i) {
            plan.finish_order.push_back(i);
            if (with_skips && rng() % 3 == 0) plan.skipped[i] = true;
        }
        if (first_never_comes) plan.never[0] = true;
        std::shuffle(plan.finish_order.begin(), plan.finish_order.end(), rng);
        std::string out_text, err_text;
        {
            capture out(1), err(2);
            loop lp;
            std::vector<std::thread> threads;
            std::vector<job_pipes> pipes;
            for (std::size_t i = 0; i < n; ++i) {
                outs.push_back(job_text(i + 1, 1, rng, round % 4 == 0 ? 500 : 30));
                errs.push_back(job_text(i + 1, 2, rng, 10));
                // A skipped job or one that never ran has no output of its own.
                if (plan.skipped[i] || plan.never[i]) outs.back().clear(), errs.back().clear();
                pipes.push_back(start_fed_job(outs.back(), errs.back(), round * 100 + unsigned(i), threads));
            }
            {
                output_options opt;
                opt.ordered = true;
                if (round % 2) opt.memory = 4096;
                output o(lp, opt);
                lp.run(run_ordered(o, out, err, pipes, plan));
            }
            for (auto& t : threads) t.join();
            out_text = out.finish();
            err_text = err.finish();
        }
        CHECK(!plan.early_output);
        CHECK(whole_parts(out_text, outs, true));
        CHECK(whole_parts(err_text, errs, true));
    }
}

}  // namespace

CORO_TEST(output, ordered_jobs_finishing_in_random_order_come_out_in_seq_order, .timeout = 120) {
    ordered_rounds(false, false);
}

CORO_TEST(output, ordered_skip_lets_later_jobs_pass, .timeout = 120) { ordered_rounds(true, false); }

CORO_TEST(output, ordered_close_writes_jobs_waiting_behind_a_seq_that_never_came, .timeout = 120) {
    ordered_rounds(true, true);
}

// ---- line mode -----------------------------------------------------------

namespace {

std::vector<std::string> random_lines(std::uint64_t seq, int stream, std::mt19937& rng, std::size_t max_lines) {
    std::vector<std::string> v;
    std::size_t n = rng() % (max_lines + 1);
    for (std::size_t i = 0; i < n; ++i)
        v.push_back("j" + std::to_string(seq) + "s" + std::to_string(stream) + "l" + std::to_string(i) + " " +
                    random_text(rng, rng() % 2000) + "\n");
    return v;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += x;
    return s;
}

std::string tag(std::uint64_t seq) { return "[" + std::to_string(seq) + "] "; }

// Every line of got is a whole line of one job with its prefix, each job's
// lines in their order, every line exactly once.
bool whole_tagged_lines(const std::string& got, const std::vector<std::vector<std::string>>& lines) {
    std::vector<std::size_t> next(lines.size(), 0);
    std::size_t pos = 0;
    while (pos < got.size()) {
        std::size_t nl = got.find('\n', pos);
        if (nl == std::string::npos) return false;
        std::string line = got.substr(pos, nl + 1 - pos);
        pos = nl + 1;
        bool ok = false;
        for (std::size_t i = 0; i < lines.size() && !ok; ++i) {
            std::string t = tag(i + 1);
            if (line.compare(0, t.size(), t) != 0) continue;
            ok = next[i] < lines[i].size() && line.substr(t.size()) == lines[i][next[i]];
            ++next[i];
        }
        if (!ok) return false;
    }
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (next[i] != lines[i].size()) return false;
    return true;
}

task<void> run_tagged_jobs(output& o, capture& out, capture& err, std::vector<job_pipes>& pipes) {
    auto& lp = loop::current();
    lp.spawn(collect(out));
    lp.spawn(collect(err));
    std::vector<job<void>> jobs;
    for (std::size_t i = 0; i < pipes.size(); ++i) {
        auto j = o.open(i + 1, tag(i + 1));
        jobs.push_back(lp.spawn(drain_and_finish(o, std::move(j), pipes[i].out_r.get(), pipes[i].err_r.get())));
    }
    for (auto& j : jobs) co_await j;
    co_await o.close(pipes.size());
}

}  // namespace

CORO_TEST(output, line_mode_never_cuts_or_mixes_lines_and_prefixes_each, .timeout = 120) {
    ignore_sigpipe();
    for (unsigned round = 0; round < 15; ++round) {
        std::mt19937 rng(round + 2000);
        std::size_t n = 2 + rng() % 6;
        std::vector<std::vector<std::string>> out_lines, err_lines;
        std::string out_text, err_text;
        {
            capture out(1), err(2);
            loop lp;
            std::vector<std::thread> threads;
            std::vector<job_pipes> pipes;
            for (std::size_t i = 0; i < n; ++i) {
                out_lines.push_back(random_lines(i + 1, 1, rng, 120));
                err_lines.push_back(random_lines(i + 1, 2, rng, 20));
                pipes.push_back(start_fed_job(joined(out_lines.back()), joined(err_lines.back()),
                                              round * 100 + unsigned(i), threads));
            }
            {
                output_options opt;
                opt.mode = output_mode::line;
                output o(lp, opt);
                lp.run(run_tagged_jobs(o, out, err, pipes));
            }
            for (auto& t : threads) t.join();
            out_text = out.finish();
            err_text = err.finish();
        }
        CHECK(whole_tagged_lines(out_text, out_lines));
        CHECK(whole_tagged_lines(err_text, err_lines));
    }
}

namespace {

struct pieces_result {
    bool piece_out_before_newline = false;
    bool last_line_held_until_eof = false;
};

// One job, line_max 64: a 100-byte line without its newline yet must already be out.
task<void> long_line_scenario(output& o, capture& out, int rfd, unique_fd& w, pieces_result& r) {
    auto& lp = loop::current();
    lp.spawn(collect(out));
    auto j = o.open(1, "[1] ");
    auto d = lp.spawn(o.drain(*j, 1, rfd));
    write_all(w.get(), std::string(100, 'x'));   // one write: one read (under PIPE_BUF)
    std::string first = "[1] " + std::string(100, 'x');
    r.piece_out_before_newline = co_await wait_for_text(out, first);
    std::string rest = std::string(50, 'y') + "\nnext\nlast without newline";
    write_all(w.get(), rest);
    std::string next_line = "[1] next\n";
    bool next_out = co_await wait_for_text(out, next_line);
    r.last_line_held_until_eof = next_out && out.pull().find("last") == std::string::npos;
    w.reset();
    co_await d;
    co_await o.finish(std::move(j));
    co_await o.close(1);
}

}  // namespace

CORO_TEST(output, line_mode_writes_a_line_longer_than_line_max_in_pieces_and_the_last_line_at_the_end,
          .timeout = 120) {
    for (int round = 0; round < 10; ++round) {
        pieces_result r;
        std::string text;
        {
            capture out(1);
            loop lp;
            auto p = make_pipe();
            set_nonblocking(p.read.get());
            {
                output_options opt;
                opt.mode = output_mode::line;
                opt.line_max = 64;
                output o(lp, opt);
                lp.run(long_line_scenario(o, out, p.read.get(), p.write, r));
            }
            text = out.finish();
        }
        CHECK(r.piece_out_before_newline);
        CHECK(r.last_line_held_until_eof);
        // The continuation of the long line carries no prefix; every new line does.
        CHECK_EQ(text, "[1] " + std::string(100, 'x') + std::string(50, 'y') + "\n[1] next\n[1] last without newline");
    }
}

// ---- ordered line mode ---------------------------------------------------

namespace {

struct ordered_line_result {
    bool first_lines_streamed = false;   // job 1's lines out while its pipe is open, nothing else
    bool third_held = false;             // job 3 finished, still held behind running job 2
    bool second_streams_in_turn = false;
};

task<void> ordered_line_scenario(output& o, capture& out, std::vector<pipe_pair>& p, ordered_line_result& r) {
    auto& lp = loop::current();
    lp.spawn(collect(out));
    std::unique_ptr<output::job> j1 = o.open(1, tag(1)), j2 = o.open(2, tag(2)), j3 = o.open(3, tag(3));
    auto d1 = lp.spawn(o.drain(*j1, 1, p[0].read.get()));
    auto d2 = lp.spawn(o.drain(*j2, 1, p[1].read.get()));
    auto d3 = lp.spawn(o.drain(*j3, 1, p[2].read.get()));
    write_all(p[1].write.get(), "b1\n");
    write_all(p[2].write.get(), "c1\n");
    write_all(p[0].write.get(), "a1\n");
    std::string a1 = "[1] a1\n", a2 = "[1] a1\n[1] a2\n";
    bool got_a1 = co_await wait_for_text(out, a1);
    write_all(p[0].write.get(), "a2\n");
    bool got_a2 = co_await wait_for_text(out, a2);
    r.first_lines_streamed = got_a1 && got_a2 && out.pull() == a2;
    // Job 3 ends first: it waits behind 1 and 2.
    p[2].write.reset();
    co_await d3;
    co_await o.finish(std::move(j3));
    write_all(p[0].write.get(), "a3\n");
    p[0].write.reset();
    co_await d1;
    co_await o.finish(std::move(j1));   // job 2's turn: what it held goes out, then it streams
    std::string b1 = "[1] a3\n[2] b1\n";
    bool got_b1 = co_await wait_for_text(out, b1);
    r.third_held = got_b1 && out.pull().find("c1") == std::string::npos;
    write_all(p[1].write.get(), "b2\n");
    std::string b2 = "[2] b2\n";
    r.second_streams_in_turn = co_await wait_for_text(out, b2);
    p[1].write.reset();
    co_await d2;
    co_await o.finish(std::move(j2));
    co_await o.close(3);
}

}  // namespace

CORO_TEST(output, ordered_line_mode_streams_the_oldest_job_and_holds_later_ones_until_their_turn, .timeout = 120) {
    for (int round = 0; round < 20; ++round) {
        ordered_line_result r;
        std::string text;
        {
            capture out(1);
            loop lp;
            std::vector<pipe_pair> p;
            for (int i = 0; i < 3; ++i) {
                p.push_back(make_pipe());
                set_nonblocking(p.back().read.get());
            }
            {
                output_options opt;
                opt.mode = output_mode::line;
                opt.ordered = true;
                output o(lp, opt);
                lp.run(ordered_line_scenario(o, out, p, r));
            }
            text = out.finish();
        }
        CHECK(r.first_lines_streamed);
        CHECK(r.third_held);
        CHECK(r.second_streams_in_turn);
        CHECK_EQ(text, std::string("[1] a1\n[1] a2\n[1] a3\n[2] b1\n[2] b2\n[3] c1\n"));
    }
}

// ---- write errors --------------------------------------------------------

namespace {

struct error_seen {
    int calls = 0;
    writer::state status = writer::state::open;
    int error = 0;
    std::string message;
    std::string stream;
};

task<void> feed_jobs_after_error(output& o, std::size_t n) {
    for (std::size_t i = 1; i <= n; ++i) {
        auto p = make_pipe();
        set_nonblocking(p.read.get());
        std::string text(100000, char('a' + i % 26));   // beyond a pipe: it must be drained while fed
        std::thread t([&p, &text] {
            write_all(p.write.get(), text);
            p.write.reset();
        });
        auto j = o.open(i);
        co_await o.drain(*j, 1, p.read.get());
        t.join();
        co_await o.finish(std::move(j));
    }
    std::string more = "more\n";
    co_await o.print(1, more);
    co_await o.close(n);
}

void record_error(error_seen& e, const writer& w) {
    ++e.calls;
    e.status = w.status();
    e.error = w.error();
    e.message = w.error_message();
    e.stream = w.name();
}

struct stdout_failure {
    error_seen e;
    bool failed = false;
    bool gone = false;   // stdout_reader_gone()
};

// Jobs write through an output in `mode` whose standard output is `to`,
// which fails; what the output saw.
stdout_failure feed_into_failing_stdout(output_mode mode, unique_fd to) {
    stdout_failure r;
    fd_redirect redirect(1, to.get());
    to.reset();
    loop lp;
    output_options opt;
    opt.mode = mode;
    output o(lp, opt);
    o.on_error([&r](const writer& w) { record_error(r.e, w); });
    lp.run(feed_jobs_after_error(o, 4));
    r.failed = o.failed();
    r.gone = o.stdout_reader_gone();
    return r;
}

}  // namespace

CORO_TEST(output, a_full_stdout_calls_on_error_once_with_the_failed_writer, .timeout = 60) {
    for (auto mode : {output_mode::held, output_mode::line}) {
        unique_fd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
        CHECK(full.get() >= 0);
        stdout_failure r = feed_into_failing_stdout(mode, std::move(full));
        CHECK_EQ(r.e.calls, 1);
        CHECK(r.e.status == writer::state::failed);
        CHECK_EQ(r.e.error, ENOSPC);
        CHECK_EQ(r.e.message, std::string("write error on standard output: No space left on device"));
        CHECK(r.failed);
    }
}

CORO_TEST(output, a_stdout_pipe_whose_reader_left_is_reader_gone, .timeout = 60) {
    ignore_sigpipe();
    for (auto mode : {output_mode::held, output_mode::line}) {
        auto p = make_pipe();
        p.read.reset();   // the reader is gone
        stdout_failure r = feed_into_failing_stdout(mode, std::move(p.write));
        CHECK_EQ(r.e.calls, 1);
        CHECK(r.e.status == writer::state::reader_gone);
        CHECK_EQ(r.e.error, EPIPE);
        CHECK_EQ(r.e.stream, std::string("standard output"));
        CHECK(r.failed);
        CHECK(r.gone);
    }
}

// ---- the progress bar ----------------------------------------------------

namespace {

std::string bar_job_text(std::size_t k) { return "<e" + std::to_string(k) + ">job " + std::to_string(k) + " says hello\n"; }

struct bar_result {
    std::vector<bool> frame_seen;   // after progress(k): a frame with "k/N" arrived
};

task<void> bar_scenario(output& o, capture& out, capture& err, std::size_t n, bar_result& r) {
    auto& lp = loop::current();
    lp.spawn(collect(out));
    lp.spawn(collect(err));
    for (std::size_t k = 1; k <= n; ++k) {
        auto po = make_pipe(), pe = make_pipe();
        set_nonblocking(po.read.get());
        set_nonblocking(pe.read.get());
        write_all(po.write.get(), "out " + std::to_string(k) + "\n");
        write_all(pe.write.get(), bar_job_text(k));
        po.write.reset();
        pe.write.reset();
        auto j = o.open(k);
        co_await drain_and_finish(o, std::move(j), po.read.get(), pe.read.get());
        o.progress(k);
        std::string count = "pmap: " + std::to_string(k) + "/" + std::to_string(n);
        r.frame_seen.push_back(co_await wait_for_text(err, count));
    }
    co_await o.close(n);
}

// Splits stderr into frames ("\r" + line), erases ("\r" + blanks + "\r") and
// job texts; false if a job's text is cut, missing, doubled, or follows a
// frame that was not erased first.  last_frame: the last frame's text.
bool bar_stream_ok(const std::string& s, std::size_t n, std::string& last_frame) {
    std::vector<bool> seen(n + 1, false);
    enum { none, frame, erase, text } prev = none;
    std::size_t pos = 0;
    while (pos < s.size()) {
        if (s[pos] == '<') {
            if (prev == frame) return false;
            bool matched = false;
            for (std::size_t k = 1; k <= n && !matched; ++k) {
                std::string t = bar_job_text(k);
                if (!seen[k] && s.compare(pos, t.size(), t) == 0) {
                    seen[k] = matched = true;
                    pos += t.size();
                }
            }
            if (!matched) return false;
            prev = text;
        } else if (s[pos] == '\r' && pos + 1 < s.size() && s[pos + 1] == ' ') {
            if (prev != frame) return false;   // only a drawn frame is erased
            std::size_t end = s.find_first_not_of(' ', pos + 1);
            if (end == std::string::npos || s[end] != '\r') return false;
            pos = end + 1;
            prev = erase;
        } else if (s[pos] == '\r') {
            std::size_t end = s.find_first_of("\r<\n", pos + 1);
            if (end != std::string::npos && s[end] == '\n') ++end;
            if (end == std::string::npos) end = s.size();
            last_frame = s.substr(pos, end - pos);
            pos = end;
            prev = frame;
        } else {
            return false;
        }
    }
    for (std::size_t k = 1; k <= n; ++k)
        if (!seen[k]) return false;
    return true;
}

}  // namespace

CORO_TEST(output, the_bar_shows_the_final_count_and_is_erased_before_output_on_stderr, .timeout = 120) {
    ignore_sigpipe();
    for (int round = 0; round < 3; ++round) {
        const std::size_t n = 12;
        bar_result r;
        std::string out_text, err_text;
        {
            capture out(1), err(2);
            loop lp;
            cli::progress_bar bar("pmap", true);
            bar.set_total(n);
            {
                output o(lp, output_options{}, &bar);
                lp.run(bar_scenario(o, out, err, n, r));
            }
            out_text = out.finish();
            err_text = err.finish();
        }
        CHECK_EQ(r.frame_seen.size(), n);
        CHECK(std::all_of(r.frame_seen.begin(), r.frame_seen.end(), [](bool b) { return b; }));
        std::string expect_out;
        for (std::size_t k = 1; k <= n; ++k) expect_out += "out " + std::to_string(k) + "\n";
        CHECK_EQ(out_text, expect_out);   // no bar on stdout
        std::string last;
        CHECK(bar_stream_ok(err_text, n, last));
        CHECK(last.find("pmap: 12/12") != std::string::npos);
        CHECK(!last.empty() && last.back() == '\n');
        CHECK(!err_text.empty() && err_text.back() == '\n');
    }
}

// ---- prefixes per line, end_last_line, on_line, silence (written with parun) ----

namespace line_features {

struct run_spec {
    cli::output_options opt;
    std::string input;
    std::string prefix;
    std::vector<std::string>* seen = nullptr;   // on_line's lines, when set
    bool silent = false;
    std::function<std::string()> each_line{};   // prefix_each_line, when set
};

// A coroutine takes its state as parameters (g++ 12, see coro_test.hpp).
conc::task<void> pass(cli::output& out, int fd, const run_spec& s) {
    auto j = out.open(1, s.prefix);
    if (s.seen) j->on_line([v = s.seen](std::string_view l) { v->emplace_back(l); });
    if (s.silent) j->silence();
    if (s.each_line) j->prefix_each_line(s.each_line);
    co_await out.drain(*j, 1, fd);
    co_await out.finish(std::move(j));
    co_await out.close(0);
}

// What output writes to stdout for s.input read from a pipe.
std::string written(const run_spec& s) {
    char path[] = "/tmp/output_testXXXXXX";
    int f = ::mkstemp(path);
    cr_assert_geq(f, 0);
    ::unlink(path);
    cr_assert_eq(::dup2(f, STDOUT_FILENO), STDOUT_FILENO);
    conc::pipe_pair p = conc::make_pipe();
    conc::write_all(p.write.get(), s.input);   // small: fits in the pipe
    p.write.reset();
    {
        conc::loop lp;
        cli::output out(lp, s.opt);
        lp.run(pass(out, p.read.get(), s));
    }
    ::lseek(f, 0, SEEK_SET);
    std::string r = conc::read_all(f);
    ::close(f);
    return r;
}

cli::output_options mode(cli::output_mode m, bool end_last_line) {
    cli::output_options o;
    o.mode = m;
    o.end_last_line = end_last_line;
    return o;
}

}  // namespace line_features
using namespace line_features;

Test(output, line_mode_prefixes_every_line_and_leaves_a_last_line_open_by_default) {
    cr_assert_eq(written({mode(cli::output_mode::line, false), "a\nb", "p| "}), "p| a\np| b");
}

Test(output, end_last_line_terminates_it_in_line_mode) {
    cr_assert_eq(written({mode(cli::output_mode::line, true), "a\nb", "p| "}), "p| a\np| b\n");
    cr_assert_eq(written({mode(cli::output_mode::line, true), "a\nb", ""}), "a\nb\n");
    cr_assert_eq(written({mode(cli::output_mode::line, true), "a\n", "p| "}), "p| a\n");
    cr_assert_eq(written({mode(cli::output_mode::line, true), "", "p| "}), "");
}

Test(output, end_last_line_terminates_it_in_held_mode) {
    cr_assert_eq(written({mode(cli::output_mode::held, true), "a\nb", "p| "}), "p| a\np| b\n");
    cr_assert_eq(written({mode(cli::output_mode::held, true), "a\nb", ""}), "a\nb\n");
    cr_assert_eq(written({mode(cli::output_mode::held, false), "a\nb", ""}), "a\nb");
}

Test(output, on_line_sees_each_line_without_prefix_or_newline) {
    std::vector<std::string> seen;
    std::string out = written({mode(cli::output_mode::line, true), "one\n\ntwo\nlast", "p| ", &seen});
    cr_assert_eq(out, "p| one\np| \np| two\np| last\n");
    cr_assert_eq(seen.size(), 4u);
    cr_assert_eq(seen[0], "one");
    cr_assert_eq(seen[1], "");
    cr_assert_eq(seen[2], "two");
    cr_assert_eq(seen[3], "last");
}

Test(output, a_silenced_job_writes_nothing_but_its_lines_are_still_seen) {
    std::vector<std::string> seen;
    cr_assert_eq(written({mode(cli::output_mode::line, true), "x\ny", "p| ", &seen, true}), "");
    cr_assert_eq(seen.size(), 2u);
    cr_assert_eq(seen[1], "y");
    cr_assert_eq(written({mode(cli::output_mode::held, true), "x\ny", "", nullptr, true}), "");
}

Test(output, prefix_each_line_makes_the_prefix_afresh_for_every_line) {
    for (auto m : {cli::output_mode::line, cli::output_mode::held}) {
        int n = 0;
        run_spec s{mode(m, true), "a\nb\nc", "fixed ", nullptr, false, [&n] { return std::to_string(++n) + ": "; }};
        cr_assert_eq(written(s), "1: a\n2: b\n3: c\n");
    }
}
