// parun's configuration, as the command line sets it, and the run itself.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "output.hpp"
#include "pattern.hpp"
#include "prefix.hpp"
#include "procfile.hpp"
#include "stop_policy.hpp"

namespace parun {

struct config {
    std::vector<named_command> commands;   // every one named (Procfile, --names, or 1, 2, ...)
    unsigned jobs = 0;                      // -j: at most this many at once; 0: all at once
    cli::stop_policy wait;                  // --wait all|first|error|NAME
    std::size_t watched = 0;                // --wait NAME: commands[watched]
    std::chrono::nanoseconds grace = std::chrono::seconds(2);
    std::optional<std::chrono::nanoseconds> timeout;   // for the whole run: 124
    cli::output_mode output = cli::output_mode::line;  // --group: held; --raw: raw
    std::vector<bool> hidden;               // --hide, by command
    std::optional<std::size_t> gets_stdin;  // --stdin NAME
    bool summary = false;
    bool color = false;                     // --color: each name in its own colour
    prefix_format prefix;                   // --prefix: before each line, then a space
    bool verbose = false;
    bool dry_run = false;                   // print the commands as a Procfile, run nothing
    long restarts = 0;                      // --restart: -1 forever
    std::chrono::nanoseconds restart_delay{0};
    bool restart_backoff = false;           // --restart-delay exp
    std::vector<std::shared_ptr<const line_pattern>> ready;   // --ready, by command (null: none)

    bool waits_for_one() const noexcept { return wait.of == cli::stop_count_of::watched; }
};

// Runs the commands; returns parun's exit status.
int run(const config& cfg);

}  // namespace parun
