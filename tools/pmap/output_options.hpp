// pmap's options for output and records of work, GNU parallel's names:
// --tag/--tagstring/--ctag/--ctagstring/--color, -q, --lb, --dryrun,
// --results/--files, --retry-failed, --progress/--eta.  main() adds the rows,
// hands each of their options to take_output_option(), and calls
// finish_output_options() once the whole command line is read.
#pragma once
#include <string>
#include <vector>

#include "options.hpp"
#include "pmap.hpp"

namespace pmap {

std::vector<cli::option_spec> output_option_rows();

// True when key is one of output_option_rows()' options (now set in cfg).
bool take_output_option(int key, const std::string& value, config& cfg);

// Settles what the options mean together (GNU parallel's rules: --tag is
// --tagstring {}, -u drops tags, --eta implies --progress, --joblog +FILE
// appends), and for --retry-failed reads the joblog into the jobs to run.
// Calls cli::usage_error() (exit 2) for what cannot be.
void finish_output_options(config& cfg, bool& ungroup);

}  // namespace pmap
