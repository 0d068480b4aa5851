// supervisor.hpp: what a tool owes the processes it starts and the shell that
// started it.  Signals INT, TERM and HUP reach every running command's
// group; a second one kills them at once; after the grace period, KILL.
// Signals that were ignored when the tool started (nohup, trap '' INT) stay
// ignored, for the tool and its commands, as POSIX asks of background jobs.
// One tally turns what happened into the exit status of CONVENTIONS.md.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "conc/child.hpp"
#include "conc/loop.hpp"
#include "conc/writer.hpp"

namespace cli {

// Call first in main: a closed fd 0, 1 or 2 is filled before anything else
// opens an fd, so pipes never take those numbers.  fd 0 gets /dev/null for
// reading; fd 1 and 2 get /dev/null opened read-only, so that writing to a
// closed stdout still fails (EBADF) and is reported, not silently discarded.
void fill_standard_fds() noexcept;

// The outcome of a run, as one exit status.
struct exit_tally {
    std::uint64_t finished = 0;   // commands that ran to an end of their own
    std::uint64_t failed = 0;     // of those, how many failed (exit 1-125, killed, timed out)
    int signal = 0;               // the tool was stopped by this signal: 128 + n
    bool reader_gone = false;     // stdout's reader left (EPIPE): 128 + SIGPIPE
    bool internal_error = false;  // the tool itself failed (a write error, ...): 125
    int cannot_run = 0;           // 126 or 127: the command itself cannot run at all
    bool timed_out = false;       // the tool's own --timeout: 124
    std::optional<int> decided;   // a stop policy chose the status (--halt success=N: 0)
    std::uint64_t total = 0;      // how many were to run, when that is the better "of M" (parun); 0: finished

    void job_ended(bool ok) noexcept {
        ++finished;
        if (!ok) ++failed;
    }
    // The exit status; the most serious cause wins, in the order of the fields above.
    int code() const noexcept;
    // "3 of 200 jobs failed" when some failed and that decides the status; empty otherwise.
    std::string summary(const char* noun = "jobs") const;
    // The tool's standard output failed (w is that writer): its reader left
    // (EPIPE, | head) sets reader_gone and returns ""; any other error sets
    // internal_error and returns the message to say once.  Either way the tool stops.
    std::string stdout_failed(const conc::writer& w);
};

class supervisor {
public:
    // grace: how long commands get between the forwarded signal and KILL.
    supervisor(conc::loop& lp, std::chrono::nanoseconds grace);
    ~supervisor();
    supervisor(const supervisor&) = delete;
    supervisor& operator=(const supervisor&) = delete;

    // Called once, on the loop, with the first signal: the tool stops starting work.
    void on_stop(std::function<void(int sig)> fn) { on_stop_ = std::move(fn); }

    // A running command: signals reach its group until release().  A command
    // adopted after the stop signal gets it at once.  A command released while
    // the tool stops, whose group lives on (grandchildren), is stopped too.
    void adopt(conc::child& c);
    void release(conc::child& c);

    // Stops every running command: sig to each group, KILL after the grace.
    // SIGKILL: at once.  Used for signals, and by tools for --halt now and errors.
    void stop_all(int sig);
    // Stops one command's group (--timeout): TERM, KILL after the grace.
    void stop(conc::child& c);
    // Waits until every group being stopped is gone or has been sent KILL
    // (at most the grace): a tool calls it last, so nothing it started
    // outlives it.
    conc::task<void> wait_stopped();

    // A command adopted for a scope: released however the scope ends, and
    // its --timeout watch cancelled with it.
    class adoption {
    public:
        adoption(supervisor& s, conc::child& c) : s_(s), c_(c) { s_.adopt(c_); }
        ~adoption() {
            watch_.cancel();
            s_.release(c_);
        }
        adoption(const adoption&) = delete;
        adoption& operator=(const adoption&) = delete;
        // After d: stop(c) (TERM to its group, KILL after the grace) and fired = true.
        void stop_after(std::chrono::nanoseconds d, bool& fired);

    private:
        supervisor& s_;
        conc::child& c_;
        conc::job<void> watch_;
    };

    int signal() const noexcept { return signal_; }   // the first signal received, 0 if none
    bool stopping() const noexcept { return stopping_; }
    std::chrono::nanoseconds grace() const noexcept { return grace_; }

private:
    conc::task<void> watch();
    conc::task<void> kill_after_grace();

    conc::loop& lp_;
    std::chrono::nanoseconds grace_;
    std::unordered_set<conc::child*> running_;
    std::function<void(int)> on_stop_;
    conc::job<void> watcher_, killer_;
    std::vector<conc::job<void>> stopping_groups_;
    int signal_ = 0;
    int stop_sig_ = 0;   // what stop_all() sent, for commands adopted later
    bool stopping_ = false;
};

}  // namespace cli
