#include "session.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "command_line.hpp"
#include "messages.hpp"

namespace ppipe {

namespace {
using namespace std::chrono_literals;
constexpr auto kill_grace = 1s;   // TERM, then KILL this much later
}  // namespace

session::session(conc::loop& l, const config& c, cli::output_options o)
    : bar_("ppipe", c.bar_forced, std::chrono::steady_clock::now(), c.bar ? STDERR_FILENO : -1), lp(l), cfg(c),
      out(l, o, &bar_), sup_(l, kill_grace) {
    bar_.set_bytes(0);
    sup_.on_stop([this](int) { stop_everything(0); });
    out.on_error([this](const conc::writer& w) { output_failed(w); });
}

bool session::start(std::optional<conc::child>& c, conc::child_spec spec) {
    if (cfg.verbose && cfg.shape != shape::duplex)   // --duplex -v shows the traffic instead
        messages_.push_back(lp.spawn(out.print(2, cli::format_command(spec.argv) + "\n")));
    try {
        c.emplace(lp, std::move(spec));
    } catch (const conc::spawn_error& e) {   // the same command every time: it never will run
        if (!tally_.cannot_run) {
            tally_.cannot_run = e.exit_code();
            say(cli::describe(e));
        }
        stop_everything(SIGTERM);
        return false;
    }
    sup_.adopt(*c);
    return true;
}

void session::ended(conc::child& c, const conc::exit_status& st) {
    sup_.release(c);
    if (!st.success() && stopping_) return;   // stopped by ppipe: not its own end
    tally_.job_ended(st.success());
}

void session::stop_everything(int sig) {
    if (sig) sup_.stop_all(sig);
    if (stopping_) return;
    stopping_ = true;
    if (auto fn = std::exchange(on_stop_, nullptr)) fn();
}

void session::progress(std::uint64_t bytes, bool piece_done) {
    bar_.set_bytes(bytes);
    if (piece_done) ++done_;
    out.progress(done_);
}

void session::say(std::string msg) {
    messages_.push_back(lp.spawn(out.print(2, cli::program_name() + ": " + msg + "\n")));
}

void session::fail(std::exception_ptr e) {
    if (!error_) error_ = e;
    stop_everything(SIGTERM);
}

// stdout failed: EPIPE (| head) stops quietly; anything else is said once.
void session::output_failed(const conc::writer& w) {
    if (&w == &out.err()) return;
    if (std::string msg = tally_.stdout_failed(w); !msg.empty()) say(msg);
    stop_everything(SIGTERM);
}

conc::task<int> session::finish() {
    co_await sup_.wait_stopped();
    for (auto& m : messages_) co_await m;
    co_await out.close(done_);
    if (error_) std::rethrow_exception(error_);
    tally_.signal = sup_.signal();
    co_return tally_.code();
}

int run_session(const config& cfg, cli::output_options o, const char* noun,
                const std::function<conc::task<void>(session&)>& shape) {
    conc::loop lp;
    session s(lp, cfg, o);
    int code = lp.run([&]() -> conc::task<int> {
        try {
            co_await shape(s);
        } catch (const conc::cancelled_error&) {
        } catch (...) {
            s.fail(std::current_exception());
        }
        co_return co_await s.finish();
    }());
    if (std::string sum = s.summary(noun); !sum.empty()) cli::warn(sum);
    return code;
}

}  // namespace ppipe
