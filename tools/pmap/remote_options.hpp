// pmap's options for other machines (issue 14), GNU parallel's names:
// -S/--sshlogin, --slf/--sshloginfile, --ssh, -M/--controlmaster,
// --transfer, --tf/--transferfile, --return, --cleanup, --trc,
// --bf/--basefile, --filter-hosts, --record-env (--env and --workdir are
// jobs_options').
#pragma once
#include <string>
#include <vector>

#include "options.hpp"
#include "pmap.hpp"

namespace pmap {

std::vector<cli::option_spec> remote_option_rows();

// One parsed option: true when it is one of remote_option_rows() (now set
// in cfg).  Throws cli::usage_problem on a bad value.
bool take_remote_option(int key, const std::string& v, config& cfg);

// After the command line: $PARALLEL_SSH, and what the file options need
// (-S or --slf; --workdir ... only with them).  Usage errors exit 2.
void finish_remote_options(config& cfg);

}  // namespace pmap
