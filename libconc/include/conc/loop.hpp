// conc/loop.hpp: the poll(2) event loop with C++20 coroutines.
//
// What asyncio is to Python: one thread runs many tasks, each suspended at a
// co_await until the loop sees what it waits for (an fd ready, a timer, a
// child's exit, a signal, another task).  Everything here runs on the loop's
// thread; only loop::post() may be called from elsewhere.
//
//     conc::loop lp;
//     int n = lp.run([]() -> conc::task<int> {
//         auto j = conc::loop::current().spawn(work(1));
//         co_await conc::loop::current().sleep_for(std::chrono::milliseconds(10));
//         co_return co_await j;
//     }());
//
// Waiting on several jobs, gather and timeouts are in conc/wait.hpp; the
// coroutine-side event, semaphore and channel in conc/co_sync.hpp.
//
// Cancellation (job::cancel) is delivered at the task's next suspension point
// as a conc::cancelled_error thrown out of the co_await.
#pragma once
#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "conc/fd.hpp"
#include "conc/process.hpp"
#include "conc/task.hpp"

namespace conc {

using clock = std::chrono::steady_clock;

struct cancelled_error : std::exception {
    const char* what() const noexcept override { return "cancelled"; }
};

class loop;

namespace detail {

struct job_base;
struct waiter_list;
struct loop_access;

// One suspended wait.  The loop calls fire() when what it waits for happens;
// by default that schedules the coroutine h.  detach() unregisters it from
// whatever it waits on (for cancellation).
struct waiter {
    std::coroutine_handle<> h;
    loop* lp = nullptr;
    job_base* owner = nullptr;
    waiter_list* list = nullptr;   // set while linked into a waiter_list
    waiter* prev = nullptr;
    waiter* next = nullptr;
    bool cancelled = false;

    waiter() = default;
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    virtual ~waiter() = default;
    virtual void fire();
    virtual void detach() noexcept;
    void throw_if_cancelled() const {
        if (cancelled) throw cancelled_error();
    }
};

// Intrusive FIFO of waiters: O(1) push, pop and removal, no allocation.
struct waiter_list {
    waiter* head = nullptr;
    waiter* tail = nullptr;
    bool empty() const noexcept { return !head; }
    void push_back(waiter* w) noexcept;
    void remove(waiter* w) noexcept;
    waiter* pop_front() noexcept;
    ~waiter_list();
};

// State shared by a spawned task (a job) and its handles.
struct job_base {
    loop* lp = nullptr;
    waiter* waiting = nullptr;         // where the job is suspended now, if anywhere
    bool cancel_requested = false;
    bool done = false;
    bool was_cancelled = false;
    std::exception_ptr error;
    waiter_list completion;            // waiters for this job to finish
    std::vector<std::function<void()>> callbacks;
    std::coroutine_handle<> frame;     // the runner coroutine, while it lives
    std::shared_ptr<job_base> self;    // keeps the state alive until the job is done
    job_base* live_prev = nullptr;
    job_base* live_next = nullptr;
    std::uint64_t id = 0;              // 1, 2, ... in spawn order, per loop
    std::string name;                  // empty: "Task-<id>"
    virtual ~job_base() = default;
    void finish() noexcept;
};

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
struct job_state : job_base {
    std::optional<stored_t<T>> value;
};

// The coroutine that drives a spawned task; destroys itself when done.
struct runner {
    struct promise_type {
        runner get_return_object() noexcept { return {std::coroutine_handle<promise_type>::from_promise(*this)}; }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); }
    };
    std::coroutine_handle<promise_type> h;
};

struct timer_waiter : waiter {
    clock::time_point deadline;
    std::uint64_t seq = 0;
    std::size_t heap_index = SIZE_MAX;
    ~timer_waiter() override { detach(); }
    void detach() noexcept override;
};

// A callback the loop runs at a time (call_later, call_at) or soon
// (call_soon).  When due it joins the loop's ready queue, in line with the
// tasks (as asyncio's handles do); the loop holds it through self while it
// is scheduled or queued.
struct callback_timer : timer_waiter {
    std::function<void()> fn;
    std::shared_ptr<callback_timer> self;
    bool ran = false;
    bool was_cancelled = false;
    void fire() override;     // due: into the ready queue
    void run() noexcept;      // from the ready queue: fn, unless cancelled
    void cancel() noexcept;
    void abandon() noexcept;  // the loop is going away
};

