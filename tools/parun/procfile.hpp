// The Procfile (foreman's, honcho's): one "name: command" a line; '#' starts
// a comment line; blank lines are skipped.  A name is letters, digits, '_',
// '-' and '.'; the command is everything after the colon, trimmed.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parun {

struct named_command {
    std::string name;
    std::string command;   // a shell string: run as /bin/sh -c COMMAND
};

// A line that is not "name: command"; what() is "FILE:LINE: what is wrong".
class procfile_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses text read from file (file only names it in messages).
std::vector<named_command> parse_procfile(std::string_view text, const std::string& file);

// Reads and parses path ("-": standard input).  Throws conc::sys_error when
// the file cannot be read, procfile_error when a line is wrong.
std::vector<named_command> read_procfile(const std::string& path);

// Why a command's name cannot be used, or empty.
std::string name_problem(std::string_view name);

}  // namespace parun
