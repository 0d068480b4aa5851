// messages.hpp: exit codes and the one-line messages every conc tool prints.
// Why here: CONVENTIONS.md fixes the codes and the "TOOL: message" shape for
// all four tools; one place keeps them identical.
#pragma once
#include <exception>
#include <string>
#include <string_view>

namespace cli {

// Exit codes (CONVENTIONS.md, "Exit status").
inline constexpr int exit_ok = 0;             // everything asked for succeeded
inline constexpr int exit_empty = 1;          // pqueue: no item, or full with --nowait
inline constexpr int exit_usage = 2;          // usage error or bad input
inline constexpr int exit_failed = 123;       // one or more jobs or commands failed
inline constexpr int exit_timeout = 124;      // the tool's own --timeout ran out
inline constexpr int exit_internal = 125;     // the tool itself failed
inline constexpr int exit_cannot_exec = 126;  // the command cannot be executed
inline constexpr int exit_not_found = 127;    // the command was not found
inline constexpr int exit_signal_base = 128;  // + n: stopped by signal n

// Sets the TOOL in "TOOL: message" to the basename of argv0.  Call first in main.
void set_program_name(const char* argv0);
// "conc" until set_program_name() is called.
const std::string& program_name();

// Prints "TOOL: msg" and a newline to stderr in one write(2), so lines from
// several processes do not interleave.  msg is printed as is: no format string.
void warn(std::string_view msg);

// warn(msg), then exit(code).
[[noreturn]] void die(int code, std::string_view msg);

// "TOOL: msg", then "Try 'TOOL --help'.", then exit(exit_usage).
[[noreturn]] void usage_error(std::string_view msg);

// parse(value) for an option's value; whatever it throws becomes
// usage_error("OPTION: what()"):  parse_value("--grace", v, cli::parse_duration).
template <class F>
auto parse_value(const char* option, const std::string& value, F parse) {
    try {
        return parse(value);
    } catch (const std::exception& e) {
        usage_error(std::string(option) + ": " + e.what());
    }
}

// An exception as a message: a conc::sys_error whose what() is
// "open 'x.txt': No such file or directory" becomes
// "cannot open 'x.txt': No such file or directory"; other exceptions give what().
std::string describe(const std::exception& e);

// die(exit_internal, describe(e)): what main does with an exception it cannot handle.
[[noreturn]] void die(const std::exception& e, int code = exit_internal);

}  // namespace cli
