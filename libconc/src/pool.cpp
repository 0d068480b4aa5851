#include "conc/pool.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "conc/error.hpp"
#include "conc/fd.hpp"
#include "conc/process.hpp"

namespace conc {

namespace detail {

static thread_local bool tls_pool_thread = false;

bool on_pool_thread() noexcept { return tls_pool_thread; }

wait_slot& slot_for(const void* state) noexcept {
    static wait_slot slots[64];
    auto a = reinterpret_cast<std::uintptr_t>(state);
    return slots[(a >> 6 ^ a >> 12) % 64];
}

unsigned online_cpus() noexcept {
    long n = conc::online_cpus();
    if (n < 1) n = std::thread::hardware_concurrency();
    return n < 1 ? 1u : unsigned(n);
}

}  // namespace detail

// ---------------------------------------------------------------- thread_pool

namespace {

// The idle threads' futex word (private to the process).
void futex_wait(std::atomic<std::uint32_t>& w, std::uint32_t seen) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&w), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& w, int n) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&w), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

}  // namespace

thread_pool::thread_pool(unsigned n) {
    if (n == 0) n = detail::online_cpus();
    threads_.reserve(n);
    try {
        for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { worker(); });
    } catch (...) {
        shutdown(true, true);
        throw;
    }
}

thread_pool::~thread_pool() { shutdown(true, false); }

queue_snapshot thread_pool::queue() const {
    std::lock_guard lk(m_);
    return queue_snapshot(queued_);
}

void thread_pool::enqueue(detail::state_base* s) {
    bool wake;
    {
        std::unique_lock lk(m_);
        if (stopping_) {
            lk.unlock();
            s->release();
            throw std::runtime_error("thread_pool: submit after shutdown");
        }
        s->next = nullptr;
        if (tail_)
            tail_->next = s;
        else
            head_ = s;
        tail_ = s;
        ++queued_;
        // One wake a sleeping thread not yet woken: a submit per task must
        // not cost a system call while the threads keep up.
        wake = idle_ > waking_;
        if (wake) ++waking_;
    }
    if (wake) {
        wake_.fetch_add(1, std::memory_order_release);
        futex_wake(wake_, 1);
    }
}

void thread_pool::worker() {
    detail::tls_pool_thread = true;
    for (;;) {
        detail::state_base* t;
        {
            std::unique_lock lk(m_);
            while (!head_ && !stopping_) {
                // Sleeps on a futex word, not a condition variable: glibc's
                // pthread_cond_signal may itself block while waiters change
                // groups, which a submit per task made the bench's hot spot.
                ++idle_;
                auto seen = wake_.load(std::memory_order_acquire);
                lk.unlock();
                futex_wait(wake_, seen);  // a submit after the unlock changed wake_ first
                lk.lock();
                --idle_;
                if (waking_) --waking_;
            }
            if (!head_) return;  // stopping and drained
            t = head_;
            head_ = t->next;
            if (!head_) tail_ = nullptr;
            --queued_;
        }
        if (t->claim()) t->run();  // else cancelled, or run inline by a waiter
        t->release();
    }
}

void thread_pool::shutdown(bool wait, bool cancel_pending) {
    detail::state_base* cancelled = nullptr;
    {
        std::lock_guard lk(m_);
        stopping_ = true;
        if (cancel_pending) {
            cancelled = head_;
            head_ = tail_ = nullptr;
            queued_ = 0;
        }
    }
    wake_.fetch_add(1, std::memory_order_release);
    futex_wake(wake_, INT_MAX);
    while (cancelled) {
        auto* next = cancelled->next;
        if (cancelled->claim()) cancelled->cancel_now();
        cancelled->release();
        cancelled = next;
    }
    if (!wait) return;
    std::lock_guard jl(join_m_);
    auto self = std::this_thread::get_id();
    for (auto& t : threads_)
        if (t.joinable() && t.get_id() != self) t.join();
}

// ---------------------------------------------------------------- fork_pool

