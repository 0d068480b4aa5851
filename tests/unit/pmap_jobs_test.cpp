// pmap's jobs and slots pieces: when a command needs a shell and which shell
// (shell.hpp), and the /proc readings behind --load and --memfree (slots.hpp).
#include <criterion/criterion.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "../../tools/pmap/command_template.hpp"
#include "../../tools/pmap/shell.hpp"
#include "../../tools/pmap/slots.hpp"
#include "units.hpp"

using namespace pmap;

namespace {

std::string why(std::vector<std::string> cmd) {
    command_template t(cmd);
    return needs_shell(cmd, t);
}

}  // namespace

Test(pmap_jobs, plain_commands_need_no_shell) {
    cr_assert_eq(why({"echo"}), "");
    cr_assert_eq(why({"gzip", "-9", "{}"}), "");
    cr_assert_eq(why({"convert", "{}", "{.}.png"}), "");
    cr_assert_eq(why({"sh", "-c", "echo $1 | wc", "sh"}), "");   // several arguments: each stays whole
    cr_assert_eq(why({"printf", "[%s]\\n"}), "");
    cr_assert_eq(why({"./a.out", "x=1"}), "");
    cr_assert_eq(why({"{}"}), "");
}

Test(pmap_jobs, shell_syntax_in_a_one_argument_command) {
    cr_assert_neq(why({"gzip {} && rm {}"}), "");
    cr_assert_neq(why({"grep x {} > {}.out"}), "");
    cr_assert_neq(why({"echo $HOME"}), "");
    cr_assert_neq(why({"ls *.c"}), "");
    cr_assert_neq(why({"~/bin/x"}), "");
    cr_assert_neq(why({"echo {}"}), "");   // a blank: the shell splits words
}

Test(pmap_jobs, shell_operators_as_arguments) {
    cr_assert_neq(why({"echo", "{}", "|", "wc", "-c"}), "");
    cr_assert_neq(why({"make", "&&", "echo", "ok"}), "");
    cr_assert_neq(why({"grep", "x", "{}", ">{}.out"}), "");
    cr_assert_neq(why({"cmd", "2>/dev/null"}), "");
    cr_assert_neq(why({"cmd", "&>", "log"}), "");
    cr_assert_eq(why({"echo", "a|b"}), "");   // inside a word of several: data, as xargs
}

Test(pmap_jobs, words_that_mean_something_to_the_shell) {
    cr_assert_neq(why({"for"}), "");
    cr_assert_neq(why({"X=1"}), "");
    cr_assert_neq(why({"cd", "{}"}), "");
    cr_assert_neq(why({"export"}), "");
    cr_assert_eq(why({"true"}), "");   // a builtin that PATH holds too: exec'd
}

Test(pmap_jobs, exported_bash_functions) {
    cr_assert_eq(why({"conc_test_fn_x"}), "");
    setenv("BASH_FUNC_conc_test_fn_x%%", "() {  echo hi\n}", 1);
    cr_assert(exported_bash_function("conc_test_fn_x"));
    cr_assert_neq(why({"conc_test_fn_x", "{}"}), "");
    unsetenv("BASH_FUNC_conc_test_fn_x%%");
}

Test(pmap_jobs, the_shell_chosen) {
    setenv("PARALLEL_SHELL", "/opt/my shell", 1);
    setenv("SHELL", "/bin/bash", 1);
    cr_assert_eq(choose_shell(true), "/opt/my shell");   // as given, even for functions
    unsetenv("PARALLEL_SHELL");
    cr_assert_eq(choose_shell(false), "/bin/bash");
    setenv("SHELL", "/usr/bin/fish", 1);
    cr_assert_eq(choose_shell(false), "/bin/sh");          // not a POSIX-family shell
    setenv("SHELL", "/bin/dash", 1);
    cr_assert_eq(choose_shell(false), "/bin/dash");
    if (on_path("bash")) cr_assert_eq(choose_shell(true), "bash");
    unsetenv("SHELL");
    cr_assert_eq(choose_shell(false), "/bin/sh");
}

Test(pmap_jobs, operator_words) {
    for (const char* s : {"|", "||", "&", "&&", ";", ";;", "|&", "(", ")", ">", ">>", "<", "2>", "2>&1", ">x", "<in", "&>", "&>>log"})
        cr_assert(shell_operator_word(s), "%s", s);
    for (const char* s : {"a", "-", "--", "a>b", "x|", "2", "{}", ""}) cr_assert(!shell_operator_word(s), "%s", s);
    cr_assert(has_shell_syntax("a b"));
    cr_assert(has_shell_syntax("#x"));
    cr_assert(!has_shell_syntax("a#x"));
    cr_assert(!has_shell_syntax("a~x"));
    cr_assert(!has_shell_syntax("dir/x-1.2_y,z:w@v%u+t=s"));
}

Test(pmap_jobs, load_values) {
    cr_assert_float_eq(parse_load("3", 4), 3.0, 1e-9);
    cr_assert_float_eq(parse_load("2.5", 4), 2.5, 1e-9);
    cr_assert_float_eq(parse_load("50%", 4), 2.0, 1e-9);
    cr_assert_float_eq(parse_load("0", 4), 0.0, 1e-9);
    for (const char* v : {"", "x", "-1", "+1", "1e3", "1x", "%", "inf", "nan"}) {
        bool threw = false;
        try {
            parse_load(v, 4);
        } catch (const cli::bad_value&) {
            threw = true;
        }
        cr_assert(threw, "accepted '%s'", v);
    }
}

Test(pmap_jobs, proc_readings) {
    cr_assert(runnable_of("0.52 0.58 0.59 3/517 12345\n") == 3.0);
    cr_assert(runnable_of("9.90 9.25 7.80 12/139 2217") == 12.0);
    cr_assert(!runnable_of("garbage"));
    cr_assert(!runnable_of("1 2 3 4"));
    std::string meminfo =
        "MemTotal:        8000000 kB\nMemFree:          100 kB\nMemAvailable:    5000 kB\n"
        "Buffers:           20 kB\nCached:            300 kB\nSwapCached:          4 kB\nActive:  9 kB\n";
    cr_assert(memfree_of(meminfo) == std::uint64_t(424) * 1024);
    cr_assert(!memfree_of("nothing here\n"));
    start_limits none;
    cr_assert(!none.any());
    cr_assert(room_to_start(none));
    start_limits huge{.max_load = 1e9, .memfree = 1};
    cr_assert(room_to_start(huge));
    start_limits never{.max_load = 1, .memfree = std::nullopt};   // pmap itself is runnable when it looks
    cr_assert(!room_to_start(never));
    start_limits no_memory{.max_load = std::nullopt, .memfree = std::uint64_t(1) << 60};
    cr_assert(!room_to_start(no_memory));
}
