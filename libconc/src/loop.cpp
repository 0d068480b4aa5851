#include "conc/loop.hpp"
#include "conc/signals.hpp"

#include "after_fork.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace conc {

namespace {
thread_local loop* tl_current = nullptr;

// The write end of the signal pipe of the loop that handles signals.  The
// handler does nothing else: every signal is dealt with on the loop's thread.
std::atomic<int> g_signal_fd{-1};

extern "C" void on_signal(int sig) {
    int fd = g_signal_fd.load(std::memory_order_relaxed);
    if (fd >= 0) notify_self_pipe(fd, static_cast<unsigned char>(sig));
}

struct current_guard {
    loop* prev;
    explicit current_guard(loop* l) : prev(tl_current) { tl_current = l; }
    ~current_guard() { tl_current = prev; }
};
}  // namespace

namespace detail {
void forget_loops_after_fork() noexcept {
    tl_current = nullptr;
    g_signal_fd.store(-1, std::memory_order_relaxed);
}
}  // namespace detail

// ---- waiters -------------------------------------------------------------

namespace detail {

void waiter::fire() { loop_access::wake(*lp, *this); }

void waiter::detach() noexcept {
    if (list) list->remove(this);
}

void waiter_list::push_back(waiter* w) noexcept {
    w->list = this;
    w->next = nullptr;
    w->prev = tail;
    if (tail) tail->next = w;
    else head = w;
    tail = w;
}

void waiter_list::remove(waiter* w) noexcept {
    if (w->prev) w->prev->next = w->next;
    else head = w->next;
    if (w->next) w->next->prev = w->prev;
    else tail = w->prev;
    w->prev = w->next = nullptr;
    w->list = nullptr;
}

waiter* waiter_list::pop_front() noexcept {
    waiter* w = head;
    if (w) remove(w);
    return w;
}

waiter_list::~waiter_list() {
    while (pop_front()) {
    }
}

void timer_waiter::detach() noexcept {
    if (heap_index != SIZE_MAX) loop_access::remove_timer(*lp, *this);
    waiter::detach();
}

void fd_waiter::detach() noexcept {
    if (registered) loop_access::remove_fd(*lp, *this);
    waiter::detach();
}

void child_waiter::detach() noexcept {
    if (index != SIZE_MAX) loop_access::remove_child(*lp, *this);
    waiter::detach();
}

void callback_timer::fire() { loop_access::queue_callback(*lp, *this); }

void callback_timer::run() noexcept {
    auto keep = std::move(self);
    if (was_cancelled) return;
    ran = true;
    auto f = std::move(fn);   // what it holds is let go of once it has run
    try {
        f();
    } catch (...) {
        report_callback_error(std::current_exception());
    }
}

void callback_timer::cancel() noexcept {
    if (was_cancelled || ran) return;
    was_cancelled = true;
    fn = nullptr;
    if (heap_index != SIZE_MAX) {
        loop_access::remove_timer(*lp, *this);
        self.reset();   // the caller's handle still holds *this
    }   // else it is in the ready queue, which lets go of it
}

void callback_timer::abandon() noexcept {
    fn = nullptr;
    self.reset();
}

void job_base::finish() noexcept {
    loop_access::job_finished(*lp, *this);
    done = true;
    auto cbs = std::move(callbacks);
    for (auto& cb : cbs) cb();
    while (waiter* w = completion.pop_front()) w->fire();
    self.reset();   // the runner's own reference keeps *this alive until it ends
}

}  // namespace detail

// ---- loop ----------------------------------------------------------------

// A self-pipe of the loop's own, always polled (after the tasks' fds).
struct loop::internal_reader {
    pipe_pair pipe = make_self_pipe();
    std::function<void()> on_ready;
};

std::unique_ptr<loop::internal_reader> loop::add_internal_reader(std::unique_ptr<internal_reader> r) {
    internal_readers_.push_back(r.get());
    pollfds_.push_back({r->pipe.read.get(), POLLIN, 0});   // after every task fd, for good
    return r;
}

std::vector<int> loop::internal_fds() const {
    std::vector<int> fds;
    for (auto* r : internal_readers_) {
        fds.push_back(r->pipe.read.get());
        fds.push_back(r->pipe.write.get());
    }
    return fds;
}

