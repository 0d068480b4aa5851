// pmap's options for jobs and slots, environment and shell (issue 13):
// --load, --memfree, --nice, --workdir/--wd, --env, and the hand-over rows
// --pipe/--pipepart; then, once the command line is read, the choice of
// shell and whether the command needs one (shell.hpp).
#pragma once
#include <string>
#include <vector>

#include "options.hpp"
#include "pmap.hpp"
#include "shared_options.hpp"

namespace pmap {

std::vector<cli::option_spec> jobs_option_rows();

// One parsed option: true when it is one of jobs_option_rows() (now set in
// cfg); a bad value is a usage error (exit 2).
bool take_jobs_option(int key, const std::string& v, config& cfg);

// After every option and the command are in cfg: -j FILE, the shell, whether
// the command needs one, no command at all, --nice (applied to pmap itself,
// so that every job inherits it).
void finish_jobs_options(config& cfg, const cli::shared_options& shared);

}  // namespace pmap