struct fd_waiter : waiter {
    int fd = -1;
    short events = 0;   // POLLIN or POLLOUT
    bool registered = false;
    ~fd_waiter() override { detach(); }
    void detach() noexcept override;
};

struct child_waiter : waiter {
    pid_t pid = -1;
    exit_status status;
    std::size_t index = SIZE_MAX;
    ~child_waiter() override { detach(); }
    void detach() noexcept override;
};

}  // namespace detail

template <class T>
class job;

class signal_set;

// A scheduled callback: asyncio's Handle and TimerHandle.  Copies share it.
class callback_handle {
public:
    callback_handle() = default;
    explicit callback_handle(std::shared_ptr<detail::callback_timer> s) : st_(std::move(s)) {}
    // The callback will not run (if it has not run yet).  Loop thread only.
    void cancel() noexcept { if (st_) st_->cancel(); }
    bool cancelled() const noexcept { return st_ && st_->was_cancelled; }
    // The callback has run (it may have thrown: see set_callback_error_handler).
    bool ran() const noexcept { return st_ && st_->ran; }
    // When it is due (call_soon: when it was scheduled).
    clock::time_point when() const noexcept { return st_ ? st_->deadline : clock::time_point{}; }

private:
    std::shared_ptr<detail::callback_timer> st_;
};

// A handle on any job, whatever its result type: what asyncio.current_task()
// and asyncio.all_tasks() return.  Copies share the job.
class task_ref {
public:
    task_ref() = default;
    explicit task_ref(std::shared_ptr<detail::job_base> s) : st_(std::move(s)) {}
    template <class T>
    task_ref(const job<T>& j);   // NOLINT: a job<T> is a task

    bool valid() const noexcept { return bool(st_); }
    bool done() const noexcept { return st_ && st_->done; }
    bool cancelled() const noexcept { return st_ && st_->done && st_->was_cancelled; }
    void cancel();
    // Task.get_name / set_name: "Task-N" unless named.
    std::string name() const { return !st_ ? std::string() : st_->name.empty() ? "Task-" + std::to_string(st_->id) : st_->name; }
    void set_name(std::string n) { if (st_) st_->name = std::move(n); }
    detail::job_base* base() const noexcept { return st_.get(); }
    friend bool operator==(const task_ref& a, const task_ref& b) noexcept { return a.st_ == b.st_; }

private:
    std::shared_ptr<detail::job_base> st_;
};

class loop {
public:
    loop();
    ~loop();
    loop(const loop&) = delete;
    loop& operator=(const loop&) = delete;

    // The loop running on this thread; throws std::logic_error if none.
    static loop& current();
    static loop* current_or_null() noexcept;

    // asyncio.run: runs t to completion and returns its result (or rethrows).
    // Tasks it spawned that are still pending are then cancelled and given
    // the chance to finish.
    template <class T>
    T run(task<T> t);

    // asyncio.create_task: t starts at the next turn and runs on its own.
    template <class T>
    job<T> spawn(task<T> t);

    // Awaitables.  Each may throw cancelled_error if the awaiting job is cancelled.
    auto readable(int fd) { return fd_awaiter(*this, fd, POLLIN); }
    auto writable(int fd) { return fd_awaiter(*this, fd, POLLOUT); }
    auto sleep_until(clock::time_point tp) { return sleep_awaiter(*this, tp); }
    template <class Rep, class Period>
    auto sleep_for(std::chrono::duration<Rep, Period> d) {
        return sleep_until(clock::now() + std::chrono::duration_cast<clock::duration>(d));
    }
    // Lets every other ready task run before this one goes on.
    auto yield() { return yield_awaiter{this}; }
    // The child's exit status; it is reaped by the loop.  The process is marked reaped.
    auto child_exit(process& p) { return child_awaiter(*this, p.pid(), &p); }
    auto child_exit(pid_t pid) { return child_awaiter(*this, pid, nullptr); }

    // Thread-safe: fn runs on the loop's thread at its next turn.
    void post(std::function<void()> fn);

