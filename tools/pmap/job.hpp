// One pmap job: its command line checked, started in its own group with
// pipes to cli::output, stopped by --timeout, retried by --retries; what
// happened comes back as an outcome for the joblog, the tally and --halt.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "command_template.hpp"
#include "conc/child.hpp"
#include "conc/loop.hpp"
#include "output.hpp"
#include "pmap.hpp"
#include "supervisor.hpp"

namespace pmap {

struct outcome {
    conc::exit_status status;   // how the last attempt ended
    bool ran = false;           // the command was started (or could not be: 126/127)
    bool cannot_run = false;    // never started: an argument no command can receive
    bool timed_out = false;
    bool stopped = false;       // pmap stopped it (signal, --halt now, error): it did not end on its own
    double start = 0;           // seconds since the epoch
    double runtime = 0;         // seconds
    std::string host = ":";     // where it ran (-S): the joblog's Host
    bool succeeded() const noexcept { return ran && !cannot_run && !timed_out && status.success(); }
    // As the shell numbers it: 0, the exit code, 128+n; 126 when it could not be run.
    int shell_code() const noexcept { return cannot_run ? 126 : status.shell_code(); }
};

class job_runner {
public:
    job_runner(conc::loop& lp, const config& cfg, const command_template& tmpl, cli::output& out,
               cli::supervisor& sup);

    // One attempt somewhere (-S: host_pool::attempt); by default attempt() here.
    using attempt_fn = std::function<conc::task<outcome>(const std::vector<std::string>& argv, std::uint64_t seq,
                                                         unsigned slot, cli::output::job& oj, const std::string& cwd)>;

    // Runs argv with the configured attempts.  Output goes to oj.
    // cwd: --workdir for this job (made if missing), or empty.
    conc::task<outcome> run(const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot,
                            cli::output::job& oj, std::string cwd = {}, attempt_fn elsewhere = {});
    // One attempt on this machine.
    conc::task<outcome> attempt(const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot,
                                cli::output::job& oj, const std::string& cwd);

    // Called when the command itself cannot be run (not found: 127, not
    // executable: 126) and no job could do better, as xargs stops at once.
    void on_fatal(std::function<void(int code)> fn) { on_fatal_ = std::move(fn); }

    // Why no command can receive argv (a NUL byte, an argument past the
    // system's limit), or empty.
    static std::string argument_problem(const std::vector<std::string>& argv);

private:

    conc::loop& lp_;
    const config& cfg_;
    cli::output& out_;
    cli::supervisor& sup_;
    bool command_is_fixed_;
    std::function<void(int)> on_fatal_;
};

// A command as pmap shows it (--dry-run, -v, the joblog): a script run by
// the shell as the script itself, as GNU parallel shows it; any other argv
// shell-quoted (cli::format_command).
std::string shown_command(const config& cfg, const std::vector<std::string>& argv);

// The variables a job gets, here or on a host: PARALLEL_SEQ, PARALLEL_JOBSLOT,
// PMAP_SEQ, PMAP_SLOT, and --process-slot-var's NAME (the slot less one, as
// xargs -P sets it).
std::vector<std::string> job_variables(const config& cfg, std::uint64_t seq, unsigned slot);

// --workdir: mkdir -p; a failure shows when the job cannot change into it.
void make_workdir(const std::string& dir) noexcept;

// A command for a message: at most 200 bytes, NUL bytes shown as '?'.
std::string shorten(std::string s);

}  // namespace pmap
