#include "conc/signals.hpp"

#include <signal.h>

#include <algorithm>

namespace conc {

signal_set::signal_set(loop& l, std::vector<int> sigs) : lp_(l), sigs_(std::move(sigs)) {
    for (int s : sigs_) lp_.watch_signal(s);
    lp_.add_signal_set(this);
}

signal_set::~signal_set() {
    while (auto* w = waiters_.pop_front()) {
        --lp_.signal_waiters_;
        w->lp = nullptr;
    }
    lp_.remove_signal_set(this);
    for (int s : sigs_) lp_.unwatch_signal(s);
}

bool signal_set::contains(int sig) const noexcept {
    return std::find(sigs_.begin(), sigs_.end(), sig) != sigs_.end();
}

std::optional<int> signal_set::try_next() noexcept {
    if (pending_.empty()) return std::nullopt;
    int s = pending_.front();
    pending_.pop_front();
    return s;
}

void signal_set::deliver(int sig) {
    pending_.push_back(sig);
    if (auto* w = waiters_.pop_front()) w->fire();
}

void ignore_sigpipe() {
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    if (::sigaction(SIGPIPE, &sa, nullptr) < 0) throw sys_error("sigaction SIGPIPE");
}

}  // namespace conc