    // asyncio's call_soon, call_later and call_at: fn runs on the loop's
    // thread at the next turn, after d, or at tp (callbacks due at the same
    // time run in the order they were scheduled).  Loop thread only (from
    // another thread, use post).  An exception out of fn goes to the
    // callback error handler (set_callback_error_handler in conc/error.hpp).
    // A callback still pending when the loop is destroyed never runs.
    callback_handle call_soon(std::function<void()> fn);
    callback_handle call_at(clock::time_point tp, std::function<void()> fn);
    template <class Rep, class Period>
    callback_handle call_later(std::chrono::duration<Rep, Period> d, std::function<void()> fn) {
        return call_at(clock::now() + std::chrono::duration_cast<clock::duration>(d), std::move(fn));
    }

    // asyncio.current_task: the job running now; an invalid task_ref when
    // called from a callback or outside any job.
    task_ref current_task() const;
    // asyncio.all_tasks: every spawned job not yet done, the current one included.
    std::vector<task_ref> all_tasks() const;

    // While a hold is alive the loop does not treat "nothing left to wait
    // for" as a deadlock: something outside (a thread, via post) will wake it.
    class hold {
    public:
        explicit hold(loop& l) : l_(&l) { ++l_->holds_; }
        hold(hold&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
        hold(const hold&) = delete;
        ~hold() { if (l_) --l_->holds_; }
    private:
        loop* l_;
    };

    std::size_t pending_jobs() const noexcept { return live_count_; }

private:
    // The machinery the awaitables use (through detail::loop_access).
    friend struct detail::loop_access;
    bool begin_wait(detail::waiter& w, std::coroutine_handle<> h);
    void wake(detail::waiter& w);
    void cancel(detail::job_base& j);
    void add_timer(detail::timer_waiter& t);
    void remove_timer(detail::timer_waiter& t) noexcept;
    void add_fd(detail::fd_waiter& w);
    void remove_fd(detail::fd_waiter& w) noexcept;
    void add_child(detail::child_waiter& w);
    void remove_child(detail::child_waiter& w) noexcept;
    void job_started(detail::job_base& j) noexcept;
    void job_finished(detail::job_base& j) noexcept;
    void watch_signal(int sig);
    void unwatch_signal(int sig) noexcept;
    void add_signal_set(signal_set* s);
    void remove_signal_set(signal_set* s) noexcept;
    std::vector<int> internal_fds() const;