struct loop::installed_signal {
    int sig;
    int refs;
    struct sigaction old;
};

loop::loop() {
    auto r = std::make_unique<internal_reader>();
    r->on_ready = [this] { drain_posted(); };
    post_reader_ = add_internal_reader(std::move(r));
}

loop::~loop() {
    // Tasks still suspended: destroy their frames (their waiters unregister themselves).
    while (live_head_) {
        detail::job_base* j = live_head_;
        job_finished(*j);
        auto keep = std::move(j->self);
        if (auto f = std::exchange(j->frame, {})) f.destroy();
    }
    // Callbacks that never ran: queued ones, and those left on the timer heap.
    while (!ready_.empty())
        if (detail::callback_timer* cb = ready_.pop_front().cb) cb->abandon();
    while (!timers_.empty()) {
        detail::timer_waiter* t = timers_.back();
        remove_timer(*t);
        if (auto* cb = dynamic_cast<detail::callback_timer*>(t)) cb->abandon();
    }
    for (auto& s : installed_) ::sigaction(s->sig, &s->old, nullptr);
    if (signal_reader_) g_signal_fd.store(-1);   // before its pipe is closed
    internal_readers_.clear();
    post_reader_.reset();
    signal_reader_.reset();
}

loop& loop::current() {
    if (!tl_current) throw std::logic_error("conc: no loop is running on this thread");
    return *tl_current;
}

loop* loop::current_or_null() noexcept { return tl_current; }

bool loop::begin_wait(detail::waiter& w, std::coroutine_handle<> h) {
    w.h = h;
    w.lp = this;
    w.owner = current_;
    w.cancelled = false;
    if (current_) {
        if (current_->cancel_requested) {
            current_->cancel_requested = false;
            w.cancelled = true;
            return false;   // resumes at once; await_resume throws cancelled_error
        }
        current_->waiting = &w;
    }
    return true;
}

void loop::wake(detail::waiter& w) {
    if (w.owner && w.owner->waiting == &w) w.owner->waiting = nullptr;
    ready_.push_back({w.h, w.owner});
}

void loop::cancel(detail::job_base& j) {
    if (j.done) return;
    if (detail::waiter* w = j.waiting) {
        w->detach();
        w->cancelled = true;
        wake(*w);
    } else {
        j.cancel_requested = true;
    }
}

void loop::job_started(detail::job_base& j) noexcept {
    j.id = ++job_ids_;
    j.live_prev = nullptr;
    j.live_next = live_head_;
    if (live_head_) live_head_->live_prev = &j;
    live_head_ = &j;
    ++live_count_;
}

void loop::job_finished(detail::job_base& j) noexcept {
    if (j.live_prev) j.live_prev->live_next = j.live_next;
    else if (live_head_ == &j) live_head_ = j.live_next;
    else return;   // not linked
    if (j.live_next) j.live_next->live_prev = j.live_prev;
    j.live_prev = j.live_next = nullptr;
    --live_count_;
}

void loop::run_until(const detail::job_base& j) {
    current_guard g(this);
    while (!j.done) turn();
}

void loop::cancel_all_jobs() {
    if (!live_head_) return;
    for (auto* j = live_head_; j; j = j->live_next) cancel(*j);
    current_guard g(this);
    while (live_head_ && can_make_progress()) turn();
}

bool loop::can_make_progress() const noexcept {
    return !ready_.empty() || !timers_.empty() || user_polls_ > idle_polls_ ||
           !children_.empty() || signal_waiters_ > 0 || holds_ > 0;
}

