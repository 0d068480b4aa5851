#include "command_line.hpp"
#include "command.hpp"

#include <unistd.h>

#include <algorithm>
#include <optional>

#include "conc/wait.hpp"
#include "messages.hpp"

namespace parun {

namespace {

using namespace std::chrono_literals;
constexpr std::chrono::nanoseconds backoff_first = 100ms, backoff_most = 30s;

// --restart-delay exp: 100ms, 200ms, 400ms, ... at most 30s.
std::chrono::nanoseconds backoff(unsigned restart) {
    auto d = backoff_first;
    for (unsigned i = 1; i < restart && d < backoff_most; ++i) d *= 2;
    return std::min(d, backoff_most);
}

}  // namespace

command_runner::command_runner(conc::loop& lp, const config& cfg, cli::output& out, cli::supervisor& sup)
    : lp_(lp), cfg_(cfg), out_(out), sup_(sup) {}

bool command_runner::may_restart(const command_state& c) const noexcept {
    return cfg_.restarts < 0 || c.restarts < static_cast<unsigned long>(cfg_.restarts);
}

// --prefix rendered, coloured with --color, and a space: "web | ".
std::string command_runner::prefix_of(const command_state& c, int pid, std::string_view time) const {
    if (cfg_.output == cli::output_mode::raw) return {};
    std::string p = cfg_.prefix.render(c.label, c.index + 1, pid, time);
    if (c.color) p = std::string("\033[") + c.color + "m" + p + "\033[0m";
    return p + " ";
}

// The prefix once the command's pid is known; made per line when it shows the time.
void command_runner::prefix_lines(const command_state& c, int pid, cli::output::job& oj) const {
    if (cfg_.output == cli::output_mode::raw) return;
    if (cfg_.prefix.uses(prefix_format::field::time))
        oj.prefix_each_line([this, &c, pid] { return prefix_of(c, pid, time_of_day()); });
    else if (cfg_.prefix.uses(prefix_format::field::pid))
        oj.set_prefix(prefix_of(c, pid));
}

conc::task<void> command_runner::run(command_state& c, unsigned slot) {
    auto oj = out_.open(c.index + 1, prefix_of(c, 0));
    if (cfg_.hidden[c.index]) oj->silence();
    if (const auto& pattern = cfg_.ready[c.index]) {
        oj->on_line([&c, p = pattern.get()](std::string_view line) {
            if (!c.ready.is_set() && p->matches(line)) {
                c.became_ready = true;
                c.ready.set();
            }
        });
    }
    auto t0 = conc::clock::now();
    c.started = true;
    for (;;) {
        c.status = co_await attempt(c, slot, *oj);
        if (sup_.stopping() && !c.status.success()) {   // parun stopped it: it did not end on its own
            c.stopped = true;
            break;
        }
        if (c.status.success() || !may_restart(c)) break;
        ++c.restarts;
        if (!co_await pause_before_restart(c.restarts)) {
            c.stopped = true;
            break;
        }
    }
    c.took = conc::clock::now() - t0;
    c.ended = !c.stopped;
    if (c.ended && c.status.success()) c.became_ready = true;
    c.ready.set();   // ready now, or never
    co_await out_.finish(std::move(oj));
}

conc::task<conc::exit_status> command_runner::attempt(command_state& c, unsigned slot, cli::output::job& oj) {
    const named_command& cmd = cfg_.commands[c.index];
    bool dropped = cfg_.hidden[c.index] && !cfg_.ready[c.index];   // --ready needs its lines even if hidden
    bool raw = cfg_.output == cli::output_mode::raw;
    bool piped = !dropped && !raw;
    conc::child_spec spec;
    spec.argv = cli::shell_argv(cmd.command);
    spec.in = cfg_.gets_stdin == c.index ? conc::child_io::inherited() : conc::child_io::devnull();
    spec.out = dropped ? conc::child_io::devnull() : raw ? conc::child_io::inherited() : conc::child_io::pipe();
    spec.err = spec.out;
    spec.env = {"PARALLEL_SEQ=" + std::to_string(c.index + 1), "PARALLEL_JOBSLOT=" + std::to_string(slot)};
    auto started = conc::try_spawn(lp_, std::move(spec));
    if (auto* failed = std::get_if<conc::spawn_error>(&started)) {   // /bin/sh itself cannot run
        co_await out_.print(2, cli::program_name() + ": " + cli::describe(*failed) + "\n");
        co_return conc::exit_status::exited_with(failed->exit_code());
    }
    conc::child& ch = std::get<conc::child>(started);
    cli::supervisor::adoption adopted(sup_, ch);
    prefix_lines(c, ch.pid(), oj);
    if (cfg_.verbose)
        co_await out_.print(2, cli::program_name() + ": " + cmd.name + " (pid " + std::to_string(ch.pid()) +
                                   "): " + cmd.command + "\n");
    if (piped) co_await out_.drain(oj, ch);
    co_return co_await ch.exited();
}

conc::task<bool> command_runner::pause_before_restart(unsigned restart) {
    auto delay = cfg_.restart_backoff ? backoff(restart) : cfg_.restart_delay;
    if (stopping_.is_set()) co_return false;
    if (delay.count() > 0) {
        conc::task<void> stop_or_delay = conc::with_timeout(wait_for_stop(), delay);
        try {
            co_await std::move(stop_or_delay);
        } catch (const conc::timeout_error&) {
        }
    }
    co_return !stopping_.is_set() && !sup_.stopping();
}

conc::task<void> command_runner::wait_for_stop() { co_await stopping_.wait(); }

}  // namespace parun