    struct fd_awaiter : detail::fd_waiter {
        fd_awaiter(loop& l, int f, short ev) { lp = &l; fd = f; events = ev; }
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!lp->begin_wait(*this, h)) return false;
            lp->add_fd(*this);
            return true;
        }
        void await_resume() const { throw_if_cancelled(); }
    };
    struct sleep_awaiter : detail::timer_waiter {
        sleep_awaiter(loop& l, clock::time_point tp) { lp = &l; deadline = tp; }
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!lp->begin_wait(*this, h)) return false;
            lp->add_timer(*this);
            return true;
        }
        void await_resume() const { throw_if_cancelled(); }
    };
    struct yield_awaiter {
        loop* lp;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { lp->ready_.push_back({h, lp->current_}); }
        void await_resume() const noexcept {}
    };
    struct child_awaiter : detail::child_waiter {
        process* proc;
        child_awaiter(loop& l, pid_t p, process* pr) : proc(pr) { lp = &l; pid = p; }
        bool await_ready();
        bool await_suspend(std::coroutine_handle<> h) {
            if (!lp->begin_wait(*this, h)) return false;
            lp->add_child(*this);
            return true;
        }
        exit_status await_resume() {
            throw_if_cancelled();
            if (proc) proc->set_reaped(status);
            return status;
        }
    };

    struct ready_item {
        std::coroutine_handle<> h;
        detail::job_base* owner;
        detail::callback_timer* cb = nullptr;   // instead of h: a callback to run
    };
    // FIFO of runnable coroutines on a power-of-two ring: no allocation once
    // it has grown to the loop's working size (a deque allocates a block
    // every few hundred pushes).
    class ready_queue {
    public:
        bool empty() const noexcept { return count_ == 0; }
        std::size_t size() const noexcept { return count_; }
        void push_back(ready_item it) {
            if (count_ == buf_.size()) grow();
            buf_[(head_ + count_++) & (buf_.size() - 1)] = it;
        }
        ready_item pop_front() noexcept {
            ready_item it = buf_[head_];
            head_ = (head_ + 1) & (buf_.size() - 1);
            --count_;
            return it;
        }
        void clear() noexcept { head_ = count_ = 0; }

    private:
        void grow() {
            std::vector<ready_item> b(buf_.empty() ? 64 : 2 * buf_.size());
            for (std::size_t i = 0; i < count_; ++i) b[i] = buf_[(head_ + i) & (buf_.size() - 1)];
            buf_.swap(b);
            head_ = 0;
        }
        std::vector<ready_item> buf_;
        std::size_t head_ = 0, count_ = 0;
    };
    struct fd_slot {
        detail::fd_waiter* reader = nullptr;
        detail::fd_waiter* writer = nullptr;
        int poll_index = -1;
    };
    struct internal_reader;

    void run_until(const detail::job_base& j);
    void turn();
    bool can_make_progress() const noexcept;
    void fire_timers(clock::time_point now);
    void dispatch_fds();
    void run_ready();
    void update_poll(int fd);
    void compact_poll() noexcept;
    std::unique_ptr<internal_reader> add_internal_reader(std::unique_ptr<internal_reader> r);
    void heap_up(std::size_t i) noexcept;
    void heap_down(std::size_t i) noexcept;
    void heap_swap(std::size_t a, std::size_t b) noexcept;
    void reap_children();
    void on_signal_byte(int sig);
    void drain_posted();
    void cancel_all_jobs();

    ready_queue ready_;
    std::vector<detail::timer_waiter*> timers_;
    std::uint64_t timer_seq_ = 0;
    // One entry per fd that tasks wait on.  An entry whose waiters are gone
    // stays in place, switched off (fd = ~fd, which poll ignores), so a task
    // that waits on the same fd again and again costs no array churn;
    // compact_poll() drops such entries once they are the majority.
    std::vector<pollfd> pollfds_;   // the tasks' entries, then the internal ones
    std::size_t user_polls_ = 0;    // entries for the tasks' fds (idle ones included)
    std::size_t idle_polls_ = 0;
    std::vector<fd_slot> slots_;
    // The loop's own pipes (post, signals) have the last entries:
    // poll(2) stops registering wait-queue entries at the first ready fd, so
    // a busy task fd first spares the kernel that work on the idle pipes.
    std::vector<internal_reader*> internal_readers_;
    std::vector<detail::child_waiter*> children_;
    detail::job_base* current_ = nullptr;
    detail::job_base* live_head_ = nullptr;
    std::size_t live_count_ = 0;
    std::uint64_t job_ids_ = 0;
    int holds_ = 0;

    std::mutex post_mu_;
    std::vector<std::function<void()>> posted_;
    std::unique_ptr<internal_reader> post_reader_;

    std::unique_ptr<internal_reader> signal_reader_;
    struct installed_signal;
    std::vector<std::unique_ptr<installed_signal>> installed_;
    std::vector<signal_set*> signal_sets_;
    int signal_waiters_ = 0;
    bool sigchld_ = false;

    friend class signal_set;
};

namespace detail {
// The loop's internals, for the awaitables in this library (and a new kind
// of awaitable, should one be written); not part of the API.
struct loop_access {
    static bool begin_wait(loop& l, waiter& w, std::coroutine_handle<> h) { return l.begin_wait(w, h); }
    static void wake(loop& l, waiter& w) { l.wake(w); }
    static void queue_callback(loop& l, callback_timer& c) { l.ready_.push_back({{}, nullptr, &c}); }
    static void cancel(loop& l, job_base& j) { l.cancel(j); }
    static void add_timer(loop& l, timer_waiter& t) { l.add_timer(t); }
    static void remove_timer(loop& l, timer_waiter& t) noexcept { l.remove_timer(t); }
    static void add_fd(loop& l, fd_waiter& w) { l.add_fd(w); }
    static void remove_fd(loop& l, fd_waiter& w) noexcept { l.remove_fd(w); }
    static void remove_child(loop& l, child_waiter& w) noexcept { l.remove_child(w); }
    static void job_finished(loop& l, job_base& j) noexcept { l.job_finished(j); }
    static void watch_signal(loop& l, int sig) { l.watch_signal(sig); }
    static void unwatch_signal(loop& l, int sig) noexcept { l.unwatch_signal(sig); }
    static void add_signal_set(loop& l, signal_set* s) { l.add_signal_set(s); }
    static void remove_signal_set(loop& l, signal_set* s) noexcept { l.remove_signal_set(s); }
    // The loop's own pipes (for a forked child to close).
    static std::vector<int> internal_fds(const loop& l) { return l.internal_fds(); }
};
}  // namespace detail