void loop::turn() {
    timespec ts{0, 0};
    timespec* tsp = &ts;
    if (ready_.empty()) {
        if (!timers_.empty()) {
            auto d = timers_.front()->deadline - clock::now();
            if (d > clock::duration::zero()) {
                auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
                ts.tv_sec = ns / 1000000000;
                ts.tv_nsec = ns % 1000000000;
            }
        } else if (!can_make_progress()) {
            throw std::logic_error("conc::loop: deadlock: every task waits and nothing can wake it");
        } else {
            tsp = nullptr;
        }
    }
    if (idle_polls_ > 16 && 2 * idle_polls_ > user_polls_) compact_poll();
    int n = ::ppoll(pollfds_.data(), pollfds_.size(), tsp, nullptr);
    if (n < 0 && errno != EINTR) throw sys_error("poll");
    std::size_t internal_ready = 0;   // bit i: internal reader i is readable
    for (std::size_t i = 0; i < internal_readers_.size(); ++i)
        if (pollfd& p = pollfds_[user_polls_ + i]; p.revents) {
            p.revents = 0;
            internal_ready |= std::size_t(1) << i;
            --n;
        }
    if (!timers_.empty()) fire_timers(clock::now());
    if (n > 0) dispatch_fds();
    if (internal_ready)
        for (std::size_t i = 0; i < internal_readers_.size(); ++i)
            if (internal_ready & (std::size_t(1) << i)) internal_readers_[i]->on_ready();
    run_ready();
}

void loop::run_ready() {
    // Runs what is ready, and what they make ready, up to a budget, so that a
    // ping-pong between tasks costs no system call per hop yet I/O is still
    // looked at regularly.
    std::size_t budget = std::max<std::size_t>(ready_.size(), 256);
    while (budget-- && !ready_.empty()) {
        ready_item it = ready_.pop_front();
        current_ = it.owner;
        if (it.cb) it.cb->run();
        else it.h.resume();
    }
    current_ = nullptr;
}

// ---- callbacks: call_soon, call_at, call_later; introspection --------------

callback_handle loop::call_soon(std::function<void()> fn) {
    auto cb = std::make_shared<detail::callback_timer>();
    cb->lp = this;
    cb->deadline = clock::now();
    cb->fn = std::move(fn);
    cb->self = cb;
    ready_.push_back({{}, nullptr, cb.get()});
    return callback_handle(std::move(cb));
}

callback_handle loop::call_at(clock::time_point tp, std::function<void()> fn) {
    auto cb = std::make_shared<detail::callback_timer>();
    cb->lp = this;
    cb->deadline = tp;
    cb->fn = std::move(fn);
    cb->self = cb;
    add_timer(*cb);
    return callback_handle(std::move(cb));
}

task_ref loop::current_task() const {
    return current_ ? task_ref(current_->self) : task_ref();
}

std::vector<task_ref> loop::all_tasks() const {
    std::vector<task_ref> out;
    out.reserve(live_count_);
    for (auto* j = live_head_; j; j = j->live_next) out.emplace_back(j->self);
    return out;
}

task_ref current_task() {
    loop* l = loop::current_or_null();
    return l ? l->current_task() : task_ref();
}

std::vector<task_ref> all_tasks() {
    loop* l = loop::current_or_null();
    return l ? l->all_tasks() : std::vector<task_ref>();
}

void task_ref::cancel() {
    if (st_ && !st_->done) detail::loop_access::cancel(*st_->lp, *st_);
}

// ---- timers: a binary heap indexed from each timer, so removal is O(log n) ----

static bool earlier(const detail::timer_waiter* a, const detail::timer_waiter* b) noexcept {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

void loop::heap_swap(std::size_t a, std::size_t b) noexcept {
    std::swap(timers_[a], timers_[b]);
    timers_[a]->heap_index = a;
    timers_[b]->heap_index = b;
}

void loop::heap_up(std::size_t i) noexcept {
    while (i > 0) {
        std::size_t p = (i - 1) / 2;
        if (!earlier(timers_[i], timers_[p])) break;
        heap_swap(i, p);
        i = p;
    }
}

void loop::heap_down(std::size_t i) noexcept {
    for (;;) {
        std::size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < timers_.size() && earlier(timers_[l], timers_[m])) m = l;
        if (r < timers_.size() && earlier(timers_[r], timers_[m])) m = r;
        if (m == i) return;
        heap_swap(i, m);
        i = m;
    }
}

void loop::add_timer(detail::timer_waiter& t) {
    t.seq = timer_seq_++;
    t.heap_index = timers_.size();
    timers_.push_back(&t);
    heap_up(t.heap_index);
}

void loop::remove_timer(detail::timer_waiter& t) noexcept {
    std::size_t i = t.heap_index;
    if (i == SIZE_MAX) return;
    std::size_t last = timers_.size() - 1;
    if (i != last) heap_swap(i, last);
    timers_.pop_back();
    t.heap_index = SIZE_MAX;
    if (i < timers_.size()) {
        heap_up(i);
        heap_down(timers_[i]->heap_index);
    }
}