namespace {

// Every fd a fork_pool holds in the parent.  A child closes them all after
// fork, so no worker keeps another worker's (or another pool's) pipe open.
// The lock is held from pipe creation through fork.
std::mutex registry_m;
std::set<int> registry;

void unregister_fd(unique_fd& fd) {
    if (!fd) return;
    std::lock_guard lk(registry_m);
    registry.erase(fd.get());
    fd.reset();
}

// A worker whose fn calls exit(), itself or in a library, must leave as _exit
// does for everything it inherited: exit() runs the exit handlers and static
// destructors of the parent's program, on copies of objects that other threads
// of the parent were using at the fork.  The wait slots' condition variables
// are one: pthread_cond_destroy waits for waiters that exist only in the
// parent, for ever.  A static fork_pool of the program's would be another.
//
// Exit handlers run in the reverse order of their registration, and static
// destructors are exit handlers too (__cxa_atexit), so a handler registered in
// the child right after fork runs before every one the parent registered.  It
// does what the worker wants of exit(), flush stdio, and ends the process with
// exit's status through _exit; the parent then reports "worker exited with
// status N".  Statics the worker itself constructs later are destroyed first,
// as exit() would.  on_exit(3) hands the handler exit's status; where it is
// missing (not glibc), atexit's handler cannot know it and the worker ends
// with status 1.
#ifdef __GLIBC__
void end_worker_at_exit(int status, void*) {
    std::fflush(nullptr);
    ::_exit(status);
}
void intercept_exit() noexcept { ::on_exit(end_worker_at_exit, nullptr); }
#else
void end_worker_at_exit() {
    std::fflush(nullptr);
    ::_exit(1);
}
void intercept_exit() noexcept { std::atexit(end_worker_at_exit); }
#endif

// The worker process: frames in on `in`, frames out on `out`, until end of file.
[[noreturn]] void worker_main(const fork_pool::function& fn, int in, int out) {
    try {
        std::vector<char> buf;
        std::string res, scratch;
        for (;;) {
            std::uint64_t len;
            if (read_full(in, &len, sizeof len) != sizeof len) break;
            buf.resize(len);
            if (read_full(in, buf.data(), len) != len) break;
            const char* p = buf.data();
            auto count = detail::wire_load<std::uint32_t>(p);
            auto call = reinterpret_cast<detail::worker_call>(
                std::uintptr_t(detail::wire_load<std::uint64_t>(p + 4)));
            auto fn_size = detail::wire_load<std::uint32_t>(p + 12);
            const char* fn_bytes = p + 16;
            p += 16 + fn_size;
            std::size_t used = detail::wire_length_size;
            // Raw writes into a buffer grown by doubling: per-item appends cost more than fn here.
            auto emit = [&](bool ok, std::string_view r) {
                std::size_t need = used + detail::wire_result_header + r.size();
                if (need > res.size()) res.resize(std::max(need, 2 * res.size()));
                detail::wire_put_result(res.data() + used, ok, r);
                used = need;
            };
            if (res.size() < 4096) res.resize(4096);
            for (std::uint32_t i = 0; i < count; ++i) {
                auto n = detail::wire_load<std::uint32_t>(p);
                p += detail::wire_item_header;
                std::string_view item(p, n);
                p += n;
                try {
                    if (call) {
                        call(fn_bytes, item, scratch);
                        emit(true, scratch);
                    } else {
                        emit(true, fn(item));
                    }
                } catch (const std::exception& e) {
                    emit(false, e.what());
                } catch (...) {
                    emit(false, "unknown exception");
                }
            }
            detail::wire_store(res.data(), std::uint64_t(used - detail::wire_length_size));
            write_all(out, res.data(), used);
        }
    } catch (...) {
        std::fflush(nullptr);
        ::_exit(70);
    }
    std::fflush(nullptr);
    ::_exit(0);
}

}  // namespace

namespace detail {

std::exception_ptr bad_reply() { return std::make_exception_ptr(std::runtime_error("fork_pool: bad reply")); }

std::exception_ptr remote_failure(const char* what, std::size_t size) {
    return std::make_exception_ptr(remote_error(std::string(what, size)));
}

}  // namespace detail

using detail::fork_job;

struct fork_pool::impl {
    struct worker {
        pid_t pid = -1;
        unique_fd task_w;    // parent writes tasks
        unique_fd result_r;  // parent reads results
        std::deque<std::unique_ptr<fork_job>> outstanding;  // sent, not yet answered, in order
        std::size_t write_idx = 0, write_off = 0;            // next byte of outstanding to send
        std::vector<char> in;
        std::size_t in_len = 0;
        unsigned sent = 0;
        bool alive() const { return pid > 0; }
        bool wants_write() const { return write_idx < outstanding.size(); }
    };

    function fn;
    fork_pool_options opt;
    sigset_t child_mask;
    std::vector<worker> workers;

