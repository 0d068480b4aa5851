// The two-way shape (--duplex): A's stdout into B's stdin and B's stdout
// into A's stdin, until both have ended.  With -v the traffic is copied to
// stderr a line at a time, marked with its direction.
#include <memory>
#include <optional>
#include <string>

#include "command_line.hpp"
#include "conc/fd.hpp"
#include "feed.hpp"
#include "session.hpp"

namespace ppipe {

namespace {

constexpr std::size_t chunk = 64 * 1024;

// Lines of one direction's traffic, as they complete, to stderr.
class traffic_log {
public:
    explicit traffic_log(std::string mark) : mark_(std::move(mark)) {}
    conc::task<void> add(session& s, std::string_view data) {
        for (std::size_t nl; (nl = data.find('\n')) != std::string_view::npos; data.remove_prefix(nl + 1)) {
            partial_.append(data.substr(0, nl));
            co_await s.out.print(2, mark_ + partial_ + "\n");
            partial_.clear();
        }
        partial_.append(data);
    }
    conc::task<void> end(session& s) {
        if (!partial_.empty()) co_await s.out.print(2, mark_ + partial_ + "\n");
        partial_.clear();
    }

private:
    std::string mark_;
    std::string partial_;
};

// from's output into to's input until from ends or to stops reading; then
// to sees end of file, and from, still writing, a closed pipe.
conc::task<void> pump(session& s, conc::child& from, conc::child& to, std::string mark) {
    std::optional<traffic_log> log;
    if (s.cfg.verbose) log.emplace(std::move(mark));
    auto buf = std::make_unique_for_overwrite<char[]>(chunk);
    int in = from.out().get();
    try {
        for (;;) {
            std::size_t n = co_await read_ready(s.lp, in, buf.get(), chunk);
            if (n == 0) break;
            std::string_view data(buf.get(), n);
            if (log) co_await log->add(s, data);
            if (!co_await feed_bytes(s.lp, to.in().get(), data)) break;
        }
    } catch (...) {   // both commands are stopped; the pumps end as usual
        s.fail(std::current_exception());
    }
    if (log) co_await log->end(s);
    to.in().reset();
    from.out().reset();
}

conc::child_spec spec_for(const std::string& command) {
    conc::child_spec spec;
    spec.argv = cli::shell_argv(command);
    spec.in = spec.out = conc::child_io::pipe();
    return spec;   // stderr passes through
}

conc::task<void> both_ways(session& s) {
    std::optional<conc::child> a, b;
    if (s.start(a, spec_for(s.cfg.commands[0])) && s.start(b, spec_for(s.cfg.commands[1]))) {
        prepare_pipe(a->in().get(), chunk);
        prepare_pipe(b->in().get(), chunk);
        conc::job<void> ab = s.lp.spawn(pump(s, *a, *b, "A>B: "));
        conc::job<void> ba = s.lp.spawn(pump(s, *b, *a, "B>A: "));
        co_await ab;
        co_await ba;
    }
    const char* names[] = {"A", "B"};
    std::optional<conc::child>* both[] = {&a, &b};
    for (int i = 0; i < 2; ++i) {
        auto& c = *both[i];
        if (!c) continue;
        conc::exit_status st = co_await c->exited();
        bool stopped = s.stopping() && !st.success();
        s.ended(*c, st);
        if (!st.success() && !stopped) s.say(std::string(names[i]) + " (" + s.cfg.commands[i] + ") failed: " + st.describe());
    }
}

}  // namespace

int run_duplex(const config& cfg) { return run_session(cfg, cli::output_options{}, "commands", both_ways); }

}  // namespace ppipe
