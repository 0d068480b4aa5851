#include "run.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "conc/fd.hpp"
#include "messages.hpp"
#include "units.hpp"

namespace parun {

namespace {

cli::output_options output_options_of(const config& c) {
    cli::output_options o;
    o.mode = c.output;
    o.end_last_line = true;
    return o;
}

// --color: cyan, yellow, green, magenta, blue, red, and again.
constexpr const char* colors[] = {"36", "33", "32", "35", "34", "31"};

}  // namespace

runner::runner(conc::loop& lp, const config& cfg)
    : lp_(lp), cfg_(cfg), sup_(lp, cfg.grace), out_(lp, output_options_of(cfg)), runner_(lp, cfg, out_, sup_),
      group_(cfg.jobs ? cfg.jobs : cfg.commands.size()), policy_(cfg.wait) {
    std::size_t width = 0;
    for (auto& c : cfg.commands) width = std::max(width, c.name.size());
    for (std::size_t i = 0; i < cfg.commands.size(); ++i) {
        command_state& c = commands_.emplace_back();
        c.index = i;
        c.label = cfg.commands[i].name + std::string(width - cfg.commands[i].name.size(), ' ');
        if (cfg.color) c.color = colors[i % std::size(colors)];
    }
    tally_.total = cfg.commands.size();
    sup_.on_stop([this](int) { stop_starting(); });
    out_.on_error([this](const conc::writer& w) { output_failed(w); });
}

conc::task<int> runner::run() {
    if (cfg_.dry_run) {
        for (auto& c : cfg_.commands) co_await out_.print(1, c.name + ": " + c.command + "\n");
        co_await out_.close(0);
        co_return tally_.code();
    }
    if (cfg_.timeout) clock_ = lp_.spawn(time_limit());
    feeder_ = lp_.spawn(feed());
    try {
        co_await feeder_;
    } catch (const conc::cancelled_error&) {   // stopped early
    }
    co_await group_.join();
    clock_.cancel();
    co_await sup_.wait_stopped();
    for (auto& m : messages_) co_await m;
    co_await out_.close(0);
    if (error_) std::rethrow_exception(error_);
    tally_.signal = sup_.signal();
    // first and NAME: that command's status.  error: the usual tally (123 if
    // one failed), not the failing command's status as --halt now,fail=1 gives.
    if (cfg_.wait.of != cli::stop_count_of::fail) tally_.decided = policy_.decided_exit();
    co_return tally_.code();
}

// Commands start in order; one listed after a --ready command waits for it.
conc::task<void> runner::feed() {
    for (std::size_t i = 0; i < commands_.size(); ++i) {
        for (std::size_t g = 0; g < i; ++g) {
            if (!cfg_.ready[g]) continue;
            co_await commands_[g].ready.wait();
            if (!commands_[g].became_ready) {
                std::size_t left = commands_.size() - i;
                say(cfg_.commands[g].name + " ended before it was ready: " + std::to_string(left) +
                    (left == 1 ? " command" : " commands") + " not started");
                stop_starting();
                co_return;
            }
        }
        if (stopping_) co_return;
        // Named, not a temporary inside the co_await: g++ 12 mishandles those.
        std::function<conc::task<void>(unsigned)> start = [this, i](unsigned slot) { return run_command(i, slot); };
        co_await group_.start(std::move(start));
    }
}

conc::task<void> runner::run_command(std::size_t i, unsigned slot) {
    command_state& c = commands_[i];
    try {
        co_await runner_.run(c, slot);
    } catch (const conc::cancelled_error&) {
        throw;
    } catch (...) {   // parun itself failed: stop the rest
        if (!error_) error_ = std::current_exception();
        c.ready.set();
        stop_everything();
        co_return;
    }
    record(c);
}

// A command parun stopped did not end on its own: it is neither counted nor told to the policy.
void runner::record(const command_state& c) {
    if (!c.ended) return;
    tally_.job_ended(c.status.success());
    bool watched = cfg_.waits_for_one() && c.index == cfg_.watched;
    if (policy_.job_finished(c.status.shell_code(), watched) == cli::stop_action::now) stop_everything();
}

conc::task<void> runner::time_limit() {
    co_await lp_.sleep_for(*cfg_.timeout);
    tally_.timed_out = true;
    say("timed out after " + cli::format_duration(*cfg_.timeout));
    stop_everything();
}

void runner::stop_starting() {
    if (stopping_) return;
    stopping_ = true;
    feeder_.cancel();
    runner_.stop();
}

void runner::stop_everything() {
    stop_starting();
    sup_.stop_all(SIGTERM);
}

// stdout failed: EPIPE (| head) stops quietly; anything else is said once.
// stderr failed: nothing can be said, and the commands' stdout still matters.
void runner::output_failed(const conc::writer& w) {
    if (&w == &out_.err()) return;
    if (std::string msg = tally_.stdout_failed(w); !msg.empty()) say(msg);
    stop_everything();
}

void runner::say(std::string msg) {
    messages_.push_back(lp_.spawn(out_.print(2, cli::program_name() + ": " + msg + "\n")));
}

std::string runner::summary_table() const {
    std::vector<std::vector<std::string>> rows{{"NAME", "STATUS", "TIME", "RESTARTS"}};
    for (const command_state& c : commands_) {
        std::string status = !c.started ? "not started"
                             : c.stopped ? "stopped (" + c.status.describe() + ")"
                                         : c.status.describe();
        rows.push_back({cfg_.commands[c.index].name, status, c.started ? cli::format_duration(c.took) : "-",
                        std::to_string(c.restarts)});
    }
    std::vector<std::size_t> width(4, 0);
    for (auto& r : rows)
        for (std::size_t k = 0; k < r.size(); ++k) width[k] = std::max(width[k], r[k].size());
    std::string t;
    for (auto& r : rows) {
        for (std::size_t k = 0; k < r.size(); ++k) {
            t += r[k];
            if (k + 1 < r.size()) t += std::string(width[k] - r[k].size() + 2, ' ');
        }
        t += '\n';
    }
    return t;
}

int run(const config& cfg) {
    conc::loop lp;
    runner r(lp, cfg);
    int code = lp.run(r.run());
    if (cfg.summary) conc::write_all(STDERR_FILENO, r.summary_table());
    if (std::string s = r.failures(); !s.empty()) cli::warn(s);
    return code;
}

}  // namespace parun
