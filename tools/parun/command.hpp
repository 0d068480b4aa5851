// One of parun's commands: started as /bin/sh -c COMMAND in its own group
// with pipes to cli::output, restarted when it fails (--restart), watched
// for its --ready line; what happened stays in command_state for the exit
// status and --summary.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "conc/child.hpp"
#include "conc/co_sync.hpp"
#include "conc/loop.hpp"
#include "output.hpp"
#include "parun.hpp"
#include "supervisor.hpp"

namespace parun {

struct command_state {
    std::size_t index = 0;       // in config::commands
    std::string label;           // its name, padded to the longest
    const char* color = nullptr; // --color: its ANSI colour ("36"), or none
    conc::co::event ready;       // set when it printed its --ready line or exited 0, or can no longer
    bool became_ready = false;   // ... and it did
    bool started = false;
    bool ended = false;          // ended on its own (not stopped by parun)
    bool stopped = false;        // parun stopped it (policy, --timeout, signal)
    conc::exit_status status;    // how its last run ended
    unsigned restarts = 0;
    conc::clock::duration took{};   // from its first start to its last end
};

class command_runner {
public:
    command_runner(conc::loop& lp, const config& cfg, cli::output& out, cli::supervisor& sup);

    // Runs command c (restarting it as configured) in slot; returns when it
    // ended for good or was stopped.
    conc::task<void> run(command_state& c, unsigned slot);

    // Ends restart delays at once: parun is stopping.
    void stop() noexcept { stopping_.set(); }

private:
    conc::task<conc::exit_status> attempt(command_state& c, unsigned slot, cli::output::job& oj);
    conc::task<bool> pause_before_restart(unsigned restart);   // false: parun stops meanwhile
    conc::task<void> wait_for_stop();
    bool may_restart(const command_state& c) const noexcept;
    std::string prefix_of(const command_state& c, int pid, std::string_view time = {}) const;
    void prefix_lines(const command_state& c, int pid, cli::output::job& oj) const;

    conc::loop& lp_;
    const config& cfg_;
    cli::output& out_;
    cli::supervisor& sup_;
    conc::co::event stopping_;
};

}  // namespace parun