// A handle to a spawned task: asyncio.Task.  Copyable; all copies share the job.
template <class T>
class job {
public:
    job() = default;
    explicit job(std::shared_ptr<detail::job_state<T>> s) : st_(std::move(s)) {}

    bool valid() const noexcept { return bool(st_); }
    // An empty handle (default-constructed) is never done and cannot be cancelled.
    bool done() const noexcept { return st_ && st_->done; }
    bool cancelled() const noexcept { return st_ && st_->done && st_->was_cancelled; }
    // Requests cancellation; the task sees cancelled_error at its next suspension.
    void cancel() { if (st_ && !st_->done) detail::loop_access::cancel(*st_->lp, *st_); }
    std::exception_ptr exception() const noexcept { return st_->error; }
    // The result once done; rethrows the task's exception.  Throws std::logic_error if not done.
    decltype(auto) result() const {
        if (!st_->done) throw std::logic_error("conc::job::result: the job is not done");
        if (st_->error) std::rethrow_exception(st_->error);
        if constexpr (std::is_void_v<T>) return;
        else return static_cast<T&>(*st_->value);
    }
    // fn() runs on the loop's thread when the job is done (at once if it is already).
    void add_done_callback(std::function<void()> fn) {
        if (st_->done) fn();
        else st_->callbacks.push_back(std::move(fn));
    }
    detail::job_base* base() const noexcept { return st_.get(); }

    auto operator co_await() const {
        struct awaiter : detail::waiter {
            detail::job_state<T>* st;
            explicit awaiter(detail::job_state<T>* s) : st(s) {}
            ~awaiter() override { detach(); }
            bool await_ready() const noexcept { return st->done; }
            bool await_suspend(std::coroutine_handle<> h) {
                if (!detail::loop_access::begin_wait(*st->lp, *this, h)) return false;
                st->completion.push_back(this);
                return true;
            }
            decltype(auto) await_resume() const {
                throw_if_cancelled();
                if (st->error) std::rethrow_exception(st->error);
                if constexpr (std::is_void_v<T>) return;
                else return static_cast<T&>(*st->value);
            }
        };
        return awaiter{st_.get()};
    }

private:
    friend class task_ref;
    std::shared_ptr<detail::job_state<T>> st_;
};

template <class T>
task_ref::task_ref(const job<T>& j) {
    st_ = j.st_;
}

// asyncio.current_task() and asyncio.all_tasks() for the loop running on this
// thread: an invalid task_ref and an empty vector when none runs.
task_ref current_task();
std::vector<task_ref> all_tasks();

namespace detail {

template <class T>
runner drive(std::shared_ptr<job_state<T>> st, task<T> t) {
    try {
        if (st->cancel_requested) throw cancelled_error();
        if constexpr (std::is_void_v<T>) {
            co_await std::move(t);
            st->value.emplace();
        } else {
            st->value.emplace(co_await std::move(t));
        }
    } catch (const cancelled_error&) {
        st->was_cancelled = true;
        st->error = std::current_exception();
    } catch (...) {
        st->error = std::current_exception();
    }
    st->frame = {};
    st->finish();
}

}  // namespace detail

template <class T>
job<T> loop::spawn(task<T> t) {
    auto st = std::make_shared<detail::job_state<T>>();
    st->lp = this;
    st->self = st;
    auto r = detail::drive<T>(st, std::move(t));
    st->frame = r.h;
    job_started(*st);
    ready_.push_back({r.h, st.get()});
    return job<T>(std::move(st));
}

template <class T>
T loop::run(task<T> t) {
    auto j = spawn(std::move(t));
    run_until(*j.base());
    cancel_all_jobs();
    if constexpr (std::is_void_v<T>) j.result();
    else return std::move(const_cast<T&>(j.result()));
}

// Coroutine I/O helpers for non-blocking fds.
// Reads once when data is there (0 at end of file).
task<std::size_t> read_some_async(int fd, void* buf, std::size_t len);
// Writes every byte; throws sys_error (EPIPE included) if it cannot.
task<void> write_all_async(int fd, std::string data);

}  // namespace conc
