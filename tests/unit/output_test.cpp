// cli::output (tools/common): prefixes, a last line without newline, lines
// reported as they pass (on_line), silenced jobs.  stdout goes to a temp file.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "output.hpp"

namespace {

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

}  // namespace

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
