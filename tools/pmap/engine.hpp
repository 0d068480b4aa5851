// pmap's run: items -> command lines -> a task_group of jobs -> output, with
// the joblog, the tally and --halt deciding when to stop and how to exit.
#pragma once
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "command_template.hpp"
#include "conc/loop.hpp"
#include "conc/task_group.hpp"
#include "host_pool.hpp"
#include "input.hpp"
#include "job.hpp"
#include "joblog.hpp"
#include "output.hpp"
#include "pmap.hpp"
#include "progress.hpp"
#include "results.hpp"
#include "stop_policy.hpp"
#include "tag.hpp"
#include "supervisor.hpp"

namespace pmap {

// How cli::output writes jobs' output for cfg: held, by line, or raw; -k.
cli::output_options output_options_of(const config& cfg);

class engine {
public:
    // Opens the input and the joblog (throws sys_error).
    engine(conc::loop& lp, const config& cfg);
    // Runs every job; returns the exit status.
    conc::task<int> run();
    // "3 of 200 jobs failed" when that decides the exit status; empty otherwise.
    std::string summary() const { return tally_.summary(); }

private:
    conc::task<void> feed();
    conc::task<void> wait_for_room();   // --load, --memfree
    // The argv of a job: the template's, run by cfg.shell when it is a script,
    // or the records themselves as a command line.
    std::vector<std::string> command_of(const std::vector<std::string>& items, std::uint64_t seq, unsigned slot) const;
    conc::task<void> run_job(std::uint64_t seq, unsigned slot, std::vector<std::string> items);
    // Counts and logs a finished job; returns its joblog row when the log is stdout.
    std::string record(const outcome& oc, std::uint64_t seq, const std::vector<std::string>& argv,
                       std::uint64_t received);
    std::string prefix_of(std::span<const std::string_view> items, std::uint64_t seq, unsigned slot) const;
    job_values values_of(const std::vector<std::string>& items) const;
    conc::task<void> write_results(std::string text);
    void act_on(cli::stop_action a);
    void stop_starting();
    void stop_everything(int sig);
    void output_failed(const conc::writer& w);
    void say(std::string msg);
    std::size_t total_jobs() const { return items_.total_jobs().value_or(0); }

    conc::loop& lp_;
    const config& cfg_;
    command_template tmpl_;
    std::optional<command_template> workdir_;   // --workdir, when it holds a replacement string
    jobs_file jobs_file_;                       // -j FILE
    cli::progress_bar bar_;
    cli::supervisor sup_;
    cli::output out_;
    job_runner runner_;
    item_source items_;
    std::unique_ptr<host_pool> hosts_;          // -S, --slf: other machines
    conc::task_group group_;
    cli::stop_tracker halt_;
    cli::exit_tally tally_;
    joblog_state resume_;
    std::optional<joblog_writer> log_;
    bool log_to_stdout_ = false;              // --joblog -
    std::optional<string_template> tag_;      // --tagstring (--tag: {})
    std::optional<string_template> results_name_;   // --results NAME{}
    std::optional<results> results_;          // --results, --files
    std::uint64_t running_ = 0, started_ = 0; // --progress
    conc::job<void> feeder_;
    std::vector<conc::job<void>> messages_;   // said from places that cannot wait
    std::exception_ptr error_;                // pmap itself failed (out of fds, ...)
    std::uint64_t skipped_ = 0;               // --resume: done in an earlier run
    bool stopping_ = false;
};

}  // namespace pmap
