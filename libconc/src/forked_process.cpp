#include "conc/forked_process.hpp"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "after_fork.hpp"

namespace conc {

namespace {

std::atomic<unsigned> process_count{0};

// The child: what after_fork.hpp says, then the function, then _exit.
[[noreturn]] void child_main(detail::forked_body& body, const std::string& name, bool daemon, pid_t parent,
                             const sigset_t& mask) {
    detail::reset_caught_signals();
    detail::forget_loops_after_fork();
    if (daemon) {
        int e = detail::set_parent_death_signal(SIGKILL, parent);
        if (e == ESRCH) ::raise(SIGKILL);   // the parent is gone already: as if it had just died
        if (e) {
            std::fprintf(stderr, "libconc: process %s: prctl: %s\n", name.c_str(), std::strerror(e));
            ::_exit(1);
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
    int code = 0;
    try {
        body.run();
    } catch (const system_exit& e) {
        code = e.code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "libconc: process %s: %s\n", name.c_str(), e.what());
        code = 1;
    } catch (...) {
        std::fprintf(stderr, "libconc: process %s: unknown exception\n", name.c_str());
        code = 1;
    }
    std::fflush(nullptr);
    ::_exit(code & 0xff);
}

// A descriptor that poll(2) finds readable once the child has ended; empty
// where the kernel has no pidfd (join with a timeout then polls waitpid).
unique_fd open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    long fd = ::syscall(SYS_pidfd_open, pid, 0);   // close-on-exec always
    if (fd >= 0) return unique_fd(int(fd));
#else
    (void)pid;
#endif
    return {};
}

std::optional<int> python_exitcode(const exit_status& s) {
    if (s.signaled()) return -s.signal();
    if (s.exited()) return s.code();
    return std::nullopt;
}

}  // namespace

std::string forked_process::default_name() { return "Process-" + std::to_string(++process_count); }

forked_process& forked_process::operator=(forked_process&& o) noexcept {
    if (this != &o) {
        finish();
        body_ = std::move(o.body_);
        name_ = std::move(o.name_);
        daemon_ = o.daemon_;
        proc_ = std::move(o.proc_);
        pidfd_ = std::move(o.pidfd_);
    }
    return *this;
}

forked_process::~forked_process() { finish(); }

void forked_process::finish() noexcept {
    if (!proc_.running()) return;
    try {
        if (daemon_) proc_.kill(SIGKILL);
        proc_.wait();
    } catch (const sys_error&) {   // ECHILD: reaped by someone else; nothing to wait for
        proc_.set_reaped(exit_status());
    }
}

forked_process& forked_process::daemon(bool on) {
    if (proc_.pid() > 0) throw std::logic_error("conc::forked_process: daemon set after start");
    daemon_ = on;
    return *this;
}

void forked_process::require_started(const char* what) const {
    if (proc_.pid() <= 0) throw std::logic_error(std::string("conc::forked_process: ") + what + " before start");
}

void forked_process::start() {
    if (proc_.pid() > 0) throw std::logic_error("conc::forked_process: started twice");
    if (!body_) throw std::logic_error("conc::forked_process: no function (moved from)");
    std::fflush(nullptr);   // or the child would write the parent's buffered output again
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);   // no parent's handler may run in the child
    pid_t parent = ::getpid();
    detail::lock_connections();
    pid_t pid = ::fork();
    if (pid == 0) {
        detail::close_connections_outside(dynamic_cast<const void*>(body_.get()), body_->size());
        detail::unlock_connections();
        child_main(*body_, name_, daemon_, parent, old);
    }
    int err = errno;
    detail::unlock_connections();
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) throw sys_error(err, "fork process '" + name_ + "'");
    proc_ = process(pid);
    pidfd_ = open_pidfd(pid);
    body_.reset();   // the parent's copies of the function and its arguments
}

void forked_process::join() {
    require_started("join");
    proc_.wait();
}

bool forked_process::join_until(clock::time_point deadline) {
    require_started("join");
    using namespace std::chrono_literals;
    clock::duration step = 1ms;   // without a pidfd: look again and again, less and less often
    exit_status s;
    while (!proc_.try_wait(s)) {
        auto left = deadline - clock::now();
        if (left <= clock::duration::zero()) return false;
        if (pidfd_) {
            auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
            pollfd p{pidfd_.get(), POLLIN, 0};
            if (::poll(&p, 1, int(std::min<long long>(ms, INT_MAX))) < 0 && errno != EINTR)
                throw sys_error("poll on a pidfd");
        } else {
            auto nap = std::min(step, left);
            struct timespec ts{};
            ts.tv_nsec = long(std::chrono::duration_cast<std::chrono::nanoseconds>(nap).count());
            ::nanosleep(&ts, nullptr);
            step = std::min<clock::duration>(step * 2, 50ms);
        }
    }
    return true;
}

task<int> forked_process::async_join() {
    require_started("join");
    if (proc_.running()) {
        exit_status s = co_await loop::current().child_exit(proc_.pid());
        if (proc_.running()) proc_.set_reaped(s);   // unless another task reaped it meanwhile
    }
    co_return *python_exitcode(proc_.status());
}

bool forked_process::is_alive() {
    if (proc_.pid() <= 0) return false;
    exit_status s;
    return !proc_.try_wait(s);
}

std::optional<int> forked_process::exitcode() {
    if (proc_.pid() <= 0) return std::nullopt;
    exit_status s;
    if (!proc_.try_wait(s)) return std::nullopt;
    return python_exitcode(s);
}

void forked_process::terminate() {
    require_started("terminate");
    proc_.kill(SIGTERM);
}

void forked_process::kill() {
    require_started("kill");
    proc_.kill(SIGKILL);
}

}  // namespace conc
