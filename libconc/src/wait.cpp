#include "conc/wait.hpp"

namespace conc::detail {

multi_wait::multi_wait(loop& l, std::vector<job_base*> jobs, wait_policy p,
                       std::optional<clock::time_point> deadline)
    : jobs_(std::move(jobs)), policy_(p) {
    lp = &l;
    if (deadline) {
        timer_.emplace();
        timer_->lp = &l;
        timer_->parent = this;
        timer_->deadline = *deadline;
        expired_ = *deadline <= clock::now();
    }
}

bool multi_wait::satisfied() const noexcept {
    std::size_t done = 0;
    for (auto* j : jobs_) {
        if (!j->done) continue;
        ++done;
        if (policy_ == wait_policy::first_completed) return true;
        if (policy_ == wait_policy::first_exception && j->error && !j->was_cancelled) return true;
    }
    return done == jobs_.size();
}

bool multi_wait::await_suspend(std::coroutine_handle<> h) {
    if (!loop_access::begin_wait(*lp, *this, h)) return false;
    subs_ = std::make_unique<sub[]>(jobs_.size());
    done_count_ = 0;
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
        if (jobs_[i]->done) {
            ++done_count_;
            continue;
        }
        subs_[i].lp = lp;
        subs_[i].parent = this;
        subs_[i].job = jobs_[i];
        jobs_[i]->completion.push_back(&subs_[i]);
    }
    if (timer_) loop_access::add_timer(*lp, *timer_);
    return true;
}

void multi_wait::detach() noexcept {
    if (subs_)
        for (std::size_t i = 0; i < jobs_.size(); ++i) subs_[i].detach();
    if (timer_) timer_->detach();
    waiter::detach();
}

void multi_wait::complete() {
    detach();
    loop_access::wake(*lp, *this);
}

// Each finishing job is looked at once, not the whole set again: gather()
// over n tasks stays O(n).
void multi_wait::job_done(job_base& j) {
    ++done_count_;
    bool now = done_count_ == jobs_.size() || policy_ == wait_policy::first_completed ||
               (policy_ == wait_policy::first_exception && j.error && !j.was_cancelled);
    if (now) complete();
}

void multi_wait::sub::fire() { parent->job_done(*job); }

void multi_wait::deadline_timer::fire() {
    parent->expired_ = true;
    parent->complete();
}

}  // namespace conc::detail
