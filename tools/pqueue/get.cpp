// get.cpp: items out of the queue, onto standard output.
//
// Items come in batches (get_many: all that is there, up to a bound, in one
// lock hold) and go out with plain blocking write(2)s.  An item leaves the
// queue for good only once written whole: when a write fails, or a stop
// signal interrupts it, the unwritten rest of the batch goes back to the
// front of the queue in its order (unget_many), then get exits.
//
// Stop signals are blocked while items are held.  Waiting for an item holds
// none, so there a signal ends the process at once (stop_signals): get waits
// with wait_for_items, which takes nothing, and takes only with signals
// blocked, never waiting then.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "conc/signals.hpp"
#include "messages.hpp"
#include "pqueue.hpp"
#include "stop_signals.hpp"

namespace pqueue {

namespace {

constexpr std::size_t batch_items = 64 * 1024;
constexpr std::size_t batch_bytes = 1024 * 1024;

// How a batch's delivery ended.
struct delivery {
    std::size_t written = 0;   // items written whole
    int error = 0;             // errno of the write that failed
    int signal = 0;            // the stop signal that interrupted it
};

// The bytes of a batch as written: each item, then the delimiter.  Reused
// from batch to batch; never zero-filled.
class output_buffer {
public:
    std::string_view fill(const conc::item_batch& items, char delim) {
        std::size_t total = items.bytes() + items.size();
        if (total > cap_) {
            cap_ = std::max(total, 2 * cap_);
            buf_.reset(new char[cap_]);
        }
        char* p = buf_.get();
        for (std::size_t i = 0; i < items.size(); ++i) {
            std::string_view it = items[i];
            std::memcpy(p, it.data(), it.size());
            p += it.size();
            *p++ = delim;
        }
        return {buf_.get(), total};
    }

private:
    std::unique_ptr<char[]> buf_;
    std::size_t cap_ = 0;
};

// How many items the first `bytes` bytes of their output hold whole.
std::size_t whole_items(const conc::item_batch& items, std::size_t bytes) {
    std::size_t i = 0;
    for (std::size_t end = 0; i < items.size(); ++i) {
        end += items[i].size() + 1;
        if (end > bytes) break;
    }
    return i;
}

// Writes the items, each followed by delim, to fd.  Stops at the first
// error or stop signal; says how many items went out whole.
delivery write_items(int fd, const conc::item_batch& items, char delim, output_buffer& out) {
    std::string_view bytes = out.fill(items, delim);
    delivery d;
    std::size_t off = 0;
    {
        stop_signals::deliverable interruptible;
        while (off < bytes.size()) {
            if ((d.signal = stop_signals::pending())) break;
            ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
            if (n >= 0) {
                off += std::size_t(n);
            } else if (errno == EAGAIN) {   // a non-blocking stdout: wait till it takes more
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, -1);
            } else if (errno != EINTR) {
                d.error = errno;
                break;
            }
        }
    }
    if (!d.signal) d.signal = stop_signals::pending();
    d.written = off == bytes.size() ? items.size() : whole_items(items, off);
    return d;
}

// Waits up to `wait` (nullopt: as long as it takes) for items, then takes up
// to max of them.  A stop signal during the wait ends the process holding
// nothing; one that comes later waits, blocked, until the items are written.
conc::batch_result wait_and_take(conc::shm_queue& q, conc::item_batch& batch, std::size_t max,
                                 std::optional<std::chrono::nanoseconds> wait) {
    using clock = std::chrono::steady_clock;
    const auto deadline = wait ? std::optional(clock::now() + *wait) : std::nullopt;
    for (;;) {
        std::optional<std::chrono::nanoseconds> left;
        if (deadline) left = std::max<std::chrono::nanoseconds>(*deadline - clock::now(), std::chrono::nanoseconds(1));
        conc::queue_status s;
        {
            stop_signals::abandonable waiting;
            s = q.wait_for_items(left);
        }
        if (s != conc::queue_status::ok) return {0, s};
        conc::batch_result r = q.get_many(batch, max, std::chrono::nanoseconds::zero(), batch_bytes);
        if (r.count > 0 || r.status != conc::queue_status::empty) return r;
        // another consumer took them first: wait again
    }
}

}  // namespace

int get(const config& cfg) {
    stop_signals::install();
    conc::ignore_sigpipe();   // a reader gone is EPIPE, and the items go back
    const conc::queue_options defaults;
    conc::shm_queue q = open_queue(cfg.name, &defaults);

    std::uint64_t wanted = 1;
    switch (cfg.amount) {
    case get_amount::one: break;
    case get_amount::count: wanted = cfg.count; break;
    case get_amount::all:
        wanted = q.size();
        if (wanted == 0) return cli::exit_empty;
        break;
    case get_amount::follow: wanted = UINT64_MAX; break;
    }
    std::optional<std::chrono::nanoseconds> wait = cfg.timeout;   // nullopt: as long as it takes
    if (cfg.nowait || cfg.amount == get_amount::all) wait = std::chrono::nanoseconds::zero();
    const bool waits = !wait || wait->count() > 0;

    conc::item_batch batch;
    output_buffer out;
    std::uint64_t got = 0;
    while (got < wanted) {
        std::size_t max = std::size_t(std::min<std::uint64_t>(wanted - got, batch_items));
        batch.clear();
        conc::batch_result r = q.get_many(batch, max, std::chrono::nanoseconds::zero(), batch_bytes);
        if (r.count == 0 && r.status == conc::queue_status::empty && waits) r = wait_and_take(q, batch, max, wait);
        if (r.count > 0) {
            delivery d = write_items(STDOUT_FILENO, batch, cfg.delimiter, out);
            got += d.written;
            if (d.written < batch.size()) {
                conc::queue_status back = q.unget_many(batch, d.written);
                if (back != conc::queue_status::ok && back != conc::queue_status::removed)
                    cli::warn("get '" + cfg.name + "': " + std::to_string(batch.size() - d.written) +
                              " items could not be put back: " + conc::to_string(back));
            }
            if (d.signal) return stop_signals::exit_code(d.signal);
            if (d.error == EPIPE) return cli::exit_signal_base + SIGPIPE;
            if (d.error) cli::die(cli::exit_internal, std::string("cannot write to standard output: ") + std::strerror(d.error));
            if (int sig = stop_signals::pending()) return stop_signals::exit_code(sig);
            continue;
        }
        if (int sig = stop_signals::pending()) return stop_signals::exit_code(sig);
        switch (r.status) {
        case conc::queue_status::empty:   // --nowait, --all, --timeout 0
            if (cfg.timeout && cfg.amount != get_amount::all) return cli::exit_timeout;
            return cfg.amount == get_amount::all && got > 0 ? cli::exit_ok : cli::exit_empty;
        case conc::queue_status::timeout: return cli::exit_timeout;
        case conc::queue_status::closed: return cfg.amount == get_amount::follow ? cli::exit_ok : cli::exit_empty;
        case conc::queue_status::removed: cli::die(cli::exit_empty, "get '" + cfg.name + "': the queue was removed");
        default: cli::die(cli::exit_internal, "get '" + cfg.name + "': " + conc::to_string(r.status));
        }
    }
    return cli::exit_ok;
}

}  // namespace pqueue
