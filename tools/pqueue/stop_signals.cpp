#include "stop_signals.hpp"

#include <signal.h>
#include <unistd.h>

#include "conc/process.hpp"

namespace pqueue::stop_signals {

namespace {

constexpr int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

volatile sig_atomic_t exit_at_once = 0;  // 1 inside an abandonable stretch
volatile sig_atomic_t recorded = 0;

sigset_t handled;   // the stop signals pqueue catches (not those ignored at start)

void on_stop_signal(int sig) {
    if (exit_at_once) ::_exit(exit_code(sig));
    recorded = sig;
}

void set_blocked(bool blocked) noexcept { ::sigprocmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &handled, nullptr); }

}  // namespace

void install() noexcept {
    sigemptyset(&handled);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = 0;   // no SA_RESTART: a blocked write(2) returns EINTR
    for (int sig : stop_signals) {
        if (conc::ignored_at_start(sig)) continue;
        sigaddset(&handled, sig);
    }
    set_blocked(true);
    for (int sig : stop_signals)
        if (sigismember(&handled, sig)) ::sigaction(sig, &sa, nullptr);
}

int pending() noexcept { return recorded; }

abandonable::abandonable() noexcept {
    exit_at_once = 1;
    if (recorded) ::_exit(exit_code(recorded));
    set_blocked(false);   // a signal that came while blocked is delivered here, and exits
}

abandonable::~abandonable() {
    exit_at_once = 0;     // first: a signal from here on is recorded, and the caller sees pending()
    set_blocked(true);
}

deliverable::deliverable() noexcept { set_blocked(false); }

deliverable::~deliverable() { set_blocked(true); }

}  // namespace pqueue::stop_signals
