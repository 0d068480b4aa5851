#include <criterion/criterion.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "conc/error.hpp"
#include "conc/fd.hpp"
#include "messages.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "units.hpp"

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

// Criterion's string asserts keep only a pointer: compare owned strings instead.
#define ASSERT_STR(got, want)                                                              \
    do {                                                                                   \
        std::string got_ = (got), want_ = (want);                                          \
        cr_assert(got_ == want_, "got '%s', want '%s'", got_.c_str(), want_.c_str());      \
    } while (0)

namespace {

template <class F>
bool throws_bad_value(F f) {
    try {
        f();
    } catch (const cli::bad_value&) {
        return true;
    }
    return false;
}

// argv from a list of words, as main would get it (writable, null-terminated).
struct fake_argv {
    std::vector<std::string> words;
    std::vector<char*> ptrs;
    explicit fake_argv(std::vector<std::string> w) : words(std::move(w)) {
        for (auto& s : words) ptrs.push_back(s.data());
        ptrs.push_back(nullptr);
    }
    int argc() const { return int(words.size()); }
    char** argv() { return ptrs.data(); }
};

enum { opt_timeout = 256, opt_color };

const cli::option_table& table() {
    static const cli::option_table t{
        "[OPTION]... COMMAND [ARG]...",
        "Run COMMAND once per input record.",
        {{'j', "jobs", cli::arg::required, "N", "run at most N jobs at once"},
         {'k', "keep-order", cli::arg::none, nullptr, "keep input order"},
         {'0', "null", cli::arg::none, nullptr, "records end with NUL"},
         {opt_timeout, "timeout", cli::arg::required, "DUR", "give up after DUR"},
         {opt_color, "color", cli::arg::optional, "WHEN", "colour output"}}};
    return t;
}

cli::parsed_args parse(std::vector<std::string> words) {
    words.insert(words.begin(), "pmap");
    fake_argv a(std::move(words));
    return table().try_parse(a.argc(), a.argv());
}

std::string parse_error(std::vector<std::string> words) {
    try {
        parse(std::move(words));
    } catch (const cli::usage_problem& e) {
        return e.what();
    }
    return "(no error)";
}

using opts = std::vector<std::pair<int, std::string>>;
using words = std::vector<std::string>;

}  // namespace

// ---- durations ---------------------------------------------------------------

Test(units, duration_units) {
    cr_assert_eq(cli::parse_duration("250ms"), nanoseconds(250ms));
    cr_assert_eq(cli::parse_duration("3"), nanoseconds(3s));
    cr_assert_eq(cli::parse_duration("3s"), nanoseconds(3s));
    cr_assert_eq(cli::parse_duration("2m"), nanoseconds(2min));
    cr_assert_eq(cli::parse_duration("1h"), nanoseconds(1h));
    cr_assert_eq(cli::parse_duration("1d"), nanoseconds(24h));
    cr_assert_eq(cli::parse_duration("10us"), nanoseconds(10us));
    cr_assert_eq(cli::parse_duration("7ns"), nanoseconds(7));
    cr_assert_eq(cli::parse_duration("0"), nanoseconds(0));
}

Test(units, duration_decimals) {
    cr_assert_eq(cli::parse_duration("1.5s"), nanoseconds(1500ms));
    cr_assert_eq(cli::parse_duration("0.5"), nanoseconds(500ms));
    cr_assert_eq(cli::parse_duration(".25"), nanoseconds(250ms));
    cr_assert_eq(cli::parse_duration("0.1"), nanoseconds(100ms));
    cr_assert_eq(cli::parse_duration("1.25m"), nanoseconds(75s));
    cr_assert_eq(cli::parse_duration("0.001ms"), nanoseconds(1us));
}

Test(units, duration_rejects_bad_values) {
    for (const char* s : {"", "x", "1x", "-1s", "+1s", "s", ".", "1.5.5", " 1", "1 ", "1e3", "1S", "1sec",
                          "99999999999999999999", "300000000000d", "1..5"})
        cr_assert(throws_bad_value([&] { cli::parse_duration(s); }), "accepted '%s'", s);
}

