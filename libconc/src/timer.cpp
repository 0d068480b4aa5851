#include "conc/timer.hpp"

#include <stdexcept>

#include "conc/error.hpp"

namespace conc {

timer::~timer() {
    cancel();
    if (thread_.joinable()) thread_.join();
}

void timer::start() {
    std::lock_guard lk(mu_);
    if (started_) throw std::logic_error("conc::timer: started twice");
    started_ = true;
    thread_ = std::thread([this] { body(); });
}

void timer::cancel() noexcept {
    {
        std::lock_guard lk(mu_);
        cancelled_ = true;
    }
    cv_.notify_all();
}

void timer::body() {
    std::unique_lock lk(mu_);
    bool cancelled = cv_.wait_for(lk, interval_, [this] { return cancelled_; });
    if (!cancelled) {
        fired_ = true;
        lk.unlock();
        try {
            fn_();
        } catch (...) {
            detail::report_callback_error(std::current_exception());
        }
        lk.lock();
    }
    ended_ = true;
}

void timer::join() {
    if (thread_.get_id() == std::this_thread::get_id())
        throw std::logic_error("conc::timer: join from the timer's own function");
    if (thread_.joinable()) thread_.join();
}

bool timer::is_alive() const {
    std::lock_guard lk(mu_);
    return started_ && !ended_;
}

bool timer::fired() const {
    std::lock_guard lk(mu_);
    return fired_;
}

}  // namespace conc
