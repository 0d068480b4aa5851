#include "supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <vector>

#include "conc/signals.hpp"
#include "messages.hpp"

namespace cli {

void fill_standard_fds() noexcept {
    for (int fd = 0; fd <= 2; ++fd)
        if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) ::open("/dev/null", O_RDONLY);   // takes the lowest: fd
}

int exit_tally::code() const noexcept {
    if (signal) return exit_signal_base + signal;
    if (reader_gone) return exit_signal_base + SIGPIPE;
    if (internal_error) return exit_internal;
    if (cannot_run) return cannot_run;
    if (timed_out) return exit_timeout;
    if (decided) return *decided;
    return failed > 0 ? exit_failed : exit_ok;
}

std::string exit_tally::summary(const char* noun) const {
    if (code() != exit_failed || failed == 0) return {};
    return std::to_string(failed) + " of " + std::to_string(total ? total : finished) + " " + noun + " failed";
}

std::string exit_tally::stdout_failed(const conc::writer& w) {
    if (w.status() == conc::writer::state::reader_gone) {
        reader_gone = true;
        return {};
    }
    internal_error = true;
    return w.error_message();
}

supervisor::supervisor(conc::loop& lp, std::chrono::nanoseconds grace) : lp_(lp), grace_(grace) {
    conc::ignore_sigpipe();
    watcher_ = lp_.spawn(watch());
}

supervisor::~supervisor() {
    watcher_.cancel();
    killer_.cancel();
}

void supervisor::adopt(conc::child& c) {
    running_.insert(&c);
    if (stop_sig_) c.signal(stop_sig_);
}

void supervisor::release(conc::child& c) {
    running_.erase(&c);
    if (stop_sig_ && !c.gone()) stop(c);   // its leader is gone, not yet its group
}

void supervisor::adoption::stop_after(std::chrono::nanoseconds d, bool& fired) {
    auto watch = [](supervisor* s, conc::child* c, std::chrono::nanoseconds d, bool* fired) -> conc::task<void> {
        co_await conc::loop::current().sleep_for(d);
        *fired = true;
        s->stop(*c);   // outlives the scope: it holds the group, not c
    };
    watch_ = conc::loop::current().spawn(watch(&s_, &c_, d, &fired));
}

void supervisor::stop(conc::child& c) {
    std::erase_if(stopping_groups_, [](const conc::job<void>& j) { return j.done(); });
    stopping_groups_.push_back(lp_.spawn(c.stop(grace_)));
}

conc::task<void> supervisor::wait_stopped() {
    for (auto& j : stopping_groups_) co_await j;
    stopping_groups_.clear();
}

void supervisor::stop_all(int sig) {
    stopping_ = true;
    stop_sig_ = sig;
    for (conc::child* c : running_) c->signal(sig);
    if (sig != SIGKILL && !killer_.valid()) killer_ = lp_.spawn(kill_after_grace());
}

conc::task<void> supervisor::kill_after_grace() {
    co_await lp_.sleep_for(grace_);
    stop_all(SIGKILL);
}

conc::task<void> supervisor::watch() {
    std::vector<int> sigs;
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        if (!conc::ignored_at_start(s)) sigs.push_back(s);
    if (sigs.empty()) co_return;
    conc::signal_set set(lp_, sigs);
    for (;;) {
        int sig = co_await set.next();
        if (signal_) {   // a second signal: no more grace
            stop_all(SIGKILL);
            continue;
        }
        signal_ = sig;
        if (on_stop_) on_stop_(sig);
        stop_all(sig);
    }
}

}  // namespace cli
