// cli::shell_quote and cli::format_command: how every tool shows a command.
// (pmap_template_test.cpp runs quoted values through /bin/sh.)
#include <criterion/criterion.h>

#include <string>

#include "command_line.hpp"

using namespace cli;

Test(command_line, shell_quote_leaves_safe_words_bare) {
    cr_assert_eq(shell_quote("abc-1.txt"), "abc-1.txt");
    cr_assert_eq(shell_quote("/usr/bin/x,y:z@h%+"), "/usr/bin/x,y:z@h%+");
    cr_assert_eq(shell_quote("--opt=v"), "--opt=v");
    cr_assert_eq(shell_quote(""), "''");
    cr_assert_eq(shell_quote("a b"), "'a b'");
    cr_assert_eq(shell_quote("it's"), "'it'\\''s'");
    cr_assert_eq(shell_quote("X=1"), "'X=1'");
    cr_assert_eq(shell_quote("if"), "'if'");
    cr_assert_eq(shell_quote("~"), "'~'");
}

Test(command_line, format_command_quotes_each_argument) {
    cr_assert_eq(format_command({"echo", "a b", "it's", "", "ok"}), "echo 'a b' 'it'\\''s' '' ok");
}

Test(command_line, format_command_quotes_what_sh_would_not_read_as_a_plain_word) {
    cr_assert_eq(format_command({"env", "X=1", "done", "a\nb", "$HOME"}), "env 'X=1' 'done' 'a\nb' '$HOME'");
    cr_assert_eq(format_command({}), "");
    cr_assert_eq(format_command({""}), "''");
}