void loop::fire_timers(clock::time_point now) {
    while (!timers_.empty() && timers_.front()->deadline <= now) {
        detail::timer_waiter* t = timers_.front();
        remove_timer(*t);
        t->fire();
    }
}

// ---- fds: one pollfd per fd, updated in place as waiters come and go -----

void loop::add_fd(detail::fd_waiter& w) {
    if (w.fd < 0) throw std::invalid_argument("conc::loop: waiting on a negative fd");
    if (slots_.size() <= std::size_t(w.fd)) slots_.resize(w.fd + 1);
    fd_slot& s = slots_[w.fd];
    detail::fd_waiter*& place = (w.events == POLLIN) ? s.reader : s.writer;
    if (place && place != &w) throw std::logic_error("conc::loop: two tasks wait on the same fd in the same direction");
    place = &w;
    w.registered = true;
    update_poll(w.fd);
}

void loop::remove_fd(detail::fd_waiter& w) noexcept {
    fd_slot& s = slots_[w.fd];
    if (s.reader == &w) s.reader = nullptr;
    if (s.writer == &w) s.writer = nullptr;
    w.registered = false;
    update_poll(w.fd);
}

void loop::update_poll(int fd) {
    fd_slot& s = slots_[fd];
    short ev = short((s.reader ? POLLIN : 0) | (s.writer ? POLLOUT : 0));
    if (s.poll_index < 0) {
        if (ev == 0) return;
        // Before the internal entries (at most two move up one place).
        pollfds_.insert(pollfds_.begin() + std::ptrdiff_t(user_polls_), pollfd{fd, ev, 0});
        s.poll_index = int(user_polls_++);
        return;
    }
    pollfd& p = pollfds_[std::size_t(s.poll_index)];
    if (ev == 0) {
        if (p.fd >= 0) {   // switch it off; poll ignores negative fds
            p.fd = ~fd;
            p.events = 0;
            p.revents = 0;
            ++idle_polls_;
        }
    } else {
        if (p.fd < 0) {
            p.fd = fd;
            --idle_polls_;
        }
        p.events = ev;
    }
}

void loop::compact_poll() noexcept {
    std::size_t out = 0;
    for (std::size_t i = 0; i < user_polls_; ++i) {
        pollfd p = pollfds_[i];
        if (p.fd < 0) {
            slots_[std::size_t(~p.fd)].poll_index = -1;
            continue;
        }
        slots_[std::size_t(p.fd)].poll_index = int(out);
        pollfds_[out++] = p;
    }
    for (std::size_t i = user_polls_; i < pollfds_.size(); ++i) pollfds_[out++] = pollfds_[i];
    pollfds_.resize(out);
    user_polls_ -= idle_polls_;
    idle_polls_ = 0;
}

void loop::dispatch_fds() {
    // Entries never move here (removal only switches them off, and new ones
    // go after the last task entry with revents 0); revents is cleared as each entry is
    // handled, so nothing is seen twice.
    for (std::size_t i = 0; i < user_polls_; ++i) {
        short rev = pollfds_[i].revents;
        if (!rev) continue;
        pollfds_[i].revents = 0;
        fd_slot& s = slots_[pollfds_[i].fd];
        detail::fd_waiter* r = (rev & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) ? s.reader : nullptr;
        detail::fd_waiter* w = (rev & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) ? s.writer : nullptr;
        if (r) remove_fd(*r);
        if (w) remove_fd(*w);
        if (r) r->fire();
        if (w) w->fire();
    }
}

// ---- children and signals ------------------------------------------------

bool loop::child_awaiter::await_ready() {
    if (proc && !proc->running()) {
        if (proc->pid() <= 0) throw std::logic_error("conc::loop::child_exit: no such child");
        status = proc->status();
        return true;
    }
    lp->watch_signal(SIGCHLD);   // before the check, so an exit after it is not missed
    auto s = try_reap(pid);
    if (!s) return false;
    status = *s;
    return true;
}

void loop::add_child(detail::child_waiter& w) {
    w.index = children_.size();
    children_.push_back(&w);
}