Test(units, duration_message_names_the_value) {
    try {
        cli::parse_duration("1x");
        cr_assert_fail("no exception");
    } catch (const cli::bad_value& e) {
        cr_assert(std::string(e.what()).find("'1x'") != std::string::npos, "%s", e.what());
    }
}

// ---- sizes ---------------------------------------------------------------------

Test(units, sizes) {
    cr_assert_eq(cli::parse_size("4096"), 4096u);
    cr_assert_eq(cli::parse_size("0"), 0u);
    cr_assert_eq(cli::parse_size("64K"), 64u << 10);
    cr_assert_eq(cli::parse_size("64k"), 64u << 10);
    cr_assert_eq(cli::parse_size("1M"), 1u << 20);
    cr_assert_eq(cli::parse_size("2G"), 2ull << 30);
    cr_assert_eq(cli::parse_size("1T"), 1ull << 40);
    cr_assert_eq(cli::parse_size("64KiB"), 64u << 10);
    cr_assert_eq(cli::parse_size("1mb"), 1u << 20);
    cr_assert_eq(cli::parse_size("100B"), 100u);
}

Test(units, size_rejects_bad_values) {
    for (const char* s : {"", "x", "K", "-1", "1.5M", "1X", "1KK", "1iB", "1 K", "64Kb2",
                          "99999999999999999999", "16777216T"})
        cr_assert(throws_bad_value([&] { cli::parse_size(s); }), "accepted '%s'", s);
}

// ---- counts --------------------------------------------------------------------

Test(units, counts) {
    cr_assert_eq(cli::parse_count("4", 1, 100), 4);
    cr_assert_eq(cli::parse_count("1", 1, 100), 1);
    cr_assert_eq(cli::parse_count("100", 1, 100), 100);
    cr_assert_eq(cli::parse_count("0", 0, 10), 0);
    cr_assert_eq(cli::parse_count("-5", -10, 10), -5);
    cr_assert_eq(cli::parse_count("9223372036854775807", 0, LLONG_MAX), LLONG_MAX);
    cr_assert_eq(cli::parse_count("-9223372036854775808", LLONG_MIN, 0), LLONG_MIN);
}

Test(units, count_rejects_bad_values) {
    for (const char* s : {"", "x", "-1", "1.5", "+1", " 1", "1 ", "4x", "0", "101", "-", "0x10",
                          "9223372036854775808", "99999999999999999999999"})
        cr_assert(throws_bad_value([&] { cli::parse_count(s, 1, 100); }), "accepted '%s'", s);
    cr_assert(throws_bad_value([] { cli::parse_count("-9223372036854775809", LLONG_MIN, 0); }));
}

// ---- formatting ----------------------------------------------------------------

Test(units, format_duration_for_people) {
    ASSERT_STR(cli::format_duration(250ms), "250ms");
    ASSERT_STR(cli::format_duration(0ms), "0ms");
    ASSERT_STR(cli::format_duration(2345ms), "2.3s");
    ASSERT_STR(cli::format_duration(42s), "42s");
    ASSERT_STR(cli::format_duration(65s), "1m05s");
    ASSERT_STR(cli::format_duration(2h + 3min + 9s), "2h03m");
    ASSERT_STR(cli::format_duration(76h), "3d04h");
}

Test(units, format_size_for_people) {
    ASSERT_STR(cli::format_size(512), "512B");
    ASSERT_STR(cli::format_size(1536), "1.5K");
    ASSERT_STR(cli::format_size(64 << 10), "64K");
    ASSERT_STR(cli::format_size(1 << 20), "1.0M");
    ASSERT_STR(cli::format_size(12ull << 30), "12G");
}

// ---- progress bar --------------------------------------------------------------

Test(progress, known_total) {
    std::string s = cli::render_bar("pmap", 1234, 5000, 1520ms, 80);
    cr_assert(s.starts_with("pmap: 1234/5000 ["), "%s", s.c_str());
    cr_assert(s.find("] 24% 812/s ETA 5s") != std::string::npos, "%s", s.c_str());
    cr_assert_lt(s.size(), 80u);
    std::size_t open = s.find('['), close = s.find(']');
    std::string bar = s.substr(open + 1, close - open - 1);
    cr_assert(bar.find('>') != std::string::npos);
    cr_assert_eq(bar.find('>'), bar.size() * 1234 / 5000, "%s", s.c_str());
}

