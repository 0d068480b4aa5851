// conc/task_group.hpp: at most N tasks at once, each in a numbered slot.
//
// Structured concurrency in the manner of asyncio.TaskGroup and Trio's
// nurseries, with a bound: start() waits for a free slot (1..N, the lowest
// free one first, so a slot number can name a job slot as GNU parallel's
// {%} does), then runs the task on the loop.  join() waits until every
// member is done; the first exception a member throws cancels the others
// and comes out of join().  The limit may change while tasks run.
//
//     conc::task_group g(4);
//     for (auto& item : items) {
//         std::function<conc::task<void>(unsigned)> job = [&item](unsigned slot) { return work(item, slot); };
//         co_await g.start(std::move(job));   // named first: see libconc(3) CAVEATS on g++ 12
//     }
//     co_await g.join();
#pragma once
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

#include "conc/co_sync.hpp"
#include "conc/loop.hpp"

namespace conc {

class task_group {
public:
    // limit: how many members may run at once (at least 1).
    explicit task_group(std::size_t limit);
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group();   // cancels members still running

    // Waits for a free slot, then spawns make(slot) on the current loop.
    // Returns the slot.  Throws the group's error once a member has failed.
    task<unsigned> start(std::function<task<void>(unsigned slot)> make);

    // Waits until no member runs; rethrows the first member's exception.
    task<void> join();

    // Cancels every running member (they see cancelled_error) and refuses new ones.
    void cancel();

    // A larger limit starts waiting tasks at once; a smaller one takes effect
    // as members finish (running members are not stopped).
    void set_limit(std::size_t limit);
    std::size_t limit() const noexcept { return limit_; }
    std::size_t running() const noexcept { return running_; }
    bool cancelled() const noexcept { return cancelled_; }

private:
    struct slot_waiter;
    void member_done(unsigned slot, const job<void>& j);
    void offer_slots();
    unsigned take_slot();
    void grow(std::size_t limit);

    std::size_t limit_ = 0;
    std::size_t running_ = 0;
    std::size_t promised_ = 0;               // slots handed to woken start() calls not yet resumed
    std::priority_queue<unsigned, std::vector<unsigned>, std::greater<>> free_;   // lowest first
    std::vector<bool> listed_;               // listed_[s - 1]: s is in free_
    std::vector<job<void>> members_;         // members_[s - 1]: the task in slot s
    detail::waiter_list waiters_;            // start() calls waiting for a slot
    co::event idle_;                         // set while running_ == 0
    std::exception_ptr error_;
    bool cancelled_ = false;
    std::shared_ptr<task_group*> self_;      // what done-callbacks hold: null once destroyed
};

}  // namespace conc
