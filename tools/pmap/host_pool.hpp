// The machines of a pmap -S run, and how each job finds one.
//
// Every host of -S and --slf gets a keeper: it connects (remote_host.hpp),
// and when the connection is lost, connects again after 1 s, 2 s, 4 s ...
// up to 30 s; after 5 failures in a row the host is given up.  A job takes
// a free slot on a host that is up (the one with most free slots; a retry
// prefers another host than the one it failed on), sends its files, runs,
// fetches its results, and cleans up.  A job whose host is lost on the way
// runs again on another host, at most 3 times; that is not a failure of its
// own.  The local machine (:) is a host whose jobs are job_runner's.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "conc/co_sync.hpp"
#include "conc/loop.hpp"
#include "hosts.hpp"
#include "job.hpp"
#include "output.hpp"
#include "pmap.hpp"
#include "remote_host.hpp"
#include "supervisor.hpp"
#include "tag.hpp"

namespace pmap {

class host_pool {
public:
    host_pool(conc::loop& lp, const config& cfg, cli::output& out, cli::supervisor& sup, job_runner& local);
    ~host_pool();

    // Connects to every host at once and returns when each has answered or
    // failed once (--filter-hosts: those that failed are dropped).
    conc::task<void> start();
    // The job slots of the hosts that are up (at least 1); on_slots(fn)
    // calls fn when that changes (engine: the task group's limit).
    std::size_t slots() const noexcept;
    void on_slots(std::function<void(std::size_t)> fn) { on_slots_ = std::move(fn); }

    // One attempt of a job on some host: job_runner's attempts and its
    // --retries go around it.  items: the job's values, for --transfer and --return.
    conc::task<outcome> attempt(const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot,
                                cli::output::job& oj, const std::string& cwd, std::span<const std::string_view> items);

    // --slf changed: hosts added are connected, hosts removed take no more jobs.
    void reload();
    // Stops every remote job now (a signal, --halt now, an error).
    void stop();
    // The end: --workdir ... directories removed, every connection ended.
    conc::task<void> close();

private:
    struct host;
    conc::task<void> keep(host& h);
    conc::task<host*> acquire(const host* avoid);
    conc::task<void> send_basefiles(host& h);
    remote_command command_for(const host& h, const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot,
                               const std::string& cwd) const;
    void add(const sshlogin& l);
    void changed();
    void say(std::string msg);

    conc::loop& lp_;
    const config& cfg_;
    cli::output& out_;
    cli::supervisor& sup_;
    job_runner& local_;
    std::string control_dir_;                 // the masters' sockets, private
    sshlogin_file file_;
    std::vector<std::unique_ptr<host>> hosts_;
    std::vector<string_template> transfers_, returns_;
    std::vector<std::string> env_;            // --env's NAME=value, the same for every job
    conc::co::event changed_;                 // a host came up, went down, or freed a slot
    std::function<void(std::size_t)> on_slots_;
    std::vector<conc::job<void>> messages_;
    bool stopping_ = false;
};

}  // namespace pmap
