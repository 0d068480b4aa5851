// When pmap runs a job through a shell, and which shell (GNU parallel's habits).
//
// pmap execs the command directly whenever a shell would give it the same
// meaning: that is xargs's speed, and each value is exactly one argument.  A
// shell runs it when the command needs one (needs_shell()):
//   pmap 'gzip {} && rm {}'       one argument holding shell syntax
//   pmap echo {} '|' wc -c        an argument that is a shell operator on its own
//   export -f f; pmap f ::: 1     a name found on no PATH, but exported as a bash
//                                 function (BASH_FUNC_f%%) or a shell builtin
// or with -s, or with no command at all (each record is a command line).
// The shell is choose_shell()'s: $PARALLEL_SHELL, else $SHELL when it is a
// POSIX-family shell, else /bin/sh.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "command_template.hpp"

namespace pmap {

// Why cmd (argv mode, compiled as t) must run in a shell; empty when it need not.
std::string needs_shell(const std::vector<std::string>& cmd, const command_template& t);

// The shell for jobs: $PARALLEL_SHELL as given; else $SHELL if its name is one
// of sh, bash, dash, ksh, mksh, zsh, ash, busybox (shells that read pmap's
// quoting as sh does); else /bin/sh.  When wants_bash_functions and neither
// variable chose a bash, bash from PATH (an exported function lives only there).
std::string choose_shell(bool wants_bash_functions);

// cmd[0] is a plain name (no '/', no replacement) found on no PATH directory
// but exported as a bash function: BASH_FUNC_name%% in the environment.
bool exported_bash_function(std::string_view name);

// name is an executable file in a directory of $PATH (or the default path).
bool on_path(std::string_view name);

// A shell operator standing as an argument of its own, or a redirection
// glued to its target ("|", "&&", ";", ">", "2>>", ">{}.out", "<in").
bool shell_operator_word(std::string_view s);

// Characters the shell reads as syntax, anywhere in a word of a one-argument
// command ("gzip {} && rm {}"): blanks, | & ; < > ( ) $ ` \ " ' * ? [ ] !,
// and # or ~ at the start of a word.
bool has_shell_syntax(std::string_view s);

// This pmap's own binary, by its path (/proc/self/exe resolved); empty if unknown.
std::string own_binary();

}  // namespace pmap
