#include "conc/task_group.hpp"

#include <algorithm>

namespace conc {

struct task_group::slot_waiter : detail::waiter {
    task_group* g;
    bool promised = false;   // woken by offer_slots(): a slot is kept for it
    explicit slot_waiter(task_group* x) : g(x) {}
    ~slot_waiter() override {
        if (promised) --g->promised_;   // cancelled after the wake-up: give the slot back
        detach();
    }
    bool await_ready() const noexcept {
        return g->cancelled_ || g->error_ || (g->waiters_.empty() && g->running_ + g->promised_ < g->limit_);
    }
    bool await_suspend(std::coroutine_handle<> h) {
        if (!detail::loop_access::begin_wait(loop::current(), *this, h)) return false;
        g->waiters_.push_back(this);
        return true;
    }
    void fire() override {
        promised = true;
        detail::waiter::fire();
    }
    void await_resume() {
        if (promised) {
            promised = false;
            --g->promised_;
            if (cancelled) g->offer_slots();   // the kept slot goes to the next in line
        }
        throw_if_cancelled();
    }
};

task_group::task_group(std::size_t limit) : self_(std::make_shared<task_group*>(this)) {
    grow(std::max<std::size_t>(limit, 1));
    idle_.set();
}

task_group::~task_group() {
    *self_ = nullptr;
    for (auto& j : members_) j.cancel();
}

void task_group::grow(std::size_t limit) {
    if (limit > listed_.size()) {
        listed_.resize(limit, false);
        members_.resize(limit);
    }
    for (std::size_t s = limit_ + 1; s <= limit; ++s)
        if (!listed_[s - 1] && !members_[s - 1].valid()) {
            free_.push(unsigned(s));
            listed_[s - 1] = true;
        }
    limit_ = limit;
}

unsigned task_group::take_slot() {
    while (free_.top() > limit_) {   // left over from a larger limit
        listed_[free_.top() - 1] = false;
        free_.pop();
    }
    unsigned s = free_.top();
    free_.pop();
    listed_[s - 1] = false;
    return s;
}

task<unsigned> task_group::start(std::function<task<void>(unsigned slot)> make) {
    slot_waiter w(this);
    co_await w;
    if (error_) std::rethrow_exception(error_);
    if (cancelled_) throw cancelled_error();
    unsigned slot = take_slot();
    ++running_;
    idle_.clear();
    job<void> j = loop::current().spawn(make(slot));
    members_[slot - 1] = j;
    std::shared_ptr<task_group*> self = self_;
    j.add_done_callback([self, slot, j] {
        if (*self) (*self)->member_done(slot, j);
    });
    co_return slot;
}

void task_group::member_done(unsigned slot, const job<void>& j) {
    members_[slot - 1] = {};
    if (!listed_[slot - 1]) {
        free_.push(slot);
        listed_[slot - 1] = true;
    }
    --running_;
    if (!j.cancelled() && j.exception() && !error_) {
        error_ = j.exception();
        cancel();
    }
    if (running_ == 0) idle_.set();
    offer_slots();
}

// Wakes as many waiting start() calls as there are free slots, keeping a slot
// for each so that a start() arriving meanwhile cannot take it.
void task_group::offer_slots() {
    while (!waiters_.empty() && (cancelled_ || error_ || running_ + promised_ < limit_)) {
        ++promised_;
        waiters_.pop_front()->fire();
    }
}

task<void> task_group::join() {
    while (running_ > 0) co_await idle_.wait();
    if (error_) std::rethrow_exception(error_);
}

void task_group::cancel() {
    cancelled_ = true;
    for (auto& j : members_) j.cancel();
    offer_slots();
}

void task_group::set_limit(std::size_t limit) {
    grow(std::max<std::size_t>(limit, 1));
    offer_slots();
}

}  // namespace conc
