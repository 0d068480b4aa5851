// put.cpp: items into the queue, from the arguments or from standard input.
//
// Records from standard input go in batches: every whole record the reader
// holds after one read(2) is put with one put_many (one lock hold while there
// is room), straight from the reader's buffer.  A batch never waits for more
// input: what was read is put before the next read, so a trickle of records
// (ssh host pqueue get --follow q | pqueue put q) is not held back.
//
// A put holds nothing the queue does not: a stop signal ends it at any
// instant (stop_signals::abandonable), each item wholly in the queue or not.
#include <unistd.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conc/records.hpp"
#include "messages.hpp"
#include "pqueue.hpp"
#include "stop_signals.hpp"

namespace pqueue {

namespace {

class putter {
public:
    putter(const config& cfg, conc::shm_queue& q) : cfg_(cfg), q_(q) {
        if (cfg.nowait) wait_ = std::chrono::nanoseconds::zero();
        else wait_ = cfg.timeout;
    }

    // Puts every item; 0, or the exit status after saying why not.
    int put_all(std::span<const std::string_view> items) {
        while (!items.empty()) {
            conc::batch_result r = q_.put_many(items, cfg_.priority, wait_);
            items = items.subspan(r.count);
            done_ += r.count;
            if (r.status == conc::queue_status::ok) continue;
            // A timeout after some items went in: the wait that ran out began
            // after the last of them, so wait afresh (each wait gets DUR).
            if (r.status == conc::queue_status::timeout && r.count > 0) continue;
            if (r.status == conc::queue_status::full && !cfg_.nowait) r.status = conc::queue_status::timeout;   // --timeout 0
            return failed(r.status, items.empty() ? 0 : items.front().size());
        }
        return cli::exit_ok;
    }

private:
    int failed(conc::queue_status s, std::size_t item_size) const {
        std::string what = "put '" + cfg_.name + "': ";
        std::string so_far = done_ ? " (" + std::to_string(done_) + (done_ == 1 ? " item was put)" : " items were put)") : "";
        switch (s) {
        case conc::queue_status::full: cli::warn(what + "the queue is full" + so_far); return cli::exit_empty;
        case conc::queue_status::timeout: cli::warn(what + "timed out waiting for room" + so_far); return cli::exit_timeout;
        case conc::queue_status::closed: cli::warn(what + "the queue is closed" + so_far); return cli::exit_empty;
        case conc::queue_status::removed: cli::warn(what + "the queue was removed" + so_far); return cli::exit_empty;
        case conc::queue_status::too_large:
            cli::warn(what + "item " + std::to_string(done_ + 1) + " has " + std::to_string(item_size) +
                      " bytes, more than the queue can hold (" + std::to_string(q_.stats().capacity) + ")" + so_far);
            return cli::exit_usage;
        default: cli::warn(what + conc::to_string(s) + so_far); return cli::exit_internal;
        }
    }

    const config& cfg_;
    conc::shm_queue& q_;
    std::optional<std::chrono::nanoseconds> wait_;
    std::uint64_t done_ = 0;
};

}  // namespace

int put(const config& cfg) {
    stop_signals::install();
    conc::queue_options defaults;
    if (cfg.priority_given) defaults.kind = conc::queue_kind::priority;   // put -p makes a priority queue
    conc::shm_queue q = open_queue(cfg.name, &defaults);
    if (cfg.priority_given && !q.created() && q.stats().kind != conc::queue_kind::priority)
        cli::die(cli::exit_usage, "-p: the queue '" + cfg.name + "' is a " + conc::to_string(q.stats().kind) +
                                      " queue, without priorities");
    putter p(cfg, q);
    int status = cli::exit_ok;
    {
        stop_signals::abandonable anywhere;
        if (!cfg.operands.empty()) {
            std::vector<std::string_view> items(cfg.operands.begin(), cfg.operands.end());
            status = p.put_all(items);
        } else {
            conc::record_reader in(STDIN_FILENO, cfg.delimiter, 256 * 1024);
            std::vector<std::string_view> batch;
            for (;;) {
                while (auto r = in.try_next()) batch.push_back(*r);   // views stay valid until fill()
                if (!batch.empty()) status = p.put_all(batch);
                if (status != cli::exit_ok || in.at_eof()) break;
                batch.clear();
                in.fill();
            }
        }
    }
    if (int sig = stop_signals::pending()) return stop_signals::exit_code(sig);
    return status;
}

}  // namespace pqueue