Test(progress, exact_line) {
    ASSERT_STR(cli::render_bar("t", 5, 10, 1s, 40), "t: 5/10 [======>     ] 50% 5.0/s ETA 1s");
    ASSERT_STR(cli::render_bar("t", 10, 10, 2s, 30), "t: 10/10 [=======] 100% 5.0/s");
}

Test(progress, unknown_total_shows_count_and_rate) {
    ASSERT_STR(cli::render_bar("pmap", 1234, std::nullopt, 2s, 80), "pmap: 1234 617/s");
    ASSERT_STR(cli::render_bar("pmap", 0, std::nullopt, 0s, 80), "pmap: 0");
}

Test(progress, fits_every_width) {
    for (std::size_t w = 0; w <= 120; ++w) {
        std::string s = cli::render_bar("pmap", 1234, 5000, 3s, w);
        cr_assert_leq(s.size(), w ? w - 1 : 0, "width %zu: '%s'", w, s.c_str());
        std::string u = cli::render_bar("pmap", 1234, std::nullopt, 3s, w);
        cr_assert_leq(u.size(), w ? w - 1 : 0, "width %zu: '%s'", w, u.c_str());
    }
    // Narrow: the bar goes before the numbers do.
    std::string s = cli::render_bar("pmap", 1234, 5000, 3s, 34);
    cr_assert(s.find('[') == std::string::npos, "%s", s.c_str());
    cr_assert(s.starts_with("pmap: 1234/5000 24%"), "%s", s.c_str());
}

Test(progress, zero_total_and_overshoot_are_full) {
    cr_assert(cli::render_bar("x", 0, 0, 1s, 80).find("100%") != std::string::npos);
    cr_assert(cli::render_bar("x", 7, 5, 1s, 80).find("100%") != std::string::npos);
}

Test(progress, forced_bar_frames_are_rate_limited_and_the_final_one_always_comes) {
    auto p = conc::make_pipe();
    auto t0 = cli::progress_bar::clock::time_point{} + 1h;
    cli::progress_bar bar("job", true, t0, p.write.get());
    bar.set_total(100);
    cr_assert(bar.enabled());
    auto f1 = bar.frame(10, t0 + 1s);
    auto f2 = bar.frame(20, t0 + 1s + 50ms);   // too soon: refused, due later
    cr_assert(f1 && f1->find("10/100") != std::string::npos);
    cr_assert(!f2);
    cr_assert(bar.due() == t0 + 1s + 100ms);
    auto f3 = bar.frame(30, bar.due());
    cr_assert(f3 && f3->find("30/100") != std::string::npos);
    // The final frame comes even right after another, and only once.
    std::string last = bar.final_frame(100, t0 + 1s + 101ms);
    cr_assert(last.find("100/100") != std::string::npos, "%s", last.c_str());
    cr_assert(last.ends_with("\n"));
    cr_assert(bar.final_frame(100, t0 + 4s).empty());
    cr_assert(!bar.frame(100, t0 + 5s));
}

Test(progress, erase_blanks_the_drawn_line_and_the_next_frame_comes_at_once) {
    auto p = conc::make_pipe();
    auto t0 = cli::progress_bar::clock::time_point{} + 1h;
    cli::progress_bar bar("job", true, t0, p.write.get());
    cr_assert(bar.erase().empty());   // nothing on screen yet
    auto f = bar.frame(5, t0);
    cr_assert(f);
    std::string e = bar.erase();
    cr_assert_eq(e, "\r" + std::string(f->size() - 1, ' ') + "\r");
    cr_assert(bar.frame(6, t0 + 1ms));   // not rate-limited after an erase
}

Test(progress, unforced_bar_on_a_pipe_draws_nothing) {
    auto p = conc::make_pipe();
    cli::progress_bar bar("job", false, {}, p.write.get());
    cr_assert(!bar.enabled());
    cr_assert(!bar.frame(10, cli::progress_bar::clock::now()));
    cr_assert(bar.final_frame(100, cli::progress_bar::clock::now()).empty());
}

// ---- options -------------------------------------------------------------------