    std::mutex m;  // guards the next five
    std::deque<std::unique_ptr<fork_job>> submitted;
    bool closed = false, terminating = false, wake_sent = false;
    bool ending = false;  // the destructor: close if every task is done, else terminate
    bool running = true;  // the I/O thread has not finished

    pipe_pair wake_pipe;   // a self-pipe: submit(), close() and terminate() wake the I/O thread
    std::thread io;
    std::mutex join_m;

    // I/O thread only
    std::deque<std::unique_ptr<fork_job>> pending;
    // pending.size() for queue(); it grows under m as jobs move in from
    // submitted, so submitted.size() + pending_size never misses a job.
    std::atomic<std::size_t> pending_size{0};

    impl(function f, unsigned n, fork_pool_options o) : fn(std::move(f)), opt(o) {
        if (n == 0) n = detail::online_cpus();
        if (opt.tasks_ahead == 0) opt.tasks_ahead = 1;
        ::pthread_sigmask(SIG_SETMASK, nullptr, &child_mask);
        {
            std::lock_guard lk(registry_m);
            wake_pipe = make_self_pipe();
            registry.insert(wake_pipe.read.get());
            registry.insert(wake_pipe.write.get());
        }
        workers.resize(n);
        try {
            for (auto& w : workers) spawn(w);
        } catch (...) {
            kill_all();
            unregister_fd(wake_pipe.read);
            unregister_fd(wake_pipe.write);
            throw;
        }
        // The I/O thread blocks every signal: it must not take the process's
        // signals, and a write to a dead worker gives EPIPE, not SIGPIPE.
        sigset_t all, old;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &old);
        try {
            io = std::thread([this] { io_main(); });
        } catch (...) {
            ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
            kill_all();
            unregister_fd(wake_pipe.read);
            unregister_fd(wake_pipe.write);
            throw;
        }
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }

    void spawn(worker& w) {
        std::fflush(nullptr);  // or the child would flush the parent's buffered output again
        std::unique_lock lk(registry_m);
        auto tp = make_pipe();
        auto rp = make_pipe();
        int fds[4] = {tp.read.get(), tp.write.get(), rp.read.get(), rp.write.get()};
        for (int fd : fds) registry.insert(fd);
        pid_t pid = ::fork();
        if (pid == 0) {
            ::pthread_sigmask(SIG_SETMASK, &child_mask, nullptr);
            for (int fd : registry)
                if (fd != tp.read.get() && fd != rp.write.get()) ::close(fd);
            intercept_exit();
            worker_main(fn, tp.read.get(), rp.write.get());
        }
        int err = errno;
        registry.erase(fds[0]);
        registry.erase(fds[3]);
        if (pid < 0) {
            registry.erase(fds[1]);
            registry.erase(fds[2]);
            throw sys_error(err, "fork");
        }
        lk.unlock();
        w.pid = pid;
        w.task_w = std::move(tp.write);
        w.result_r = std::move(rp.read);
        set_nonblocking(w.task_w.get());
        set_nonblocking(w.result_r.get());
        // Room for several chunks each way: fewer wake-ups and polls a chunk.
        // Best effort (the user's pipe-size limit may refuse it).
        ::fcntl(w.task_w.get(), F_SETPIPE_SZ, 1 << 20);
        ::fcntl(w.result_r.get(), F_SETPIPE_SZ, 1 << 20);
        w.outstanding.clear();
        w.write_idx = w.write_off = 0;
        w.in_len = 0;
        w.sent = 0;
    }

    // Closes our ends and reaps; returns how the worker ended (not known if
    // it could not be reaped).
    exit_status retire(worker& w, bool kill_first) {
        if (kill_first) ::kill(w.pid, SIGKILL);
        unregister_fd(w.task_w);
        exit_status st;
        try {
            st = reap(w.pid);
        } catch (const sys_error&) {   // not our child any more: nothing to wait for
        }
        unregister_fd(w.result_r);
        w.pid = -1;
        return st;
    }

    void kill_all() {
        for (auto& w : workers)
            if (w.alive()) retire(w, true);
    }

    void wake() {
        // caller holds m
        if (wake_sent || !running) return;
        wake_sent = true;
        notify_self_pipe(wake_pipe.write.get());
    }

    void submit(std::unique_ptr<fork_job> job) {
        std::lock_guard lk(m);
        if (closed || terminating) throw std::runtime_error("fork_pool: pool not running");
        submitted.push_back(std::move(job));
        wake();
    }

    // Gives each live worker up to tasks_ahead jobs, round robin.
    void dispatch() {
        bool progress = true;
        while (progress && !pending.empty()) {
            progress = false;
            for (auto& w : workers) {
                if (pending.empty()) break;
                if (!w.alive() || w.outstanding.size() >= opt.tasks_ahead) continue;
                if (opt.maxtasksperchild && w.sent >= opt.maxtasksperchild) continue;
                auto job = std::move(pending.front());
                pending.pop_front();
                pending_size.fetch_sub(1);
                progress = true;
                if (!job->claim()) continue;  // cancelled before it was sent
                w.outstanding.push_back(std::move(job));
                ++w.sent;
            }
        }
        for (auto& w : workers)
            if (w.alive() && w.wants_write()) flush(w);
    }

    void flush(worker& w) {
        while (w.wants_write()) {
            auto& job = *w.outstanding[w.write_idx];
            std::size_t size = job.frame_size();
            long n = write_some(w.task_w.get(), job.frame_data() + w.write_off, size - w.write_off);
            if (n < 0) return;  // EAGAIN, or EPIPE: the worker died, its result pipe will say so
            w.write_off += std::size_t(n);
            if (w.write_off == size) {
                ++w.write_idx;
                w.write_off = 0;
            }
        }
    }

    // Reads what the worker has written; false if it is gone.
    bool read_results(worker& w) {
        for (;;) {
            constexpr std::size_t slack = fork_job::reply_slack;
            if (w.in.size() - w.in_len < 65536 + slack) w.in.resize(w.in_len + 65536 + slack);
            std::size_t room = w.in.size() - w.in_len - slack;
            long n = read_some(w.result_r.get(), w.in.data() + w.in_len, room);
            if (n < 0) break;
            if (n == 0) return false;
            w.in_len += std::size_t(n);
            std::size_t off = 0;
            while (w.in_len - off >= detail::wire_length_size) {
                auto len = detail::wire_load<std::uint64_t>(w.in.data() + off);
                if (w.in_len - off - detail::wire_length_size < len) break;
                if (!w.outstanding.empty()) {
                    auto job = std::move(w.outstanding.front());
                    w.outstanding.pop_front();
                    --w.write_idx;
                    job->complete(w.in.data() + off + detail::wire_length_size, len);
                }
                off += detail::wire_length_size + len;
            }
            if (off) {
                std::memmove(w.in.data(), w.in.data() + off, w.in_len - off);
                w.in_len -= off;
            }
            if (std::size_t(n) < room) break;  // drained
        }
        if (opt.maxtasksperchild && w.sent >= opt.maxtasksperchild && w.outstanding.empty()) {
            retire(w, false);  // closing its task pipe makes it exit
            spawn(w);
        }
        return true;
    }

    void on_death(worker& w) {
        exit_status st = retire(w, true);
        if (!w.outstanding.empty()) {
            std::string why = st.exited() ? "worker exited with status " + std::to_string(st.code())
                                          : "worker died: " + st.describe();
            w.outstanding.front()->fail(std::make_exception_ptr(worker_died(why)));
            // The others were never started: the worker takes its tasks in order.
            for (std::size_t i = w.outstanding.size(); i-- > 1;) {
                pending.push_front(std::move(w.outstanding[i]));
                pending_size.fetch_add(1);
            }
            w.outstanding.clear();
        }
        spawn(w);
    }

    // Every task submitted so far is done (I/O thread; the caller holds m, so
    // submitted cannot grow).  Between two steps of the I/O thread, a job
    // whose future is finished is in no worker's outstanding any more, so a
    // caller that saw every future done finds them all empty here.
    bool all_done() const {
        for (auto& w : workers)
            if (!w.outstanding.empty()) return false;
        for (auto& j : pending)
            if (!j->done()) return false;
        for (auto& j : submitted)
            if (!j->done()) return false;
        return true;
    }

    void fail_all(std::exception_ptr e) {
        for (auto& w : workers) {
            for (auto& j : w.outstanding) j->fail(e);
            w.outstanding.clear();
        }
        for (auto& j : pending)
            if (j->claim()) j->fail(e);
        pending.clear();
        std::deque<std::unique_ptr<fork_job>> rest;
        {
            std::lock_guard lk(m);
            rest.swap(submitted);
            pending_size.store(0);
        }
        for (auto& j : rest)
            if (j->claim()) j->fail(e);
    }

    void io_main() {
        try {
            io_loop();
        } catch (...) {
            auto e = std::current_exception();
            {
                std::lock_guard lk(m);
                terminating = true;
            }
            kill_all();
            fail_all(e);
        }
        std::lock_guard lk(m);
        running = false;
        unregister_fd(wake_pipe.read);
        unregister_fd(wake_pipe.write);
    }

    void io_loop() {
        std::vector<pollfd> pfds;
        for (;;) {
            bool closing, term;
            {
                std::lock_guard lk(m);
                pending_size.fetch_add(submitted.size());
                for (auto& j : submitted) pending.push_back(std::move(j));
                submitted.clear();
                closing = closed;
                term = terminating;
                wake_sent = false;
                // Leaving "with Pool() as p:" when the work is all done must
                // not kill workers that still hold output in their stdio.
                if (ending && !term) {
                    if (all_done())
                        closing = closed = true;
                    else
                        term = terminating = true;
                }
            }
            if (term) {
                kill_all();
                fail_all(std::make_exception_ptr(std::runtime_error("fork_pool terminated")));
                return;
            }
            dispatch();
            if (closing && pending.empty()) {
                bool idle = true;
                for (auto& w : workers) idle = idle && w.outstanding.empty();
                if (idle) {
                    for (auto& w : workers) unregister_fd(w.task_w);  // all exit together
                    for (auto& w : workers)
                        if (w.alive()) retire(w, false);
                    return;
                }
            }
            pfds.clear();
            pfds.push_back({wake_pipe.read.get(), POLLIN, 0});
            for (auto& w : workers) {
                pfds.push_back({w.result_r.get(), POLLIN, 0});
                pfds.push_back({w.wants_write() ? w.task_w.get() : -1, POLLOUT, 0});
            }
            if (::poll(pfds.data(), pfds.size(), -1) < 0) {
                if (errno == EINTR) continue;
                throw sys_error("poll");
            }
            if (pfds[0].revents) drain_self_pipe(wake_pipe.read.get());
            for (std::size_t i = 0; i < workers.size(); ++i) {
                auto& w = workers[i];
                if (!w.alive()) continue;
                if (pfds[1 + 2 * i].revents && !read_results(w)) {
                    on_death(w);
                    continue;
                }
                if (pfds[2 + 2 * i].revents && w.task_w) flush(w);
            }
        }
    }
};

