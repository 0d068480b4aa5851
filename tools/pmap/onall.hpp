// --onall and --nonall (GNU parallel's): the whole run once on every host.
//
// As GNU parallel does it: for each host, pmap runs itself again as
// `pmap -S HOST -j1 [the options given] COMMAND [items]`, at most -j hosts
// at once (default: all).  Each host's run is one job's output here, so
// the output rules apply per host: whole (the default), -k in host order,
// --line-buffer, -u; --tag tags lines with the host.  Items from standard
// input are copied once and read by every host's run; --joblog gets one row
// per job and host (sequence numbers start at 1 on each).
#pragma once
#include "pmap.hpp"

namespace pmap {

// Runs cfg (cfg.remote.onall or nonall, cfg.remote.inner set) on every
// host; returns the exit status: 0, or 123 when a host's run failed.
int run_on_every_host(const config& cfg);

}  // namespace pmap
