// pmap's command template: replacement strings, -n context replace, --colsep,
// shell mode quoting (checked by running /bin/sh), and the helpers.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../../tools/pmap/command_template.hpp"
#include "command_line.hpp"
#include "conc/fd.hpp"

using namespace pmap;
using strings = std::vector<std::string>;

extern char** environ;

namespace {

strings expand1(const command_template& t, std::string_view item, std::size_t seq = 1, unsigned slot = 1) {
    std::string_view items[] = {item};
    return t.expand(items, seq, slot);
}

strings expandn(const command_template& t, std::vector<std::string_view> items, std::size_t seq = 1,
                unsigned slot = 1) {
    return t.expand(items, seq, slot);
}

void assert_argv(const strings& got, const strings& want) {
    cr_assert_eq(got.size(), want.size(), "argc %zu, expected %zu", got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
        cr_assert_eq(got[i], want[i], "argv[%zu] is '%s', expected '%s'", i, got[i].c_str(), want[i].c_str());
}

// Runs argv (no shell of our own), returns its stdout; asserts it exited 0.
std::string run(const strings& argv) {
    auto p = conc::make_pipe();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p.write.get(), 1);
    std::vector<char*> av;
    for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawn(&pid, av[0], &fa, nullptr, av.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn %s", av[0]);
    p.write.reset();
    std::string out = conc::read_all(p.read.get());
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", argv.back().c_str());
    return out;
}

const std::vector<std::string> hostile = {
    "$(touch pwned)", "`touch pwned`", "; rm -rf /", "a b", "it's", "\"quoted\"", "line1\nline2", "",
    "*", "~", "$HOME", "-n", "a\\b", "'", "''", "!", "x=1", "if", "{}", "\t", "&&", "|", "#c", ">out", "é\xff",
};

template_options shell_opts() {
    template_options o;
    o.shell = true;
    return o;
}
template_options replace_opts(std::string r) {
    template_options o;
    o.replace = std::move(r);
    return o;
}
template_options colsep_opts(std::string sep) {
    template_options o;
    o.colsep = std::move(sep);
    return o;
}

}  // namespace

Test(template, item_appended_when_no_replacement) {
    command_template t({"echo", "-n"});
    cr_assert_not(t.uses_item());
    cr_assert_not(t.has_replacement());
    assert_argv(expand1(t, "a b"), {"echo", "-n", "a b"});
}

Test(template, replacement_anywhere_inside_an_argument) {
    command_template t({"cp", "{}", "x{}y", "{}.bak"});
    cr_assert(t.uses_item());
    assert_argv(expand1(t, "f"), {"cp", "f", "xfy", "f.bak"});
}

Test(template, derived_replacements_follow_gnu_parallel) {
    command_template t({"{.}", "{/}", "{//}", "{/.}"});
    assert_argv(expand1(t, "dir/x.tar.gz"), {"dir/x.tar", "x.tar.gz", "dir", "x.tar"});
    assert_argv(expand1(t, "a.b/c"), {"a.b/c", "c", "a.b", "c"});
    assert_argv(expand1(t, "a"), {"a", "a", ".", "a"});
    assert_argv(expand1(t, "/x.y"), {"/x", "x.y", "/", "x"});
    assert_argv(expand1(t, "/"), {"/", "", "/", ""});
    assert_argv(expand1(t, ".hidden"), {"", ".hidden", ".", ""});
    assert_argv(expand1(t, "a/"), {"a/", "", ".", ""});
    assert_argv(expand1(t, "a/b/"), {"a/b/", "", "a", ""});
    assert_argv(expand1(t, "./a"), {"./a", "a", ".", "a"});
    assert_argv(expand1(t, "x."), {"x", "x.", ".", "x"});
    assert_argv(expand1(t, ".."), {".", "..", ".", "."});
    assert_argv(expand1(t, "a//b"), {"a//b", "b", "a", "b"});
    assert_argv(expand1(t, ""), {"", "", ".", ""});
}

Test(template, path_helpers_match_perl_dirname) {
    cr_assert_eq(path_dirname("//"), "/");
    cr_assert_eq(path_dirname("//a"), "/");
    cr_assert_eq(path_dirname("a/b//"), "a");
    cr_assert_eq(path_dirname("../x"), "..");
    cr_assert_eq(path_dirname("a b/.c"), "a b");
    cr_assert_eq(path_noext("a b/.c"), "a b/");
    cr_assert_eq(path_basename("a/b"), "b");
}

Test(template, job_number_and_slot) {
    command_template t({"echo", "{#}-{%}", "{}"});
    cr_assert(t.uses_item());
    assert_argv(expand1(t, "a", 12345, 2), {"echo", "12345-2", "a"});
}

Test(template, job_number_alone_suppresses_appending_like_gnu_parallel) {
    command_template t({"echo", "{#}"});
    cr_assert_not(t.uses_item());
    cr_assert(t.has_replacement());
    assert_argv(expand1(t, "a", 7, 1), {"echo", "7"});
}

Test(template, dash_I_changes_the_item_string_and_keeps_derived_forms) {
    command_template t({"mv", "XX", "XX.{}", "{.}.out"}, replace_opts("XX"));
    assert_argv(expand1(t, "a.b"), {"mv", "a.b", "a.b.{}", "a.out"});
}

Test(template, unknown_braces_stay_literal) {
    command_template t({"awk", "{print $1}", "{1}", "{x}", "{", "}", "{{}}"});
    assert_argv(expand1(t, "i"), {"awk", "{print $1}", "{1}", "{x}", "{", "}", "{i}"});
}

Test(template, several_items_standalone_brace_gives_one_argument_each) {
    command_template t({"echo", "{}"});
    assert_argv(expandn(t, {"a", "b c", "d"}), {"echo", "a", "b c", "d"});
}

Test(template, several_items_context_replace_repeats_the_word) {
    command_template t({"echo", "x{}y", "{#}", "-o", "{.}.z"});
    assert_argv(expandn(t, {"1.a", "2.b"}, 3), {"echo", "x1.ay", "x2.by", "3", "-o", "1.z", "2.z"});
}

Test(template, several_items_appended_when_no_replacement) {
    command_template t({"rm", "--"});
    assert_argv(expandn(t, {"a", "b", "c"}), {"rm", "--", "a", "b", "c"});
}

Test(template, colsep_columns) {
    command_template t({"echo", "{1}", "{2}", "{3}", "{}", "{2.}", "{1/}"}, colsep_opts(", "));
    cr_assert(t.uses_item());
    assert_argv(expand1(t, "d/a.x, b.y"), {"echo", "d/a.x", "b.y", "", "d/a.x, b.y", "b", "a.x"});
}

Test(template, colsep_is_a_literal_string_not_a_regex) {
    command_template t({"{2}"}, colsep_opts(".*"));
    assert_argv(expand1(t, "a.*b.c"), {"b.c"});
    cr_assert_eq(record_column("a..b", ".", 2), "");
    cr_assert_eq(record_column("a..b", ".", 3), "b");
    cr_assert_eq(record_column("a", ".", 9), "");
}

Test(template, colsep_escapes_mean_the_characters) {
    // --colsep '\t' is a tab, not a backslash and a t (defect 7).
    command_template tab({"echo", "{2}"}, colsep_opts("\\t"));
    assert_argv(expand1(tab, "a\tb\\tc"), {"echo", "b\\tc"});
    command_template backslash({"echo", "{2}"}, colsep_opts("\\\\"));
    assert_argv(expand1(backslash, "a\\b"), {"echo", "b"});
    command_template newline({"echo", "{1}", "{2}"}, colsep_opts("\\n"));
    assert_argv(expand1(newline, "a\nb"), {"echo", "a", "b"});
    command_template literal_tab({"echo", "{2}"}, colsep_opts("\t"));
    assert_argv(expand1(literal_tab, "a\tb"), {"echo", "b"});
}

Test(template, colsep_trims_blanks_around_each_column) {
    // GNU parallel: --colsep implies --trim rl.
    command_template t({"echo", "[{1}]", "[{2}]", "[{3}]", "{}"}, colsep_opts(","));
    assert_argv(expand1(t, " a b ,\t c\t, "), {"echo", "[a b]", "[c]", "[]", " a b ,\t c\t, "});
    cr_assert_eq(trim_blanks(" \t x y\t "), "x y");
    cr_assert_eq(trim_blanks(" \t"), "");
}

Test(template, colsep_without_replacement_gives_one_argument_per_column) {
    // GNU parallel: printf 'a\tb\n' | parallel --colsep '\t' echo runs echo a b.
    command_template t({"echo"}, colsep_opts("\\t"));
    cr_assert_not(t.has_replacement());
    assert_argv(expand1(t, "a\tb"), {"echo", "a", "b"});
    assert_argv(expand1(t, " a \t\t b"), {"echo", "a", "", "b"});
    assert_argv(expandn(t, {"a\tb", "c"}), {"echo", "a", "b", "c"});
    command_template sh({"printf '[%s]'"}, [] {
        template_options o = colsep_opts(",");
        o.shell = true;
        return o;
    }());
    auto argv = expand1(sh, "x y , it's");
    assert_argv(argv, {"/bin/sh", "-c", "printf '[%s]' 'x y' 'it'\\''s'"});
    cr_assert_eq(run(argv), "[x y][it's]");
}

Test(template, columns_need_colsep) {
    command_template t({"grep", "-E", "a{2}"});
    cr_assert_not(t.has_replacement());
    assert_argv(expand1(t, "f"), {"grep", "-E", "a{2}", "f"});
}

Test(template, bad_templates_are_rejected) {
    bool threw = false;
    try {
        command_template t({}, {});
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    cr_assert(threw);
    threw = false;
    try {
        command_template t({"echo"}, replace_opts(""));
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    cr_assert(threw);
    threw = false;
    try {
        command_template t({"echo"}, colsep_opts(""));
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    cr_assert(threw);
}

Test(template, hostile_items_are_single_literal_arguments) {
    command_template direct({"printf", "%s", "{}"});
    command_template appended({"printf", "%s"});
    for (const auto& item : hostile) {
        assert_argv(expand1(direct, item), {"printf", "%s", item});
        assert_argv(expand1(appended, item), {"printf", "%s", item});
    }
}

Test(template, shell_mode_runs_sh_c_with_quoted_values) {
    command_template t({"echo", "{}", "|", "tr", "a", "b"}, shell_opts());
    auto argv = expand1(t, "a b");
    assert_argv(argv, {"/bin/sh", "-c", "echo 'a b' | tr a b"});
    cr_assert_eq(run(argv), "b b\n");
}

Test(template, shell_mode_appends_quoted_items) {
    command_template t({"printf '%s|'"}, shell_opts());
    auto argv = expandn(t, {"a b", "$(x)"});
    assert_argv(argv, {"/bin/sh", "-c", "printf '%s|' 'a b' '$(x)'"});
    cr_assert_eq(run(argv), "a b|$(x)|");
}

Test(template, shell_mode_context_replace_repeats_the_word) {
    command_template t({"printf '[%s]' pre{}post {#}"}, shell_opts());
    auto argv = expandn(t, {"1 1", "2"}, 9);
    cr_assert_eq(run(argv), "[pre1 1post][pre2post][9]");
}

Test(template, shell_mode_hostile_items_reach_the_command_literally) {
    char dir[] = "/tmp/pmap_template_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chdir(dir), 0);
    command_template inside({"printf", "'%s'", "{}"}, shell_opts());
    command_template appended({"printf '%s'"}, shell_opts());
    command_template derived({"printf", "'%s'", "x{}x"}, shell_opts());
    for (const auto& item : hostile) {
        cr_assert_eq(run(expand1(inside, item)), item, "item '%s'", item.c_str());
        cr_assert_eq(run(expand1(appended, item)), item, "item '%s'", item.c_str());
        cr_assert_eq(run(expand1(derived, item)), "x" + item + "x", "item '%s'", item.c_str());
    }
    cr_assert_neq(access("pwned", F_OK), 0, "a substitution was executed");
    cr_assert_eq(rmdir(dir), 0, "something was created in %s", dir);
}

Test(template, shell_quote_round_trips_through_sh) {
    for (const auto& item : hostile) {
        strings argv = {"/bin/sh", "-c", "printf '%s' " + cli::shell_quote(item)};
        cr_assert_eq(run(argv), item, "item '%s'", item.c_str());
    }
}

Test(template, too_long_argument_is_found) {
    strings argv = {"echo", std::string(max_arg_strlen - 1, 'a')};
    cr_assert_not(too_long_argument(argv).has_value());
    argv.push_back(std::string(max_arg_strlen, 'b'));
    auto i = too_long_argument(argv);
    cr_assert(i.has_value());
    cr_assert_eq(*i, 2u);
}

Test(template, too_long_argument_is_really_refused_by_the_kernel) {
    strings argv = {"/bin/true", std::string(max_arg_strlen, 'x')};
    char* av[] = {argv[0].data(), argv[1].data(), nullptr};
    pid_t pid;
    int rc = posix_spawn(&pid, av[0], nullptr, nullptr, av, environ);
    if (rc == 0) {
        int st;
        waitpid(pid, &st, 0);
        // posix_spawn may report exec failure as exit status 127.
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 127);
    } else {
        cr_assert_eq(rc, E2BIG);
    }
    argv[1].pop_back();
    cr_assert_not(too_long_argument(argv).has_value());
}

Test(template, expand_is_cheap) {
    command_template t({"convert", "{}", "-resize", "50%", "out/{/.}.png", "{#}"});
    std::string_view item = "some/dir/picture.jpeg";
    auto t0 = std::chrono::steady_clock::now();
    std::size_t total = 0;
    for (std::size_t i = 1; i <= 200000; ++i) total += expand1(t, item, i, 1)[4].size();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    cr_assert_eq(total, 200000u * std::string("out/picture.png").size());
    // Generous: ~0.2 s at -O2; the bound only catches a quadratic mistake.
    cr_assert_lt(ms, 10000, "200000 expansions took %lld ms", static_cast<long long>(ms));
}
