// command_line.hpp: shell quoting, and the one way every conc tool prints a
// command (--dry-run, -v, the joblog, messages), so that what is shown can be
// pasted into sh and runs the same argv.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cli {

// POSIX sh quoting: safe words stay bare (abc-1.txt), everything else goes in
// single quotes with ' written '\'' (the empty string is ''); reserved words
// (if, done, ...) and NAME=value are quoted too, as they would not be words
// in command position.
std::string shell_quote(std::string_view s);
void append_shell_quoted(std::string& out, std::string_view s);

// argv shell-quoted and space-joined: "echo 'a b' 'it'\''s'".
std::string format_command(const std::vector<std::string>& argv);

// The argv that runs script with the POSIX shell: /bin/sh -c script.
std::vector<std::string> shell_argv(std::string script);

}  // namespace cli
