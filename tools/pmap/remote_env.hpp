// remote_env: what --env sends to remote jobs, and --record-env (GNU
// parallel's ~/.parallel/ignored_vars, the names a fresh login has).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace pmap {

// ~/.parallel/ignored_vars (GNU parallel's file): the names of the variables
// a fresh login has, which --env _ does not send.  None without $HOME.
std::optional<std::string> ignored_vars_path();

// --record-env: writes the names of this environment's variables there, one
// per line (run it from a fresh login shell).  Throws conc::sys_error.
void record_environment();

// --env _: the variables of this environment to send (not those every login
// has its own of, nor those named in ignored_vars_path()).
std::vector<std::string> variables_to_send(const std::vector<std::string>& names);

}  // namespace pmap
