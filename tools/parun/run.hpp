// parun's run: the commands, in order, into a task_group (-j) as their
// --ready gates open; each outcome told to the wait policy, which decides
// when the rest are stopped; --timeout and signals stop everything; one
// exit status, the failure count and the --summary table at the end.
#pragma once
#include <cstddef>
#include <deque>
#include <exception>
#include <string>
#include <vector>

#include "command.hpp"
#include "conc/loop.hpp"
#include "conc/task_group.hpp"
#include "output.hpp"
#include "parun.hpp"
#include "stop_policy.hpp"
#include "supervisor.hpp"

namespace parun {

class runner {
public:
    runner(conc::loop& lp, const config& cfg);
    // Runs every command; returns the exit status.
    conc::task<int> run();
    // "2 of 3 commands failed" when that decides the exit status; empty otherwise.
    std::string failures() const { return tally_.summary("commands"); }
    // The --summary table: one row a command.
    std::string summary_table() const;

private:
    conc::task<void> feed();
    conc::task<void> run_command(std::size_t i, unsigned slot);
    conc::task<void> time_limit();
    void record(const command_state& c);
    void stop_starting();
    void stop_everything();
    void output_failed(const conc::writer& w);
    void say(std::string msg);

    conc::loop& lp_;
    const config& cfg_;
    cli::supervisor sup_;
    cli::output out_;
    command_runner runner_;
    std::deque<command_state> commands_;      // stable addresses: running tasks hold them
    conc::task_group group_;
    cli::stop_tracker policy_;
    cli::exit_tally tally_;
    conc::job<void> feeder_, clock_;
    std::vector<conc::job<void>> messages_;   // said from places that cannot wait
    std::exception_ptr error_;                // parun itself failed (out of fds, ...)
    bool stopping_ = false;
};

}  // namespace parun