fork_pool::fork_pool(unsigned n, fork_pool_options opt)
    : impl_(std::make_unique<impl>(function{}, n, opt)) {}

fork_pool::fork_pool(function fn, unsigned n, fork_pool_options opt)
    : impl_(std::make_unique<impl>(std::move(fn), n, opt)) {}

fork_pool::~fork_pool() {
    {
        std::lock_guard lk(impl_->m);
        impl_->ending = true;
        impl_->wake();
    }
    std::lock_guard jl(impl_->join_m);
    if (impl_->io.joinable()) impl_->io.join();
}

unsigned fork_pool::size() const noexcept { return unsigned(impl_->workers.size()); }

queue_snapshot fork_pool::queue() const {
    std::lock_guard lk(impl_->m);
    return queue_snapshot(impl_->submitted.size() + impl_->pending_size.load());
}

void fork_pool::require_function() const {
    if (!impl_->fn) throw std::logic_error("fork_pool: no function given at construction for byte-string calls");
}

future<std::string> fork_pool::apply_async(std::string_view item) {
    require_function();
    auto job = std::make_unique<detail::one_job<std::string, detail::bytes_reply>>();
    job->frame = detail::wire_request(item);
    job->count = 1;
    auto f = job->result.get_future();
    submit_job(std::move(job));
    return f;
}

void fork_pool::submit_job(std::unique_ptr<fork_job> job) {
    if (job->frame_size() < detail::wire_request_header) throw std::invalid_argument("fork_pool: frame too short");
    detail::wire_finish_request(job->frame_data(), job->frame_size(), job->count);
    impl_->submit(std::move(job));
}

void fork_pool::close() {
    std::lock_guard lk(impl_->m);
    impl_->closed = true;
    impl_->wake();
}

void fork_pool::terminate() {
    std::lock_guard lk(impl_->m);
    impl_->terminating = true;
    impl_->wake();
}

void fork_pool::join() {
    {
        std::lock_guard lk(impl_->m);
        if (!impl_->closed && !impl_->terminating)
            throw std::logic_error("fork_pool::join: call close() or terminate() first");
    }
    std::lock_guard jl(impl_->join_m);
    if (impl_->io.joinable()) impl_->io.join();
}

}  // namespace conc