Test(options, short_long_and_values) {
    auto a = parse({"-j", "4", "--keep-order", "--timeout=2s", "--jobs=3", "-0", "cmd"});
    cr_assert(a.options == (opts{{'j', "4"}, {'k', ""}, {opt_timeout, "2s"}, {'j', "3"}, {'0', ""}}));
    cr_assert(a.operands == (words{"cmd"}));
    cr_assert_eq(a.first_operand, 7);
    cr_assert(!a.help && !a.version);
}

Test(options, clustered_short_options) {
    auto a = parse({"-kj2", "cmd"});
    cr_assert(a.options == (opts{{'k', ""}, {'j', "2"}}));
    cr_assert(a.operands == (words{"cmd"}));
}

Test(options, stops_at_first_non_option) {
    auto a = parse({"-j2", "grep", "-v", "x", "--timeout", "1"});
    cr_assert(a.options == (opts{{'j', "2"}}));
    cr_assert(a.operands == (words{"grep", "-v", "x", "--timeout", "1"}));
    cr_assert_eq(a.first_operand, 2);
}

Test(options, double_dash_ends_options) {
    auto a = parse({"-k", "--", "-j", "x"});
    cr_assert(a.options == (opts{{'k', ""}}));
    cr_assert(a.operands == (words{"-j", "x"}));
    auto b = parse({"cmd", "--", "y"});
    cr_assert(b.operands == (words{"cmd", "--", "y"}));
    auto c = parse({"--"});
    cr_assert(c.operands.empty());
}

Test(options, optional_argument) {
    auto a = parse({"--color", "--color=never", "x"});
    cr_assert(a.options == (opts{{opt_color, ""}, {opt_color, "never"}}));
}

Test(options, abbreviated_long_option) {
    auto a = parse({"--keep", "--time", "5", "x"});
    cr_assert(a.options == (opts{{'k', ""}, {opt_timeout, "5"}}));
}

Test(options, help_and_version_flags) {
    cr_assert(parse({"-h"}).help);
    cr_assert(parse({"--help", "x"}).help);
    cr_assert(parse({"-V"}).version);
    cr_assert(parse({"--version"}).version);
}

Test(options, errors_name_the_option) {
    ASSERT_STR(parse_error({"-x"}), "unknown option '-x'");
    ASSERT_STR(parse_error({"--nope=3"}), "unknown option '--nope'");
    ASSERT_STR(parse_error({"-j"}), "option '-j' requires an argument");
    ASSERT_STR(parse_error({"-kj"}), "option '-j' requires an argument");
    ASSERT_STR(parse_error({"--jobs"}), "option '--jobs' requires an argument");
    ASSERT_STR(parse_error({"--keep-order=1"}), "option '--keep-order' takes no argument");
}

Test(options, parsing_twice_starts_afresh) {
    auto a = parse({"-k", "x"});
    auto b = parse({"-j", "1", "y"});
    cr_assert(a.operands == (words{"x"}));
    cr_assert(b.options == (opts{{'j', "1"}}));
    cr_assert(b.operands == (words{"y"}));
}

Test(options, render_gives_words_that_parse_back_to_the_same_options_less_the_dropped) {
    cli::parsed_args p = parse({"-j4", "-k", "--timeout", "2s", "--color", "--color=always", "-0", "--", "cmd"});
    words w = table().render(p.options);
    cr_assert(w == (words{"--jobs=4", "--keep-order", "--timeout=2s", "--color", "--color=always", "--null"}));
    cli::parsed_args again = parse(w);
    cr_assert(again.options == p.options);
    cr_assert(again.operands.empty());
    // a dropped name drops its key, whichever spelling was typed
    cr_assert(table().render(p.options, {"jobs", "color"}) == (words{"--keep-order", "--timeout=2s", "--null"}));
    // values that look like options stay values
    cli::parsed_args odd = parse({"--timeout=-x", "-j", "--"});
    cr_assert(parse(table().render(odd.options)).options == odd.options);
}

