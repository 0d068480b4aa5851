// The broadcast shape (--tee): the whole stream into every command; a slow
// one slows the stream, one that stops reading drops out, the others go on.
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "conc/fd.hpp"
#include "feed.hpp"
#include "session.hpp"

namespace ppipe {

namespace {

constexpr std::size_t chunk = 128 * 1024;

struct reader {
    std::optional<conc::child> c;
    std::unique_ptr<cli::output::job> oj;
    conc::job<void> out, err;
    bool reading = true;
};

// Each chunk of stdin into every command still reading.
conc::task<void> feed_all(session& s, std::vector<reader>& readers, std::uint64_t& moved) {
    std::size_t live = 0;
    for (auto& r : readers) live += r.c.has_value();
    auto buf = std::make_unique_for_overwrite<char[]>(chunk);
    while (live > 0) {
        std::size_t n = co_await read_ready(s.lp, STDIN_FILENO, buf.get(), chunk);
        if (n == 0) break;
        std::string_view data(buf.get(), n);
        for (auto& r : readers) {
            if (!r.c || !r.reading) continue;
            if (!co_await feed_bytes(s.lp, r.c->in().get(), data)) {   // it stopped reading: it is left out
                r.reading = false;
                r.c->in().reset();
                --live;
            }
        }
        moved += n;
        s.progress(moved, false);
    }
}

conc::task<void> broadcast(session& s) {
    std::vector<reader> readers(s.cfg.commands.size());
    for (std::size_t i = 0; i < readers.size() && !s.stopping(); ++i) {
        conc::child_spec spec;
        spec.argv = cli::shell_argv(s.cfg.commands[i]);
        spec.in = spec.out = spec.err = conc::child_io::pipe();
        reader& r = readers[i];
        if (!s.start(r.c, std::move(spec))) break;
        r.oj = s.out.open(i + 1, s.cfg.tag ? std::to_string(i + 1) + "\t" : std::string());
        r.err = s.lp.spawn(s.out.drain(*r.oj, 2, r.c->err().get()));
        r.out = s.lp.spawn(s.out.drain(*r.oj, 1, r.c->out().get()));
        prepare_pipe(r.c->in().get(), 1u << 20);
    }
    std::uint64_t moved = 0;
    conc::job<void> feeder = s.lp.spawn(feed_all(s, readers, moved));
    {
        session::stop_hook hook(s, [&] { feeder.cancel(); });
        try {
            co_await feeder;
        } catch (const conc::cancelled_error&) {
        } catch (...) {   // stdin cannot be read: the commands still end as usual
            s.fail(std::current_exception());
        }
    }
    for (auto& r : readers)
        if (r.c) r.c->in().reset();
    for (std::size_t i = 0; i < readers.size(); ++i) {
        reader& r = readers[i];
        if (!r.c) {
            co_await s.out.skip(i + 1);   // never started: -k does not wait for it
            continue;
        }
        co_await r.out;
        co_await r.err;
        s.ended(*r.c, co_await r.c->exited());
        co_await s.out.finish(std::move(r.oj));
        s.progress(moved, true);
    }
}

}  // namespace

int run_tee(const config& cfg) {
    cli::output_options o;
    o.mode = cfg.keep_order ? cli::output_mode::held : cli::output_mode::line;
    o.ordered = cfg.keep_order;
    o.whole_lines = o.end_last_line = !cfg.keep_order;   // lines from different commands never run together
    return run_session(cfg, o, "commands", broadcast);
}

}  // namespace ppipe