void loop::remove_child(detail::child_waiter& w) noexcept {
    std::size_t i = w.index;
    if (i == SIZE_MAX) return;
    children_[i] = children_.back();
    children_[i]->index = i;
    children_.pop_back();
    w.index = SIZE_MAX;
}

void loop::reap_children() {
    for (std::size_t i = children_.size(); i-- > 0;) {
        if (i >= children_.size()) continue;
        detail::child_waiter* w = children_[i];
        std::optional<exit_status> s;
        try {
            s = try_reap(w->pid);
        } catch (const sys_error&) {   // someone else reaped it: exit 255 rather than wait forever
            s = exit_status::exited_with(255);
        }
        if (!s) continue;
        w->status = *s;
        remove_child(*w);
        w->fire();
    }
    reap_orphans();
}

void loop::watch_signal(int sig) {
    if (!signal_reader_) {
        auto r = std::make_unique<internal_reader>();
        int expected = -1;
        if (!g_signal_fd.compare_exchange_strong(expected, r->pipe.write.get()))
            throw std::logic_error("conc::loop: another loop already handles signals");
        r->on_ready = [this, fd = r->pipe.read.get()] {
            unsigned char buf[256];
            long n;
            while ((n = read_some(fd, buf, sizeof buf)) > 0) {
                bool chld = false;
                for (long i = 0; i < n; ++i) {
                    if (buf[i] == SIGCHLD) chld = true;
                    else on_signal_byte(buf[i]);
                }
                if (chld) on_signal_byte(SIGCHLD);
            }
        };
        signal_reader_ = add_internal_reader(std::move(r));
    }
    if (sig == SIGCHLD && sigchld_) return;
    for (auto& s : installed_)
        if (s->sig == sig) {
            ++s->refs;
            return;
        }
    auto inst = std::make_unique<installed_signal>();
    inst->sig = sig;
    inst->refs = 1;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    if (::sigaction(sig, &sa, &inst->old) < 0) throw sys_error("sigaction");
    installed_.push_back(std::move(inst));
    if (sig == SIGCHLD) sigchld_ = true;
}

void loop::unwatch_signal(int sig) noexcept {
    for (std::size_t i = 0; i < installed_.size(); ++i) {
        auto& s = installed_[i];
        if (s->sig != sig || --s->refs > 0) continue;
        if (sig == SIGCHLD) return;   // the loop keeps reaping
        ::sigaction(sig, &s->old, nullptr);
        installed_.erase(installed_.begin() + long(i));
        return;
    }
}

void loop::on_signal_byte(int sig) {
    if (sig == SIGCHLD) reap_children();
    for (auto* s : signal_sets_)
        if (s->contains(sig)) s->deliver(sig);
}

void loop::add_signal_set(signal_set* s) { signal_sets_.push_back(s); }

void loop::remove_signal_set(signal_set* s) noexcept {
    signal_sets_.erase(std::remove(signal_sets_.begin(), signal_sets_.end(), s), signal_sets_.end());
}

// ---- post ---------------------------------------------------------------

void loop::post(std::function<void()> fn) {
    bool first;
    {
        std::lock_guard g(post_mu_);
        first = posted_.empty();
        posted_.push_back(std::move(fn));
    }
    if (first) notify_self_pipe(post_reader_->pipe.write.get());
}

void loop::drain_posted() {
    drain_self_pipe(post_reader_->pipe.read.get());
    std::vector<std::function<void()>> fns;
    {
        std::lock_guard g(post_mu_);
        fns.swap(posted_);
    }
    for (auto& f : fns) f();
}

// ---- I/O helpers ---------------------------------------------------------

task<std::size_t> read_some_async(int fd, void* buf, std::size_t len) {
    for (;;) {
        long n = read_some(fd, buf, len);
        if (n >= 0) co_return std::size_t(n);
        co_await loop::current().readable(fd);
    }
}

task<void> write_all_async(int fd, std::string owned) {
    std::string_view data(owned);   // the task owns its bytes: a caller's temporary may be gone
    while (!data.empty()) {
        long n = write_some(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EPIPE) throw sys_error(EPIPE, "write");
            co_await loop::current().writable(fd);
            continue;
        }
        data.remove_prefix(std::size_t(n));
    }
}

}  // namespace conc
