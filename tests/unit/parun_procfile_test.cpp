// parun's Procfile reader: names, commands, comments, and errors with their line.
#include <criterion/criterion.h>

#include <string>

#include "../../tools/parun/procfile.hpp"

using parun::parse_procfile;
using parun::procfile_error;

namespace {

// The message parse_procfile gives for text, or "" when it parses.
std::string error_of(const std::string& text) {
    try {
        parse_procfile(text, "Procfile");
    } catch (const procfile_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

Test(parun_procfile, names_and_commands_in_order) {
    auto cmds = parse_procfile("web: python3 -m http.server 8000\nworker:  ./work --queue=a:b  \n", "P");
    cr_assert_eq(cmds.size(), 2u);
    cr_assert_eq(cmds[0].name, "web");
    cr_assert_eq(cmds[0].command, "python3 -m http.server 8000");
    cr_assert_eq(cmds[1].name, "worker");
    cr_assert_eq(cmds[1].command, "./work --queue=a:b");   // only the first colon splits
}

Test(parun_procfile, comments_blank_lines_and_crlf_are_skipped) {
    auto cmds = parse_procfile("# top\n\n   \n  # indented\r\na: echo a\r\n\nb:echo b", "P");
    cr_assert_eq(cmds.size(), 2u);
    cr_assert_eq(cmds[0].command, "echo a");
    cr_assert_eq(cmds[1].name, "b");
    cr_assert_eq(cmds[1].command, "echo b");   // the last line may lack its newline
}

Test(parun_procfile, errors_name_the_file_and_line) {
    cr_assert_eq(error_of("a: x\n\nno colon\n"), "Procfile:3: expected 'name: command'");
    cr_assert_eq(error_of("# c\na:\n"), "Procfile:2: the command for 'a' is empty");
    cr_assert_eq(error_of(": x\n"), "Procfile:1: a name must not be empty");
    cr_assert_eq(error_of("we b: x\n"), "Procfile:1: the name 'we b' may hold only letters, digits, '_', '-' and '.'");
    cr_assert_eq(error_of("a: x\nb: y\na: z\n"), "Procfile:3: the name 'a' is already used on line 1");
    cr_assert_eq(error_of("# only a comment\n\n"), "Procfile: no commands");
}

Test(parun_procfile, names_may_hold_dots_dashes_and_underscores) {
    auto cmds = parse_procfile("web.1: a\nwork-er_2: b\n", "P");
    cr_assert_eq(cmds[0].name, "web.1");
    cr_assert_eq(cmds[1].name, "work-er_2");
    cr_assert_eq(parun::name_problem("a,b"), "the name 'a,b' may hold only letters, digits, '_', '-' and '.'");
    cr_assert_eq(parun::name_problem("ok"), "");
}
