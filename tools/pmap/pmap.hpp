// pmap's configuration, as the command line sets it, and the run itself.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "command_template.hpp"
#include "slots.hpp"
#include "stop_policy.hpp"

namespace pmap {

enum class input_kind { stdin_records, file_records, arguments };
enum class output_mode { group, line, ungroup };

struct config {
    std::vector<std::string> command;
    template_options tmpl;

    input_kind input = input_kind::stdin_records;
    std::string arg_file;                  // -a
    std::vector<std::string> arguments;    // ::: ITEM...
    char delimiter = '\n';
    std::size_t max_args = 1;              // -n

    unsigned jobs = 1;
    std::string jobs_file;                 // -j FILE: read again when a job ends, if it changed
    start_limits limits;                   // --load, --memfree
    std::string workdir;                   // --workdir: may hold replacement strings
    std::string shell = "/bin/sh";         // runs -s scripts, commands that need a shell, and records as commands
    bool records_are_commands = false;     // no COMMAND: each record is a command line (GNU's parallel < cmds)
    bool keep_order = false;
    output_mode output = output_mode::group;
    bool tag = false;

    std::optional<std::chrono::nanoseconds> timeout;   // per job
    std::optional<std::chrono::nanoseconds> delay;     // between starts
    unsigned attempts = 1;                 // --retries: attempts in all, as GNU parallel counts
    cli::stop_policy halt;

    std::string joblog;
    bool resume = false;
    bool resume_failed = false;

    bool bar = false;
    bool bar_forced = false;
    bool dry_run = false;
    bool verbose = false;
};

// Runs every job; returns pmap's exit status.
int run(const config& cfg);

}  // namespace pmap
