// shared_options.hpp: the options every conc tool shares (CONVENTIONS.md),
// parsed one way: -j (and its alias -P), -0, -d, --timeout, --bar[=always],
// --dry-run, -v.
//
//   std::vector<cli::option_spec> rows = cli::shared_option_rows("stop a job after DUR");
//   rows.insert(rows.end(), {...the tool's own rows...});
//   const cli::option_table table{synopsis, description, rows};
//   cli::shared_options shared;
//   for (auto& [key, v] : table.parse(argc, argv).options) {
//       if (shared.take(key, v)) continue;   // throws usage_problem on a bad value
//       switch (key) { ...the tool's own... }
//   }
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conc/process.hpp"
#include "options.hpp"

namespace cli {

// Keys of the shared long-only options: clear of a tool's own (256 up).
inline constexpr int opt_shared_timeout = 0x1000;
inline constexpr int opt_shared_bar = 0x1001;
inline constexpr int opt_shared_dry_run = 0x1002;

struct shared_options {
    unsigned jobs = conc::online_cpus();              // -j, resolved: at least 1
    bool jobs_given = false;                          // -j or -P was given
    std::string jobs_file;                            // -j FILE: the file it was read from (a tool may re-read it)
    char delimiter = '\n';                            // -0, -d: what ends a record
    std::optional<std::chrono::nanoseconds> timeout;  // --timeout (what it limits is the tool's)
    bool bar = false;                                 // --bar
    bool bar_forced = false;                          // --bar=always: even where stderr is no terminal
    bool dry_run = false;                             // --dry-run
    bool verbose = false;                             // -v

    // One (key, value) of parsed_args::options: true when it is a shared
    // option (now set), false when it is the tool's own.  A bad value throws
    // usage_problem, whose what() is ready for usage_error(): "-j: invalid ...".
    bool take(int key, const std::string& value);
};

// The option_table rows of the shared options, in --help order (-j -P -0 -d
// --timeout --bar --dry-run -v); timeout_help says what --timeout stops.
// -P is xargs's and GNU parallel's other name for -j: a row of its own,
// chosen along with 'j'.
std::vector<option_spec> shared_option_rows(const char* timeout_help);
// Only the rows whose keys are listed (a tool that has no records has no -0 or -d).
std::vector<option_spec> shared_option_rows(const char* timeout_help, std::initializer_list<int> keys);

// -j: "N"; "P%" of cpus (P may have decimals: "12.5%"), rounded up as GNU
// parallel does; "+N"/"-N" more/fewer than cpus; each at least 1;
// "0": as_many_jobs_as_possible().  Throws bad_value.
unsigned parse_jobs(std::string_view v, unsigned cpus);

// -j FILE (GNU parallel): a value that is not a number but names a regular
// file is read from that file (blanks around it ignored).  Returns nullopt
// when path is not a regular file; throws bad_value when it is one but holds
// no valid -j value, sys_error when it cannot be read.
std::optional<unsigned> read_jobs_file(const std::string& path, unsigned cpus);

// -j 0: as many jobs as the open-file limit allows (each running job holds two pipes).
unsigned as_many_jobs_as_possible();

// A separator as typed: \n, \t, \0 and \\ become newline, tab, NUL and a
// backslash, anywhere in it; any other byte (a lone backslash too) stays.
std::string parse_separator(std::string_view v);

// -d C: one character after parse_separator().  Throws bad_value.
char parse_delimiter(std::string_view v);

}  // namespace cli
