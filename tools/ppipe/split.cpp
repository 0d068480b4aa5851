// The split shape: blocks of stdin, each into a fresh copy of the command (at
// most -j at once), outputs whole and, with -k, in input order.  And its
// variant --round-robin: -j long-lived copies, each taking the next block
// when it has room, outputs merged line by line.
#include <memory>
#include <string>
#include <vector>

#include "blocks.hpp"
#include "command_line.hpp"
#include "conc/task_group.hpp"
#include "feed.hpp"
#include "session.hpp"

namespace ppipe {

namespace {

// {#} in the command becomes the block number.
std::vector<std::string> command_for(const config& cfg, std::uint64_t seq) {
    std::vector<std::string> argv;
    for (std::string arg : cfg.commands) {
        for (std::size_t at = 0; (at = arg.find("{#}", at)) != std::string::npos;) {
            std::string n = std::to_string(seq);
            arg.replace(at, 3, n);
            at += n.size();
        }
        argv.push_back(std::move(arg));
    }
    return cfg.shell ? cli::shell_argv(std::move(argv[0])) : argv;
}

conc::child_spec spec_for(const config& cfg, std::uint64_t seq, unsigned slot) {
    conc::child_spec spec;
    spec.argv = command_for(cfg, seq);
    spec.in = spec.out = spec.err = conc::child_io::pipe();
    spec.env = {"PARALLEL_SEQ=" + std::to_string(seq), "PARALLEL_JOBSLOT=" + std::to_string(slot)};
    return spec;
}

class splitter {
public:
    explicit splitter(session& s) : s_(s), src_(s.lp, STDIN_FILENO, s.cfg.cut), group_(s.cfg.jobs) {}

    conc::task<void> run() {
        feeder_ = s_.lp.spawn(feed());
        session::stop_hook hook(s_, [this] { feeder_.cancel(); });
        try {
            co_await feeder_;
        } catch (const conc::cancelled_error&) {
        } catch (...) {
            s_.fail(std::current_exception());
        }
        co_await group_.join();
    }

private:
    conc::task<void> feed() {
        while (auto b = co_await src_.next()) {
            auto held = std::make_shared<block>(std::move(*b));
            // Named, not a temporary inside the co_await: g++ 12 mishandles those.
            std::function<conc::task<void>(unsigned)> job = [this, held](unsigned slot) { return run_block(held, slot); };
            co_await group_.start(std::move(job));
        }
    }

    conc::task<void> run_block(std::shared_ptr<block> b, unsigned slot) {
        std::optional<conc::child> c;
        if (!s_.start(c, spec_for(s_.cfg, b->seq, slot))) {
            co_await s_.out.skip(b->seq);   // -k: later blocks do not wait for it
            co_return;
        }
        auto oj = s_.out.open(b->seq);
        auto err = s_.lp.spawn(s_.out.drain(*oj, 2, c->err().get()));
        auto out = s_.lp.spawn(s_.out.drain(*oj, 1, c->out().get()));
        try {   // the drains above use oj and c until they end: no leaving early
            int in = c->in().get();
            prepare_pipe(in, src_.header().size() + b->size());
            if (co_await feed_bytes(s_.lp, in, src_.header())) {
                if (b->in_file()) co_await feed_range(s_.lp, in, src_.fd(), b->offset, b->length);
                else co_await feed_bytes(s_.lp, in, b->bytes);
            }
        } catch (...) {   // stdin cannot be read
            s_.fail(std::current_exception());
        }
        c->in().reset();
        std::size_t size = b->size();
        b.reset();   // the memory is free for the next block
        co_await out;
        co_await err;
        s_.ended(*c, co_await c->exited());
        co_await s_.out.finish(std::move(oj));
        moved_ += size;
        s_.progress(moved_, true);
    }

    session& s_;
    block_source src_;
    conc::task_group group_;
    conc::job<void> feeder_;
    std::uint64_t moved_ = 0;
};

class round_robin {
public:
    explicit round_robin(session& s) : s_(s), src_(s.lp, STDIN_FILENO, s.cfg.cut) {}

    conc::task<void> run() {
        session::stop_hook hook(s_, [this] {
            stopped_ = true;
            read_.cancel();   // a copy waiting for stdin stops waiting
        });
        std::vector<conc::job<void>> copies;
        for (unsigned slot = 1; slot <= s_.cfg.jobs && !stopped_; ++slot) copies.push_back(s_.lp.spawn(copy(slot)));
        for (auto& c : copies) co_await c;
    }

private:
    // One long-lived copy: the next block whenever it has room for one.
    conc::task<void> copy(unsigned slot) {
        std::optional<conc::child> c;
        if (!s_.start(c, spec_for(s_.cfg, slot, slot))) co_return;
        auto oj = s_.out.open(slot);
        auto err = s_.lp.spawn(s_.out.drain(*oj, 2, c->err().get()));
        auto out = s_.lp.spawn(s_.out.drain(*oj, 1, c->out().get()));
        try {   // the drains above use oj and c until they end: no leaving early
            int in = c->in().get();
            prepare_pipe(in, s_.cfg.cut.block);
            bool open = co_await feed_bytes(s_.lp, in, src_.header());
            while (open && !stopped_) {
                std::optional<block> b = co_await next();
                if (!b) break;
                if (b->in_file()) open = co_await feed_range(s_.lp, in, src_.fd(), b->offset, b->length);
                else open = co_await feed_bytes(s_.lp, in, b->bytes);
                moved_ += b->size();
                s_.progress(moved_, true);
            }
        } catch (...) {   // stdin cannot be read: every copy ends
            s_.fail(std::current_exception());
        }
        c->in().reset();
        co_await out;
        co_await err;
        s_.ended(*c, co_await c->exited());
        co_await s_.out.finish(std::move(oj));
    }

    // One copy reads the source at a time; nullopt at the end or once stopped.
    conc::task<std::optional<block>> next() {
        co_await reading_.acquire();
        std::optional<block> b;
        std::exception_ptr failed;
        if (!stopped_) {
            read_ = s_.lp.spawn(src_.next());
            try {
                b = std::move(co_await read_);
            } catch (const conc::cancelled_error&) {
            } catch (...) {
                failed = std::current_exception();
            }
        }
        reading_.release();
        if (failed) std::rethrow_exception(failed);
        co_return b;
    }

    session& s_;
    block_source src_;
    conc::co::semaphore reading_{1};
    conc::job<std::optional<block>> read_;
    std::uint64_t moved_ = 0;
    bool stopped_ = false;
};

}  // namespace

int run_split(const config& cfg) {
    cli::output_options o;
    if (cfg.shape == shape::round_robin) {
        o.mode = cli::output_mode::line;
        o.whole_lines = o.end_last_line = true;   // lines from different copies never run together
        return run_session(cfg, o, "copies", [](session& s) -> conc::task<void> {
            round_robin r(s);
            co_await r.run();
        });
    }
    // -k: the oldest block's copy streams, later ones wait whole; otherwise
    // each block's output goes out whole when its copy ends.
    o.mode = cfg.keep_order ? cli::output_mode::line : cli::output_mode::held;
    o.ordered = cfg.keep_order;
    return run_session(cfg, o, "blocks", [](session& s) -> conc::task<void> {
        splitter sp(s);
        co_await sp.run();
    });
}

}  // namespace ppipe
