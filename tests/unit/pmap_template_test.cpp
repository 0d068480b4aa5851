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
#include "../../tools/pmap/input.hpp"
#include "command_line.hpp"
#include "conc/fd.hpp"

using namespace pmap;
using strings = std::vector<std::string>;

extern char** environ;

namespace {

strings expand1(const command_template& t, std::string_view item, std::size_t seq = 1, unsigned slot = 1,
                std::size_t total = 0) {
    std::string_view items[] = {item};
    return t.expand(items, seq, slot, total);
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
template_options context_opts() {
    template_options o;
    o.context = true;
    return o;
}
template_options plus_opts() {
    template_options o;
    o.plus = true;
    return o;
}
template_options rpl_opts(std::string tag, std::string expr) {
    template_options o;
    o.rpl.emplace_back(std::move(tag), std::move(expr));
    return o;
}
bool rejected(std::vector<std::string> args, template_options o, std::string* why = nullptr) {
    try {
        command_template t(std::move(args), std::move(o));
    } catch (const std::invalid_argument& e) {
        if (why) *why = e.what();
        return true;
    }
    return false;
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
    // GNU parallel: {1} is value 1 even with one source (changed from literal for GNU compatibility).
    command_template t({"awk", "{print $1}", "{1}", "{x}", "{", "}", "{{}}"});
    assert_argv(expand1(t, "i"), {"awk", "{print $1}", "i", "{x}", "{", "}", "{i}"});
}

Test(template, several_items_standalone_brace_gives_one_argument_each) {
    command_template t({"echo", "{}"});
    assert_argv(expandn(t, {"a", "b c", "d"}), {"echo", "a", "b c", "d"});
}

Test(template, several_values_split_a_word_as_gnu_parallels_shell_does) {
    // GNU parallel -n3 echo x{}y ::: a b c prints "xa b cy": the shell splits {}'s values.
    command_template t({"echo", "x{}y", "{#}", "-o", "{.}.z"});
    assert_argv(expandn(t, {"1.a", "2.b", "3"}, 3), {"echo", "x1.a", "2.b", "3y", "3", "-o", "1", "2", "3.z"});
    cr_assert_eq(t.base_cost() > 0, true);
}

Test(template, context_replace_repeats_the_word_once_per_value) {
    // GNU parallel -X echo x{}y z{.}w {#} ::: 1.a 2.b
    command_template t({"echo", "x{}y", "{#}", "-o", "{.}.z", "[{2}]"}, context_opts());
    assert_argv(expandn(t, {"1.a", "2.b"}, 3), {"echo", "x1.ay", "x2.by", "3", "-o", "1.z", "2.z", "[2.b]"});
}

Test(template, several_items_appended_when_no_replacement) {
    command_template t({"rm", "--"});
    assert_argv(expandn(t, {"a", "b", "c"}), {"rm", "--", "a", "b", "c"});
}

Test(template, positional_values_and_their_derived_forms) {
    // GNU parallel echo {1} {2} {3} {2.} {1/} {1//} {2/.} ::: d/a.x ::: b.y
    command_template t({"echo", "{1}", "{2}", "{3}", "{2.}", "{1/}", "{1//}", "{2/.}", "{}"});
    cr_assert(t.uses_item());
    assert_argv(expandn(t, {"d/a.x", "b.y"}), {"echo", "d/a.x", "b.y", "", "b", "a.x", "d", "b", "d/a.x", "b.y"});
    command_template regex({"grep", "-E", "a{2}"});   // GNU parallel too: {2} is value 2
    assert_argv(expand1(regex, "f"), {"grep", "-E", "a"});
}

Test(template, split_record_cuts_at_a_literal_separator_and_trims) {
    std::vector<std::string> v;
    split_record("a.*b.c", ".*", trim_mode::none, v);
    assert_argv(v, {"a", "b.c"});
    v.clear();
    split_record(" a b ,\t c\t, ", ",", trim_mode::both, v);
    assert_argv(v, {"a b", "c", ""});
    v.clear();
    split_record("  x  ", "", trim_mode::left, v);
    split_record("  x  ", "", trim_mode::right, v);
    split_record("  x  ", "", trim_mode::none, v);
    assert_argv(v, {"x  ", "  x", "  x  "});
}

Test(template, plus_strings_match_gnu_parallel) {
    // parallel --plus echo {+/} {+.} {..} {...} {/..} {/...} {+..} {+...} ::: dir/sub/file.tar.gz
    command_template t({"echo", "{+/}", "{+.}", "{..}", "{...}", "{/..}", "{/...}", "{+..}", "{+...}"}, plus_opts());
    assert_argv(expand1(t, "dir/sub/file.tar.gz"),
                {"echo", "dir/sub", "gz", "dir/sub/file", "dir/sub/file.tar.gz", "file", "file.tar.gz", "tar.gz", ""});
    // parallel --plus echo {:2} {:1:3} {#2} {%.gz} {/z/Z} {//z/Z} {%%.*} {%.*} {/#d/D} {/%z/Z} {:-x} ::: dir/sub/file.tar.gz ''
    command_template b({"echo", "{:2}", "{:1:3}", "{#2}", "{%.gz}", "{/z/Z}", "{//z/Z}", "{%%.*}", "{%.*}", "{/#d/D}",
                        "{/%z/Z}", "{:-x}"},
                       plus_opts());
    assert_argv(expand1(b, "dir/sub/file.tar.gz"),
                {"echo", "r/sub/file.tar.gz", "ir/", "dir/sub/file.tar.gz", "dir/sub/file.tar", "dir/sub/file.tar.gZ",
                 "dir/sub/file.tar.gZ", "", "dir/sub/file.tar.gz", "Dir/sub/file.tar.gz", "dir/sub/file.tar.gZ",
                 "dir/sub/file.tar.gz"});
    assert_argv(expand1(b, ""), {"echo", "", "", "", "", "", "", "", "", "", "", "x"});
    // Without --plus they stay literal.
    command_template plain({"echo", "{+/}", "{:2}"});
    assert_argv(expand1(plain, "a/b"), {"echo", "{+/}", "{:2}", "a/b"});
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
    template_options o = shell_opts();
    o.context = true;
    command_template t({"printf '[%s]' pre{}post {#}"}, o);
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

Test(template, user_tags_and_perl_free_expressions) {
    // parallel --rpl '{x} s/a/b/' echo {x} {1x} ::: aaa
    command_template t({"echo", "{x}", "{1x}", "<{x}>"}, rpl_opts("{x}", "s/a/b/"));
    assert_argv(expand1(t, "aaa"), {"echo", "baa", "baa", "<baa>"});
    command_template g({"echo", "{x}"}, rpl_opts("{x}", "s/a/b/g"));
    assert_argv(expand1(g, "aaa"), {"echo", "bbb"});
    // ':' as the delimiter, || as GNU parallel's {+/} uses it, ; in turn, $_= and the i flag
    command_template alt({"echo", "{d}"}, rpl_opts("{d}", "s:/[^/]*$:: || s:.*$::; s/^/[/; s/$/]/"));
    assert_argv(expand1(alt, "a/b/c"), {"echo", "[a/b]"});
    assert_argv(expand1(alt, "c"), {"echo", "[]"});
    command_template lit({"echo", "{l}"}, rpl_opts("{l}", "$_ = 'x$y'"));
    assert_argv(expand1(lit, "v"), {"echo", "x$y"});
    command_template ic({"echo", "{i}"}, rpl_opts("{i}", "s/(A)(b)/$2${1}\\$/gi"));
    assert_argv(expand1(ic, "abAB"), {"echo", "ba$BA$"});
    // a tag that is not {X}, as GNU parallel allows
    command_template dots({"echo", "x..y"}, rpl_opts("..", "s/\\..*//"));
    assert_argv(expand1(dots, "f.tar.gz"), {"echo", "xfy"});
    // {= EXPR =} and {=N EXPR =}
    command_template eq({"echo", "{= s/a/b/ =}", "{=2 s/^/-/ =}"});
    assert_argv(expandn(eq, {"a", "c"}), {"echo", "b", "c", "-c"});
}

Test(template, perl_beyond_the_subset_is_refused_with_what_to_use) {
    std::string why;
    cr_assert(rejected({"echo", "{= $_ = uc($_) =}"}, {}, &why));
    cr_assert(why.find("no Perl") != std::string::npos, "%s", why.c_str());
    cr_assert(why.find("s/RE/REPL/") != std::string::npos, "%s", why.c_str());
    cr_assert(rejected({"echo", "{x}"}, rpl_opts("{x}", "tr/a-z/A-Z/")));
    cr_assert(rejected({"echo", "{x}"}, rpl_opts("{x}", "s/a/$foo/")));
    cr_assert(rejected({"echo", "{x}"}, rpl_opts("{x}", "s/(/x/")));
    cr_assert(rejected({"echo", "{x}"}, rpl_opts("{x}", "s/a/b/e")));
    cr_assert(rejected({"echo", "{x}"}, rpl_opts("{x}", "s/a/b")));
    cr_assert(rejected({"echo", "{x}"}, rpl_opts("", "s/a/b/")));
    cr_assert(rejected({"echo", "{##*/}"}, plus_opts()));   // Perl reads ^* its own way; std::regex refuses it
}

Test(template, header_names_bind_to_positions) {
    template_options o;
    o.names = true;
    command_template t({"echo", "{b}", "{a}", "{c}", "{a.}"}, o);
    t.bind_names({"a", "b"});
    assert_argv(expandn(t, {"x.1", "y"}), {"echo", "y", "x.1", "{c}", "{a.}"});
    template_options off;
    command_template lit({"echo", "{b}"}, off);
    assert_argv(expand1(lit, "v"), {"echo", "{b}", "v"});
}

Test(template, total_and_padded_numbers) {
    template_options o = plus_opts();
    o.slots = 12;
    command_template t({"echo", "{##}", "{0#}", "{0%}"}, o);
    cr_assert(t.uses_total());
    assert_argv(expand1(t, "v", 7, 3, 150), {"echo", "150", "007", "03"});
    command_template plain({"echo", "{#}"});
    cr_assert_not(plain.uses_total());
}

// Packing trusts base_cost() + value_cost(): they must never be below what
// expand() really builds (strings, NULs and pointers), in every mode.
Test(template, packing_costs_are_never_below_the_real_argv) {
    std::vector<std::string> pool = {"a", "", "some/dir/file.tar.gz", "it's \"q\"", std::string(300, 'x'), "$(x) ;"};
    std::vector<std::vector<std::string>> templates = {
        {"echo"}, {"echo", "{}"}, {"echo", "x{}y", "{.}", "{#}", "{%}", "-o", "{/.}z{}"}, {"cp", "{1}", "{2}", "{}"},
        {"printf '[%s]' pre{}post {#} | cat"},
    };
    for (int mode = 0; mode < 4; ++mode) {
        for (std::size_t ti = 0; ti < templates.size(); ++ti) {
            template_options o;
            o.context = mode & 1;
            o.shell = (mode & 2) || ti == templates.size() - 1;
            command_template t(templates[ti], o);
            for (std::size_t n = 0; n <= pool.size(); ++n) {
                std::vector<std::string_view> values(pool.begin(), pool.begin() + std::ptrdiff_t(n));
                std::size_t est = t.base_cost();
                for (auto v : values) est += t.value_cost(v.size());
                strings argv = t.expand(values, 123456, 99);
                std::size_t real = sizeof(char*);
                for (auto& a : argv) real += a.size() + 1 + sizeof(char*);
                cr_assert_leq(real, est, "mode %d template %zu, %zu values: %zu > %zu", mode, ti, n, real, est);
            }
        }
    }
}

Test(template, argv_room_is_arg_max_less_the_environment) {
    long max = sysconf(_SC_ARG_MAX);
    std::size_t room = argv_room();
    cr_assert_gt(room, 0u);
    cr_assert_lt(room, std::size_t(max));
    std::string big(100000, 'e');
    setenv("PMAP_TEMPLATE_TEST_BIG", big.c_str(), 1);
    cr_assert_leq(argv_room() + big.size(), room, "the environment counts");
    unsetenv("PMAP_TEMPLATE_TEST_BIG");
}
