// Where jobs run: GNU parallel's --sshlogin specs and --sshloginfile.
//
//   -S [N/][user@]host[:port]   a host, with N job slots (default: its CPU
//                               count, asked over the connection)
//   -S :                        this machine
//   -S 2/a,b                    several, comma-separated; -S repeats
//   -S 'myssh -p 2 host'        GNU's form with a transport of its own: the
//                               last word is the host, the words before it
//                               replace --ssh for that host
//   --slf FILE                  one spec a line (# comments, blank lines);
//                               read again when it changes during a run
//   --slf ..                    ~/.parallel/sshloginfile
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pmap {

struct sshlogin {
    std::string name;        // as given, without "N/": the joblog's Host, PARALLEL_SSHLOGIN
    std::string user, host, port;
    std::vector<std::string> ssh;   // the transport for this host; empty: --ssh
    unsigned slots = 0;      // 0: the host's CPU count
    bool local() const noexcept { return name == ":"; }
};

// One spec ("4/alice@render1:2222", ":").  Throws cli::usage_problem naming what is wrong.
sshlogin parse_sshlogin(std::string_view spec);
// A comma-separated list of specs, appended to out (a spec that repeats a host replaces it).
void add_sshlogins(std::string_view list, std::vector<sshlogin>& out);
// The specs of a file's text: one a line (or several, comma-separated), # starts a comment.
std::vector<sshlogin> parse_sshlogin_file(std::string_view text);
// --slf's argument as a path: ".." is ~/.parallel/sshloginfile.
std::string sshlogin_file_path(const std::string& arg);

// --slf FILE, read again when its modification time changes.
class sshlogin_file {
public:
    sshlogin_file() = default;
    explicit sshlogin_file(std::string path) : path_(std::move(path)) {}
    bool active() const noexcept { return !path_.empty(); }
    const std::string& path() const noexcept { return path_; }
    // The hosts if the file changed since it was last read (the first call
    // reads it); nullopt when it did not, or cannot be read now (a file
    // being rewritten keeps the hosts it had).  Throws usage_problem on a bad spec.
    std::optional<std::vector<sshlogin>> changed();

private:
    std::string path_;
    timespec mtime_{};
    bool read_ = false;
};

}  // namespace pmap
