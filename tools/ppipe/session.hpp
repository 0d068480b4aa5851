// session.hpp: what every ppipe shape shares: the loop, the supervisor that
// stops the copies, the output they write through, the bar, and the tally
// that becomes the exit status.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "conc/child.hpp"
#include "conc/loop.hpp"
#include "output.hpp"
#include "ppipe.hpp"
#include "progress.hpp"
#include "supervisor.hpp"

namespace ppipe {

class session {
    cli::progress_bar bar_;   // before out, which draws it

public:
    session(conc::loop& lp, const config& cfg, cli::output_options o);

    // Starts a command in c (where it stays: the supervisor holds it there
    // and stops it with the rest).  When it cannot be started, says why once,
    // stops the run (126 or 127) and returns false.
    bool start(std::optional<conc::child>& c, conc::child_spec spec);
    // The command ended: counted (unless ppipe stopped it) and released.
    void ended(conc::child& c, const conc::exit_status& st);

    // While a hook lives, its fn is called (once) when the run must stop
    // starting work (a signal, a closed stdout, a command that cannot run):
    // the shape stops feeding.  At once if the run is stopping already.
    class stop_hook {
    public:
        stop_hook(session& s, std::function<void()> fn) : s_(s) {
            if (s.stopping_) fn();
            else s.on_stop_ = std::move(fn);
        }
        ~stop_hook() { s_.on_stop_ = nullptr; }
        stop_hook(const stop_hook&) = delete;
        stop_hook& operator=(const stop_hook&) = delete;

    private:
        session& s_;
    };
    void stop_everything(int sig);
    bool stopping() const noexcept { return stopping_; }

    // For the bar: bytes moved so far, and whether one more piece (a block) is done.
    void progress(std::uint64_t bytes, bool piece_done);
    // Says "ppipe: msg" on stderr, in turn with the output.
    void say(std::string msg);
    // The shape failed in itself (reading stdin, ...): stop everything, exit 125.
    void fail(std::exception_ptr e);

    // Waits for every stopped command and the output, returns the exit status.
    conc::task<int> finish();
    // "N of M blocks failed" when that decides the exit status.
    std::string summary(const char* noun) const { return tally_.summary(noun); }

    conc::loop& lp;
    const config& cfg;
    cli::output out;

private:
    void output_failed(const conc::writer& w);

    cli::supervisor sup_;
    cli::exit_tally tally_;
    std::function<void()> on_stop_;
    std::vector<conc::job<void>> messages_;
    std::exception_ptr error_;
    std::uint64_t done_ = 0;
    bool stopping_ = false;
};

// Runs shape(session) on a fresh loop and returns ppipe's exit status,
// saying the failure summary (noun: "blocks", "commands") when it decides it.
int run_session(const config& cfg, cli::output_options o, const char* noun,
                const std::function<conc::task<void>(session&)>& shape);

}  // namespace ppipe
