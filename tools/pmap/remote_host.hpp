// One host of -S as pmap sees it: one ssh connection (a ControlMaster that
// every other ssh to the host goes through) and the jobs running there.
//
// The master's own session is the probe: where `pmap` is on the host's PATH
// it becomes `pmap --worker` (worker.hpp), which runs every job sent over
// the connection as messages (remote_wire.hpp); elsewhere it says how many
// CPUs the host has and waits, and each job is one `ssh HOST 'WRAPPER'`
// through the master, as GNU parallel runs them.  The wrapper kills the
// job's process group on the host when its ssh goes away (Ctrl-C, a lost
// connection), so nothing outlives pmap there either.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "conc/child.hpp"
#include "conc/co_sync.hpp"
#include "conc/connection.hpp"
#include "conc/loop.hpp"
#include "hosts.hpp"
#include "output.hpp"
#include "remote_wire.hpp"
#include "supervisor.hpp"

namespace pmap {

// A job as it is sent: the command, the variables it gets, where it runs
// (relative to the login directory; made if missing; empty: there).
struct remote_command {
    std::vector<std::string> argv;
    std::vector<std::string> env;   // NAME=value
    std::string cwd;
};

// Files could not be sent or fetched: what() says which and why.
class transfer_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class remote_host {
public:
    // ssh: the transport's words; control_path: the master's socket;
    // raw: -u, the jobs' output goes straight out, not through their output::job.
    remote_host(conc::loop& lp, std::vector<std::string> ssh, std::string control_path, sshlogin login,
                cli::output& out, cli::supervisor& sup, bool raw);
    ~remote_host();
    remote_host(const remote_host&) = delete;
    remote_host& operator=(const remote_host&) = delete;

    const sshlogin& login() const noexcept { return login_; }
    // Connects; returns "" or why it could not (ssh's last words on stderr).
    conc::task<std::string> connect();
    bool up() const noexcept { return up_; }
    bool has_worker() const noexcept { return bool(to_worker_.writable()); }
    unsigned cpus() const noexcept { return cpus_; }

    // Runs cmd there; its output goes to oj.  nullopt: the host was lost
    // on the way (the job's output so far is oj's, to discard).  timeout:
    // the job's group gets TERM, then KILL after 1 s, and timed_out is set.
    conc::task<std::optional<conc::exit_status>> run(const remote_command& cmd, cli::output::job& oj,
                                                     std::optional<std::chrono::nanoseconds> timeout, bool& timed_out);
    // Files there, relative to the login directory unless absolute.
    // Throw transfer_error.
    conc::task<void> put(std::string local, std::string remote);
    conc::task<void> get(std::string remote, std::string local);
    conc::task<void> remove(std::vector<std::string> paths);

    // Stops the jobs there (end of file to the worker; the per-job ssh
    // processes are the supervisor's) and ends the connection; waits until
    // ssh has ended (KILL after the grace).  The host is down after it.
    conc::task<void> close(std::chrono::nanoseconds grace);
    // The connection is lost: jobs waiting on it return nullopt.
    void lose();
    // Returns once the connection is lost (or closed).
    auto lost() { return lost_.wait(); }
    // Stops the jobs there now: end of file to the worker (it kills their
    // groups); the per-job ssh processes are the supervisor's to stop.
    void stop_jobs() noexcept;

    // ssh's argv for a command on the host through the master.
    std::vector<std::string> ssh_argv(const std::string& remote_script, bool master = false) const;

private:
    struct pending {
        cli::output::job* oj = nullptr;   // a job; null for a file request
        conc::co::event done;
        std::optional<conc::exit_status> status;
        wire::message reply;
        bool lost = false;
    };
    // Its entry in pending_, for the scope of one job or request.
    struct ticket {
        remote_host& h;
        std::uint64_t id;
        ticket(remote_host& host, pending& p) : h(host), id(++host.next_id_) { host.pending_[id] = &p; }
        ~ticket() { h.pending_.erase(id); }
    };
    conc::task<void> read_worker();
    conc::task<void> read_ssh_errors(conc::unique_fd fd);
    conc::task<std::optional<wire::message>> request(wire::message m);
    conc::task<void> send(wire::message m);
    conc::task<std::optional<conc::exit_status>> run_over_ssh(const remote_command& cmd, cli::output::job& oj,
                                                              std::optional<std::chrono::nanoseconds> timeout,
                                                              bool& timed_out);
    conc::task<void> ssh_command(std::string script, conc::child_io in, conc::child_io out, std::string what);

    conc::loop& lp_;
    std::vector<std::string> ssh_;
    std::string control_path_;
    sshlogin login_;
    cli::output& out_;
    cli::supervisor& sup_;
    std::optional<conc::child> master_;
    conc::unique_fd master_in_;               // the probe session's stdin: open while connected
    conc::connection to_worker_, from_worker_;
    conc::co::semaphore send_lock_{1};
    std::unordered_map<std::uint64_t, pending*> pending_;
    std::uint64_t next_id_ = 0;
    conc::job<void> reader_, errors_;
    std::string last_error_;                  // ssh's last line on stderr
    unsigned cpus_ = 1;
    bool raw_ = false;
    bool up_ = false;
    conc::co::event lost_;
};

// The shell words that run argv on a POSIX host: every word single-quoted.
std::string remote_word(std::string_view word);
std::string remote_words(const std::vector<std::string>& argv);

}  // namespace pmap
