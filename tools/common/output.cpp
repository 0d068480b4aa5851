#include "output.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace cli {

namespace {

constexpr std::size_t read_chunk = 64u << 10;

// Holds the output lock for one coroutine scope.
class lock_guard {
public:
    explicit lock_guard(conc::co::semaphore& s) : s_(s) {}
    ~lock_guard() { s_.release(); }
    lock_guard(const lock_guard&) = delete;
    lock_guard& operator=(const lock_guard&) = delete;

private:
    conc::co::semaphore& s_;
};

bool same_file(int a, int b) {
    struct stat x, y;
    return ::fstat(a, &x) == 0 && ::fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

}  // namespace

output::output(conc::loop& lp, output_options opt, progress_bar* bar)
    : lp_(lp), opt_(opt), bar_(bar && bar->enabled() ? bar : nullptr),
      out_(lp, STDOUT_FILENO, "standard output"), err_(lp, STDERR_FILENO, "standard error"), store_(opt.memory) {
    stdout_is_tty_ = ::isatty(STDOUT_FILENO);
    // A job's stdout and stderr leave in the order they were written only if
    // each stream is flushed before the other is used; that costs a wait, so
    // only when both reach the same file (2>&1, one terminal).
    switch_flushes_ = same_file(STDOUT_FILENO, STDERR_FILENO) || (bar_ && stdout_is_tty_);
    out_.on_error([this] {
        if (on_error_) on_error_(out_);
    });
    err_.on_error([this] {
        if (on_error_) on_error_(err_);
    });
}

output::~output() { redraw_.cancel(); }

void output::job::discard() noexcept {
    for (sink* s : {&out_, &err_}) {
        s->held.clear();
        s->partial.clear();
        s->seen.clear();
        s->at_line_start = true;
    }
}

std::unique_ptr<output::job> output::open(std::uint64_t seq, std::string prefix) {
    std::unique_ptr<job> j(new job(seq, std::move(prefix), store_));
    if (opt_.ordered && opt_.mode == output_mode::line) {
        if (seq == order_.next()) j->live_ = true;   // the oldest: it streams from the start
        else open_[seq] = j.get();
    }
    return j;
}

bool output::live(const job& j) const noexcept {
    return opt_.mode == output_mode::line && (!opt_.ordered || j.live_);
}

std::string output::prefixed(std::string_view data, const job& j, bool& at_line_start) {
    if (!j.has_prefix()) {
        if (!data.empty()) at_line_start = data.back() == '\n';
        return std::string(data);
    }
    std::string r;
    r.reserve(data.size() + j.prefix_.size() * 4);
    for (char c : data) {
        if (at_line_start) r += j.line_prefix_ ? j.line_prefix_() : j.prefix_;
        if (c == '\n') r += j.line_end_;
        r += c;
        at_line_start = c == '\n';
    }
    return r;
}

conc::task<void> output::drain(job& j, conc::child& c) {
    auto err = lp_.spawn(drain(j, 2, c.err().get()));
    co_await drain(j, 1, c.out().get());
    co_await err;
}

conc::task<void> output::drain(job& j, int stream, int fd) {
    std::unique_ptr<char[]> buf;
    if (!spare_buffers_.empty()) {
        buf = std::move(spare_buffers_.back());
        spare_buffers_.pop_back();
    } else {
        buf.reset(new char[read_chunk]);
    }
    for (;;) {
        co_await lp_.readable(fd);
        long n = conc::read_some(fd, buf.get(), read_chunk);
        if (n <= 0) break;
        co_await take(j, stream, std::string_view(buf.get(), std::size_t(n)));
    }
    spare_buffers_.push_back(std::move(buf));
    sink& s = j.stream(stream);
    if (j.on_line_ && !s.seen.empty()) {
        std::string unfinished = std::move(s.seen);
        s.seen.clear();
        j.on_line_(unfinished);
    }
    if (j.silent_ || s.divert) co_return;
    if (s.long_line) {   // the last line, long and without its newline
        if (opt_.end_last_line) s.held.append(j.line_end_ + "\n");
        s.at_line_start = true;
        co_await write_long_line(j, stream);
        co_return;
    }
    std::string last;
    if (live(j) && !s.partial.empty()) {   // the last line, without its newline
        last = prefixed(s.partial, j, s.at_line_start);
        s.partial.clear();
    }
    if (opt_.end_last_line && !s.at_line_start) {
        if (live(j)) last += j.line_end_ + '\n';
        else s.held.append(j.line_end_ + "\n");
        s.at_line_start = true;
    }
    if (!last.empty()) co_await emit_lines(stream, last);
}

void output::watch(job& j, sink& s, std::string_view data) {
    for (std::size_t nl; (nl = data.find('\n')) != std::string_view::npos; data.remove_prefix(nl + 1)) {
        if (s.seen.empty()) {
            j.on_line_(data.substr(0, nl));
        } else {
            s.seen.append(data.substr(0, nl));
            std::string line = std::move(s.seen);
            s.seen.clear();
            j.on_line_(line);
        }
    }
    s.seen.append(data);
}

conc::task<void> output::take(job& j, int stream, std::string_view data) {
    sink& s = j.stream(stream);
    s.received += data.size();
    if (j.on_line_) watch(j, s, data);
    if (j.silent_) co_return;
    if (s.divert) {
        s.divert(data);
        co_return;
    }
    if (!live(j)) {   // held whole, or waiting for its turn
        if (!j.has_prefix()) {
            s.held.append(data);
            if (!data.empty()) s.at_line_start = data.back() == '\n';
        } else {
            s.held.append(prefixed(data, j, s.at_line_start));
        }
        co_return;
    }
    if (opt_.ordered && !j.has_prefix()) {   // the only job writing now: no line to keep whole
        if (!s.partial.empty()) {
            std::string before = std::exchange(s.partial, std::string());
            co_await emit(stream, before);
        }
        if (!data.empty()) s.at_line_start = data.back() == '\n';
        co_await emit(stream, data);
        co_return;
    }
    std::size_t last = data.rfind('\n');
    if (s.long_line) {   // the rest of a line too long for memory, held until it ends
        std::size_t upto = last == std::string_view::npos ? data.size() : last + 1;
        s.held.append(prefixed(data.substr(0, upto), j, s.at_line_start));
        if (last == std::string_view::npos) co_return;
        s.partial.assign(data.substr(upto));
        co_await write_long_line(j, stream);
        co_return;
    }
    if (last == std::string_view::npos) {
        s.partial.append(data);
        if (s.partial.size() >= opt_.line_max && opt_.whole_lines) {   // too long for memory: held on
            s.held.append(prefixed(s.partial, j, s.at_line_start));
            s.partial.clear();
            s.long_line = true;
        } else if (s.partial.size() >= opt_.line_max) {   // too long to hold: out in pieces
            std::string piece = prefixed(s.partial, j, s.at_line_start);
            s.partial.clear();
            co_await emit(stream, piece);
        }
        co_return;
    }
    // Whole lines go out straight from the read buffer: a copy only to join
    // a partial line, or to put the prefix in.
    std::string_view lines = data.substr(0, last + 1);
    std::string joined, tagged;
    if (!s.partial.empty()) {
        joined = std::move(s.partial);
        joined.append(lines);
        lines = joined;
    }
    if (j.has_prefix()) {
        tagged = prefixed(lines, j, s.at_line_start);
        lines = tagged;
    } else {
        s.at_line_start = true;   // lines ends with its newline
    }
    s.partial.assign(data.substr(last + 1));
    co_await emit_lines(stream, lines);
}

// whole_lines, not ordered: a long line goes out in several writes, so every
// job's lines go out under the lock, and none lands inside another's.
conc::task<void> output::emit_lines(int stream, std::string_view data) {
    if (!opt_.whole_lines || opt_.ordered) {
        co_await emit(stream, data);
        co_return;
    }
    co_await lock_.acquire();
    lock_guard g(lock_);
    co_await emit(stream, data);
}

conc::task<void> output::write_long_line(job& j, int stream) {
    sink& s = j.stream(stream);
    s.long_line = false;
    conc::spool bytes(std::move(s.held));
    co_await lock_.acquire();
    lock_guard g(lock_);
    co_await before_write(stream);
    co_await (stream == 1 ? out_ : err_).write(bytes);
}

conc::task<void> output::finish(std::unique_ptr<job> j) {
    if (!opt_.ordered) {
        if (opt_.mode != output_mode::held) co_return;   // line mode: already out
        co_await lock_.acquire();
        lock_guard g(lock_);
        co_await write_held(*j);
        co_return;
    }
    std::uint64_t seq = j->seq_;
    open_.erase(seq);
    order_.put(seq, std::move(j));
    co_await advance();
}

conc::task<void> output::add(job& j, int stream, std::string text) {
    co_await take(j, stream, text);
}

conc::task<void> output::skip(std::uint64_t seq) {
    open_.erase(seq);
    order_.put(seq, nullptr);
    co_await advance();
}

// Ordered: writes every job whose turn has come, then lets the oldest
// running job stream (line mode) once what it held so far is out.
conc::task<void> output::advance() {
    co_await lock_.acquire();
    lock_guard g(lock_);
    while (auto next = order_.pop())
        if (*next) co_await write_held(**next);
    if (opt_.mode != output_mode::line) co_return;
    auto it = open_.find(order_.next());
    if (it == open_.end()) co_return;
    job& oldest = *it->second;
    // It keeps holding while this writes (each write awaits): loop until nothing is left.
    while (!oldest.out_.held.empty() || !oldest.err_.held.empty()) co_await write_held(oldest);
    oldest.live_ = true;
}

conc::task<void> output::write_held(job& j) {
    for (int stream : {1, 2}) {
        sink& s = j.stream(stream);
        if (s.held.empty()) continue;
        conc::spool bytes(std::move(s.held));   // more may arrive in s.held while these go out
        co_await before_write(stream);
        co_await (stream == 1 ? out_ : err_).write(bytes);
    }
}

conc::task<void> output::emit(int stream, std::string_view data) {
    co_await before_write(stream);
    co_await (stream == 1 ? out_ : err_).write(data);
}

// Erases the bar before output reaches its terminal, and keeps stdout and
// stderr in order when they share a file.
conc::task<void> output::before_write(int stream) {
    if (bar_ && (stream == 2 || stdout_is_tty_)) {
        std::string erase = bar_->erase();
        if (!erase.empty()) {
            co_await switch_to(2);
            co_await err_.write(erase);
        }
        schedule_redraw();
    }
    co_await switch_to(stream);
}

conc::task<void> output::switch_to(int stream) {
    if (stream == last_stream_) co_return;
    if (switch_flushes_) co_await (last_stream_ == 1 ? out_ : err_).flush();
    last_stream_ = stream;
}

conc::task<void> output::print(int stream, std::string text) {
    co_await lock_.acquire();
    lock_guard g(lock_);
    co_await emit(stream, text);
}

void output::progress(std::uint64_t done) {
    done_ = done;
    schedule_redraw();
}

void output::schedule_redraw() {
    if (bar_ && (!redraw_.valid() || redraw_.done())) redraw_ = lp_.spawn(redraw());
}

// One frame, as soon as the bar allows; a count that changes meanwhile is
// drawn by the next one, so the screen always catches up.
conc::task<void> output::redraw() {
    auto due = bar_->due();
    if (conc::clock::now() < due) co_await lp_.sleep_until(due);
    co_await lock_.acquire();
    lock_guard g(lock_);
    if (auto frame = bar_->frame(done_, progress_bar::clock::now())) {
        co_await switch_to(2);
        co_await err_.write(*frame);
    }
}

conc::task<void> output::close(std::uint64_t done) {
    redraw_.cancel();
    co_await lock_.acquire();
    lock_guard g(lock_);
    // Jobs still waiting for one that never ran (the tool stopped early) go out in order.
    while (auto next = order_.pop_first())
        if (*next) co_await write_held(**next);
    if (bar_) {
        std::string last = bar_->final_frame(done, progress_bar::clock::now());
        co_await switch_to(2);
        co_await err_.write(last);
    }
    co_await out_.flush();
    co_await err_.flush();
}

bool output::stdout_reader_gone() const noexcept {
    pollfd p{STDOUT_FILENO, 0, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

}  // namespace cli