Test(options, help_text_lists_every_option) {
    cli::set_program_name("/usr/bin/pmap");
    std::string h = table().help_text();
    cr_assert(h.starts_with("Usage: pmap [OPTION]... COMMAND [ARG]...\nRun COMMAND once per input record.\n"),
              "%s", h.c_str());
    for (const char* s : {"-j, --jobs=N", "-k, --keep-order", "-0, --null", "    --timeout=DUR",
                          "    --color[=WHEN]", "-h, --help", "-V, --version", "run at most N jobs at once"})
        cr_assert(h.find(s) != std::string::npos, "missing '%s' in\n%s", s, h.c_str());
    ASSERT_STR(cli::option_table::version_text(), "pmap (conc) " CONC_VERSION);
}

// ---- messages ------------------------------------------------------------------

Test(messages, program_name_is_the_basename) {
    cli::set_program_name("/usr/local/bin/ppipe");
    ASSERT_STR(cli::program_name(), "ppipe");
    cli::set_program_name("parun");
    ASSERT_STR(cli::program_name(), "parun");
}

Test(messages, describe_sys_error) {
    conc::sys_error e(ENOENT, "open 'x.txt'");
    ASSERT_STR(cli::describe(e), "cannot open 'x.txt': No such file or directory");
    std::runtime_error other("something else");
    ASSERT_STR(cli::describe(other), "something else");
}

Test(messages, exit_codes) {
    cr_assert_eq(cli::exit_ok, 0);
    cr_assert_eq(cli::exit_empty, 1);
    cr_assert_eq(cli::exit_usage, 2);
    cr_assert_eq(cli::exit_failed, 123);
    cr_assert_eq(cli::exit_timeout, 124);
    cr_assert_eq(cli::exit_internal, 125);
    cr_assert_eq(cli::exit_cannot_exec, 126);
    cr_assert_eq(cli::exit_not_found, 127);
}

// LeakSanitizer's weak hook: a child that exit()s mid-test would otherwise run a
// leak check and add its warnings to the stderr being checked.
static bool in_capture_child = false;
extern "C" int __lsan_is_turned_off() { return in_capture_child; }

namespace {
// Runs f in a child with stderr (and stdout) captured; returns output and exit code.
template <class F>
std::pair<std::string, int> capture(F f, int which = STDERR_FILENO) {
    auto p = conc::make_pipe();
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        in_capture_child = true;
        dup2(p.write.get(), which);
        f();
        _exit(99);
    }
    p.write.reset();
    std::string out = conc::read_all(p.read.get());
    int st = 0;
    waitpid(pid, &st, 0);
    return {out, WIFEXITED(st) ? WEXITSTATUS(st) : -1};
}
}  // namespace

Test(messages, warn_usage_error_and_die) {
    cli::set_program_name("pmap");
    auto [w, wc] = capture([] { cli::warn("100% done %s %n"); });
    ASSERT_STR(w, "pmap: 100% done %s %n\n");
    cr_assert_eq(wc, 99);
    auto [u, uc] = capture([] { cli::usage_error("bad -j"); });
    ASSERT_STR(u, "pmap: bad -j\nTry 'pmap --help'.\n");
    cr_assert_eq(uc, 2);
    auto [d, dc] = capture([] { cli::die(conc::sys_error(ENOENT, "open 'x.txt'")); });
    ASSERT_STR(d, "pmap: cannot open 'x.txt': No such file or directory\n");
    cr_assert_eq(dc, 125);
}

Test(messages, parse_handles_help_version_and_errors) {
    cli::set_program_name("pmap");
    auto run = [](std::vector<std::string> w) {
        return [w]() mutable {
            fake_argv a(w);
            table().parse(a.argc(), a.argv());
            _exit(98);
        };
    };
    auto [h, hc] = capture(run({"pmap", "--help"}), STDOUT_FILENO);
    cr_assert_eq(hc, 0);
    cr_assert(h.starts_with("Usage: pmap "), "%s", h.c_str());
    auto [v, vc] = capture(run({"pmap", "-V"}), STDOUT_FILENO);
    cr_assert_eq(vc, 0);
    ASSERT_STR(v, "pmap (conc) " CONC_VERSION "\n");
    auto [e, ec] = capture(run({"pmap", "-x"}));
    cr_assert_eq(ec, 2);
    ASSERT_STR(e, "pmap: unknown option '-x'\nTry 'pmap --help'.\n");
    auto [ok, okc] = capture(run({"pmap", "-j", "2", "cmd"}));
    cr_assert_eq(okc, 98);
    cr_assert(ok.empty());
}
