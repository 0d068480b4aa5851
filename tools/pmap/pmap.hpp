// pmap's configuration, as the command line sets it, and the run itself.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "command_template.hpp"
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
