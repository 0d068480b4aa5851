// pmap's configuration, as the command line sets it, and the run itself.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "command_template.hpp"
#include "hosts.hpp"
#include "slots.hpp"
#include "stop_policy.hpp"

namespace pmap {

enum class input_kind { stdin_records, file_records, arguments };

// One input source: ::: ITEM..., :::: FILE or -a FILE ("-" is stdin).
struct input_source {
    bool from_file = false;
    std::vector<std::string> items;        // ::: ITEM...
    std::string path;                      // :::: / -a
    bool linked = false;                   // :::+ / ::::+: paired with the previous source
};

// --- issue 14: other machines ---
struct remote_config {
    std::vector<sshlogin> logins;            // -S, in order
    std::string login_file;                  // --slf
    std::vector<std::string> ssh{"ssh"};     // --ssh CMD (or $PARALLEL_SSH), split into words
    std::vector<std::string> transfer;       // --transfer ({}), --tf FILE: templates of files to send
    std::vector<std::string> returns;        // --return PATTERN: templates of files to fetch back
    bool cleanup = false;                    // --cleanup: remove those on the host after the job
    std::vector<std::string> basefiles;      // --bf: sent once per host
    std::vector<std::string> env;            // --env NAME ("_": every variable a login shell lacks)
    bool filter_hosts = false;               // --filter-hosts
    bool onall = false, nonall = false;      // --onall, --nonall: the whole run on every host
    std::vector<std::string> inner;          // with them: the options and operands each host's run gets
    bool any() const noexcept { return !logins.empty() || !login_file.empty(); }
};

enum class trim_mode { unset, none, left, right, both };
enum class output_mode { group, line, ungroup };

struct config {
    std::vector<std::string> command;
    template_options tmpl;

    input_kind input = input_kind::stdin_records;   // stdin_records: some source reads stdin
    std::vector<input_source> sources;     // -a, :::, :::: in order; none: stdin
    bool link_all = false;                 // --link
    char delimiter = '\n';
    std::optional<std::string> colsep;     // --colsep SEP, as typed
    std::optional<std::string> header;     // --header REGEX (":" is the first record)
    trim_mode trim = trim_mode::unset;     // --trim; --colsep implies rl
    bool shuffle = false;                  // --shuf
    bool skip_empty = false;               // -r
    std::optional<std::string> eof_string; // -E

    // Packing: up to max_args arguments a job (-n/-N/-L), or as many as fit (-m/-X).
    std::size_t max_args = 1;
    bool no_values = false;                // -N 0: one argument read, none given
    bool fill = false;                     // -m, -X
    bool continue_lines = false;           // -L: a record ending in a blank goes on in the next
    std::size_t max_chars = 0;             // --max-chars: 0 for the system's limit

    unsigned jobs = 1;
    bool jobs_given = false;               // -j was given: with -S, the slots of each host
    std::string jobs_file;                 // -j FILE: read again when a job ends, if it changed
    start_limits limits;                   // --load, --memfree
    std::string workdir;                   // --workdir: may hold replacement strings; "...": a temporary one per host
    remote_config remote;                  // -S and the rest of issue 14
    std::function<void()> instead;         // --record-env, --number-of-cores ...: done in place of any job
    std::string slot_variable;             // --process-slot-var NAME
    std::string arg_sep = ":::", arg_file_sep = "::::";   // --arg-sep, --arg-file-sep
    std::string shell = "/bin/sh";         // runs -s scripts, commands that need a shell, and records as commands
    bool records_are_commands = false;     // no COMMAND: each record is a command line (GNU's parallel < cmds)
    bool keep_order = false;
    output_mode output = output_mode::group;
    bool tag = false;
    // --- issue 13: output and records of work ---
    std::optional<std::string> tagstring;  // --tagstring (unquoted), --tag's "{}"
    bool colour = false;                   // --ctag, --ctagstring, --color
    bool quote = false;                    // -q: the command's words are never shell syntax
    std::string results;                   // --results DIR | NAME.csv | NAME.tsv | NAME{}
    bool files = false;                    // --files
    bool progress = false;                 // --progress
    bool eta = false;                      // --eta (implies --progress)

    std::optional<std::chrono::nanoseconds> timeout;   // per job
    std::optional<std::chrono::nanoseconds> delay;     // between starts
    unsigned attempts = 1;                 // --retries: attempts in all, as GNU parallel counts
    cli::stop_policy halt;

    std::string joblog;                    // "-": stdout
    bool joblog_append = false;            // --joblog +FILE
    bool resume = false;
    bool resume_failed = false;
    bool retry_failed = false;             // run the failed commands of the joblog, nothing else

    bool bar = false;
    bool bar_forced = false;
    bool dry_run = false;
    bool verbose = false;
};

// Runs every job; returns pmap's exit status.
int run(const config& cfg);

}  // namespace pmap
