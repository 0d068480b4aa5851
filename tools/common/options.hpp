// options.hpp: one table per tool from which getopt_long's arrays and the
// --help text are both made, so the two cannot disagree.
//
//   enum { opt_timeout = 256 };                       // long-only options: keys >= 256
//   static const cli::option_table opts{
//       "[OPTION]... COMMAND [ARG]...", "Run COMMAND once per input record, in parallel.",
//       {{'j', "jobs", cli::arg::required, "N", "run at most N jobs at once"},
//        {'k', "keep-order", cli::arg::none, nullptr, "print output in input order"},
//        {opt_timeout, "timeout", cli::arg::required, "DUR", "stop after DUR"}}};
//   auto args = opts.parse(argc, argv);               // handles -h, -V and errors
//   for (auto& [key, value] : args.options) switch (key) { ... }
//   // args.operands: everything from the first non-option (or after "--") on
//
// Parsing stops at the first non-option ("+" in getopt's optstring), so the
// COMMAND's own options stay its own: in "pmap -j2 grep -v x", "-v" is grep's.
#pragma once
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cli {

enum class arg { none, required, optional };

// One option.  key is the short option character, or a value >= 256 for an
// option that is long only; parse() reports the option by its key.
struct option_spec {
    int key;
    const char* long_name;  // without "--"; nullptr if short only
    arg has_arg;
    const char* arg_name;   // shown in --help: "--jobs=N"; nullptr means "ARG"
    const char* help;       // one line for --help
};

// A command line that does not fit the table; what() is the message for usage_error().
class usage_problem : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct parsed_args {
    // Options in command-line order; the value is empty for an option without
    // one (or an optional argument not given).
    std::vector<std::pair<int, std::string>> options;
    // The first non-option argument and everything after it ("--" removed).
    std::vector<std::string> operands;
    // Index in argv of operands[0] (argc if none), for exec'ing argv + first_operand.
    int first_operand = 0;
    bool help = false;     // -h/--help was given
    bool version = false;  // -V/--version was given
};

class option_table {
public:
    // synopsis follows "Usage: TOOL "; description is the line after it.
    // -h/--help and -V/--version are added to every table.
    option_table(std::string synopsis, std::string description, std::vector<option_spec> options,
                 std::string epilog = {});

    // For tools: parses argv; on -h prints help_text() to stdout and exits 0;
    // on -V prints "TOOL (conc) VERSION" and exits 0; on a bad option calls
    // usage_error() (exit 2).
    parsed_args parse(int argc, char** argv) const;

    // For tests and unusual callers: parses without printing or exiting;
    // throws usage_problem.  Reentrant with respect to getopt's globals (resets them).
    parsed_args try_parse(int argc, char** argv) const;

    // The --help text, ending in a newline.
    std::string help_text() const;

    // Options back into words that parse() reads the same (each by its long
    // name where it has one: "--jobs=4", else "-k", "-I" "x"), leaving out
    // every option of a key that has a name in drop.  For a tool that runs
    // itself again with a few options changed.
    std::vector<std::string> render(const std::vector<std::pair<int, std::string>>& options,
                                    std::initializer_list<std::string_view> drop = {}) const;

    // "TOOL (conc) VERSION", without a newline.
    static std::string version_text();

private:
    std::string synopsis_;
    std::string description_;
    std::vector<option_spec> options_;
    std::string epilog_;
};

}  // namespace cli
