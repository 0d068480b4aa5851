// pmap --worker: the far end of pmap -S on a host where pmap is installed.
// pmap starts it over the host's ssh connection; it runs the jobs pmap
// sends and returns their output and exit status (remote_wire.hpp), so a
// remote job costs one message each way instead of an ssh session.
#pragma once

namespace pmap {

// Serves stdin/stdout until end of file on stdin; returns the exit status.
int run_worker();

}  // namespace pmap
