// conc/pool.hpp: thread_pool and fork_pool, Python's concurrent.futures and
// multiprocessing.Pool for C++: submit, map, imap, imap_unordered, chunksize,
// futures with done-callbacks.
#pragma once
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "conc/codec.hpp"
#include "conc/detail/pool_wire.hpp"
#include "conc/detail/wait_policy.hpp"
#include "conc/error.hpp"

namespace conc {

// get() on a future whose task was cancelled (concurrent.futures.CancelledError).
class future_cancelled : public std::runtime_error {
public:
    future_cancelled() : std::runtime_error("future cancelled") {}
};

// A fork_pool worker process ended with tasks of this future on it: what() is
// "worker exited with status 3" when it exited (fn called exit(3) or _exit(3)),
// "worker died: killed by signal 9" when a signal killed it.
class worker_died : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The fork_pool function threw in the worker; what() is the worker's what().
class remote_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

template <class R>
class future;
template <class R>
class promise;


namespace detail {


// Number of online CPUs, at least 1.
unsigned online_cpus() noexcept;

// True on a thread that belongs to some thread_pool.
bool on_pool_thread() noexcept;

// Waiters and done-callbacks park on one of a few mutex+condvar slots chosen
// by the state's address, so a state costs no mutex of its own and finishing
// a future nobody watches takes no lock.
struct wait_slot {
    alignas(64) std::mutex m;
    std::condition_variable cv;
};
wait_slot& slot_for(const void* state) noexcept;

// The reference-counted state shared by futures, promises and queued tasks.
// status moves pending -> running (claimed) -> value|error|cancelled, once.
struct state_base {
    enum : std::uint32_t { pending, running, has_value, has_error, was_cancelled };

    std::atomic<std::uint32_t> refs{1};
    std::atomic<std::uint32_t> status{pending};
    state_base* next = nullptr;     // thread_pool queue link
    std::exception_ptr error;
    std::atomic<bool> watched{false};  // a waiter or a callback may need the slot
    bool runnable = false;          // run() computes the result (a submitted task)

    virtual ~state_base() = default;
    virtual void run() noexcept {}
    virtual void cancel_now() noexcept = 0;  // after a successful claim()

    void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    bool claim() noexcept {
        std::uint32_t p = pending;
        return status.compare_exchange_strong(p, running, std::memory_order_acq_rel);
    }
    bool is_done() const noexcept { return status.load(std::memory_order_acquire) >= has_value; }

    // Blocks until done.  On a pool thread, a still-pending task is run inline
    // instead: waiting on your own pool's futures cannot deadlock.
    void wait() {
        if (is_done()) return;
        if (runnable && on_pool_thread() && claim()) {
            run();
            return;
        }
        auto& sl = slot_for(this);
        std::unique_lock lk(sl.m);
        watched.store(true);  // seq_cst with the finisher's status store: one sees the other
        sl.cv.wait(lk, [&] { return status.load() >= has_value; });
    }
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> d) {
        if (is_done()) return true;
        auto& sl = slot_for(this);
        std::unique_lock lk(sl.m);
        watched.store(true);
        return sl.cv.wait_for(lk, d, [&] { return status.load() >= has_value; });
    }
};

template <class R>
using stored_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class R>
struct shared_state : state_base {
    using callback = std::function<void(const future<R>&)>;
    std::optional<stored_t<R>> value;
    std::unique_ptr<std::vector<callback>> callbacks;  // guarded by the slot

    template <class... V>
    void set_value(V&&... v) {
        finish([&] { value.emplace(std::forward<V>(v)...); }, has_value);
    }
    void set_exception(std::exception_ptr e) {
        finish([&] { error = std::move(e); }, has_error);
    }
    void cancel_now() noexcept override {
        finish([] {}, was_cancelled);
    }

    // Only the thread that claimed the state calls this.
    template <class Store>
    void finish(Store&& store, std::uint32_t final_status) noexcept {
        try {
            store();
        } catch (...) {
            error = std::current_exception();
            final_status = has_error;
        }
        status.store(final_status);
        if (!watched.load()) return;
        std::unique_ptr<std::vector<callback>> cbs;
        auto& sl = slot_for(this);
        {
            std::lock_guard lk(sl.m);
            cbs = std::move(callbacks);
        }
        sl.cv.notify_all();
        if (cbs) {
            future<R> self(this);
            for (auto& cb : *cbs) {
                try {
                    cb(self);
                } catch (...) {
                    report_callback_error(std::current_exception());
                }
            }
        }
    }

    // false if already done: the caller runs cb itself.
    bool add_callback(callback&& cb) {
        auto& sl = slot_for(this);
        std::lock_guard lk(sl.m);
        watched.store(true);
        if (status.load() >= has_value) return false;
        if (!callbacks) callbacks = std::make_unique<std::vector<callback>>();
        callbacks->push_back(std::move(cb));
        return true;
    }
};

// A submitted callable and the state of its result, in one allocation.
template <class R, class F>
struct packaged final : shared_state<R> {
    union {
        F fn;
    };
    bool fn_alive = true;
    explicit packaged(F&& f) : fn(std::move(f)) { this->runnable = true; }
    ~packaged() override { destroy_fn(); }
    void destroy_fn() noexcept {
        if (fn_alive) {
            fn_alive = false;
            fn.~F();
        }
    }
    void run() noexcept override {
        try {
            if constexpr (std::is_void_v<R>) {
                fn();
                destroy_fn();
                this->set_value();
            } else {
                R r = fn();
                destroy_fn();
                this->set_value(std::move(r));
            }
        } catch (...) {
            destroy_fn();
            this->set_exception(std::current_exception());
        }
    }
};

}  // namespace detail

// The result of a submitted task: a shared handle (copies refer to the same
// result), like concurrent.futures.Future.  Safe to use from any thread.
template <class R>
class future {
public:
    future() noexcept = default;
    explicit future(detail::shared_state<R>* s) noexcept : s_(s) {
        if (s_) s_->add_ref();
    }
    future(const future& o) noexcept : future(o.s_) {}
    future(future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    future& operator=(future o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~future() {
        if (s_) s_->release();
    }

    bool valid() const noexcept { return s_ != nullptr; }
    // Finished: with a value, an exception, or cancelled.
    bool done() const noexcept { return s_->is_done(); }
    bool running() const noexcept { return s_->status.load() == detail::state_base::running; }
    bool cancelled() const noexcept {
        return s_->status.load(std::memory_order_acquire) == detail::state_base::was_cancelled;
    }
    // Cancels a task that has not started; true if the future is now cancelled.
    bool cancel() const noexcept {
        if (s_->claim()) s_->cancel_now();
        return cancelled();
    }
    void wait() const { s_->wait(); }
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> d) const {
        return s_->wait_for(d);
    }
    // The result (a reference valid while a copy of this future lives); rethrows
    // the task's exception; throws future_cancelled.
    std::add_lvalue_reference_t<std::add_const_t<detail::stored_t<R>>> get() const
        requires(!std::is_void_v<R>)
    {
        wait();
        check();
        return *s_->value;
    }
    void get() const
        requires std::is_void_v<R>
    {
        wait();
        check();
    }
    // Moves the result out (for move-only results); call at most once.
    R take() const {
        wait();
        check();
        if constexpr (!std::is_void_v<R>) return std::move(*s_->value);
    }
    // The task's exception, or null.  Waits.  Throws future_cancelled.
    std::exception_ptr exception() const {
        wait();
        if (cancelled()) throw future_cancelled();
        return s_->error;
    }
    // fn(const future<R>&) runs once the future is done, on the thread that
    // finishes it; right now, on this thread, if it is already done.  An
    // exception out of fn goes to the callback error handler (see
    // set_callback_error_handler), never to the caller.
    template <class Fn>
    void add_done_callback(Fn&& fn) const {
        typename detail::shared_state<R>::callback cb(std::forward<Fn>(fn));
        if (s_->add_callback(std::move(cb))) return;
        try {
            cb(*this);
        } catch (...) {
            detail::report_callback_error(std::current_exception());
        }
    }

    friend bool operator==(const future& a, const future& b) noexcept { return a.s_ == b.s_; }

    // Runs the task on this thread if nobody has started it yet.
    bool try_run_inline() const {
        if (!s_->runnable || !s_->claim()) return false;
        s_->run();
        return true;
    }

private:
    void check() const {
        auto st = s_->status.load(std::memory_order_acquire);
        if (st == detail::state_base::was_cancelled) throw future_cancelled();
        if (st == detail::state_base::has_error) std::rethrow_exception(s_->error);
    }
    detail::shared_state<R>* s_ = nullptr;
};

// The producing side of a future that no pool computes (asyncio.Future's set_result).
template <class R>
class promise {
public:
    promise() : s_(new detail::shared_state<R>) {}
    promise(promise&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    promise& operator=(promise&& o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~promise() {
        if (s_) s_->release();
    }
    future<R> get_future() const { return future<R>(s_); }
    // Its future is done (set, or cancelled).
    bool done() const noexcept { return s_->is_done(); }
    // false if the future was cancelled (or already claimed) before the work began.
    bool claim() noexcept { return s_->claim(); }
    // Each of these claims first if needed; no-op if the future is already done.
    template <class... V>
    void set_value(V&&... v) {
        if (claim_or_running()) s_->set_value(std::forward<V>(v)...);
    }
    void set_exception(std::exception_ptr e) {
        if (claim_or_running()) s_->set_exception(std::move(e));
    }

private:
    bool claim_or_running() noexcept {
        return s_->claim() || s_->status.load() == detail::state_base::running;
    }
    detail::shared_state<R>* s_;
};

namespace detail {

// The results of one chunk of imap/map: the values of the items that
// returned, in order, and the exceptions of the items that threw, by their
// position in the chunk, ascending.  A chunk without errors is its values.
template <class R>
struct chunk_result {
    std::vector<R> values;
    std::vector<std::pair<std::size_t, std::exception_ptr>> errors;
    std::size_t size() const noexcept { return values.size() + errors.size(); }
};

// Lazy ordered (or completion-ordered) iteration over chunked results: at most
// `window` chunks are in flight; input is read only as results are consumed.
// Submit: (iterator&, sentinel&, chunksize) -> std::pair<future<chunk_result<R>>, size_t>.
template <class R, class View, class Submit>
class imap_range {
    using in_iter = std::ranges::iterator_t<View>;
    using in_sent = std::ranges::sentinel_t<View>;
    using chunk_future = future<chunk_result<R>>;

    struct done_channel {
        std::mutex m;
        std::condition_variable cv;
        std::deque<chunk_future> ready;
    };

    struct impl {
        View view;
        in_iter it;
        in_sent end;
        std::size_t chunksize, window;
        bool ordered;
        Submit submit;
        std::deque<std::pair<chunk_future, std::size_t>> inflight;
        std::shared_ptr<done_channel> chan;
        chunk_result<R> cur;
        std::exception_ptr cur_err;  // the whole chunk failed (worker died, cancelled)
        std::size_t cur_count = 0, pos = 0;
        // cur.errors[error_pos] is the next error, at position error_at (npos:
        // none); the value at pos is cur.values[pos - error_pos].
        std::size_t error_pos = 0, error_at = npos;
        static constexpr std::size_t npos = std::size_t(-1);

        impl(View v, std::size_t cs, std::size_t w, bool ord, Submit s)
            : view(std::move(v)), it(std::ranges::begin(view)), end(std::ranges::end(view)),
              chunksize(cs ? cs : 1), window(w ? w : 1), ordered(ord), submit(std::move(s)) {
            if (!ordered) chan = std::make_shared<done_channel>();
        }
        ~impl() {
            for (auto& f : inflight) f.first.cancel();
            for (auto& f : inflight) f.first.wait();
        }
        void fill() {
            while (inflight.size() < window && it != end) {
                auto [f, n] = submit(it, end, chunksize);
                if (!ordered) {
                    f.add_done_callback([c = chan](const chunk_future& d) {
                        {
                            std::lock_guard lk(c->m);
                            c->ready.push_back(d);
                        }
                        c->cv.notify_one();
                    });
                }
                inflight.emplace_back(std::move(f), n);
            }
        }
        // Loads the next finished chunk into cur; false at the end.
        bool next_chunk() {
            for (;;) {
                fill();
                if (inflight.empty()) return false;
                chunk_future f;
                std::size_t n;
                if (ordered) {
                    f = std::move(inflight.front().first);
                    n = inflight.front().second;
                    inflight.pop_front();
                    f.wait();
                } else {
                    f = take_ready();
                    auto i = inflight.begin();
                    while (!(i->first == f)) ++i;
                    n = i->second;
                    inflight.erase(i);
                }
                pos = error_pos = 0;
                cur_err = nullptr;
                cur.values.clear();
                cur.errors.clear();
                try {
                    cur = f.take();
                    cur_count = cur.size();
                } catch (...) {
                    cur_err = std::current_exception();
                    cur_count = n;
                }
                error_at = cur.errors.empty() ? npos : cur.errors.front().first;
                if (cur_count) return true;
            }
        }
        // Every item's path costs one comparison with error_at.
        R& value() {
            if (pos == error_at) std::rethrow_exception(cur.errors[error_pos].second);
            return cur.values[pos - error_pos];
        }
        void step() noexcept {
            if (pos == error_at) {
                ++error_pos;
                error_at = error_pos < cur.errors.size() ? cur.errors[error_pos].first : npos;
            }
        }
        chunk_future take_ready() {
            std::unique_lock lk(chan->m);
            while (chan->ready.empty()) {
                if (on_pool_thread()) {  // help instead of blocking a pool thread
                    lk.unlock();
                    bool ran = false;
                    for (auto& f : inflight)
                        if ((ran = f.first.try_run_inline())) break;
                    lk.lock();
                    if (ran) continue;
                }
                chan->cv.wait(lk);
            }
            chunk_future f = std::move(chan->ready.front());
            chan->ready.pop_front();
            return f;
        }
    };

public:
    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(impl* p) : p_(p) {}
        // The result at this position; rethrows the exception of its item,
        // or of its whole chunk (the iteration may go on past it).
        R& operator*() const {
            if (p_->cur_err) std::rethrow_exception(p_->cur_err);
            return p_->value();
        }
        R* operator->() const { return &**this; }
        iterator& operator++() {
            p_->step();
            if (++p_->pos >= p_->cur_count && !p_->next_chunk()) p_->cur_count = p_->pos = 0;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const { return p_->pos >= p_->cur_count; }

    private:
        impl* p_ = nullptr;
    };

    imap_range(View v, std::size_t chunksize, std::size_t window, bool ordered, Submit s)
        : p_(std::make_unique<impl>(std::move(v), chunksize, window, ordered, std::move(s))) {}

    // Call once: starts the work.
    iterator begin() {
        if (!p_->next_chunk()) p_->cur_count = p_->pos = 0;
        return iterator(p_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::unique_ptr<impl> p_;
};

}  // namespace detail

namespace detail {

// The future of the values of every chunk, in order, or of the first
// exception in input order (Pool.map_async).
template <class R>
future<std::vector<R>> gather_chunks(std::vector<future<chunk_result<R>>> chunks) {
    struct state {
        promise<std::vector<R>> out;
        std::vector<future<chunk_result<R>>> chunks;
        std::atomic<std::size_t> left{0};
        void finish() noexcept {
            std::vector<R> values;
            try {
                for (auto& c : chunks) {
                    chunk_result<R> r = c.take();  // rethrows the failure of a whole chunk
                    if (!r.errors.empty()) std::rethrow_exception(r.errors.front().second);
                    if (values.empty())
                        values = std::move(r.values);
                    else
                        std::move(r.values.begin(), r.values.end(), std::back_inserter(values));
                }
                chunks.clear();
                out.set_value(std::move(values));
            } catch (...) {
                chunks.clear();
                out.set_exception(std::current_exception());
            }
        }
    };
    auto st = std::make_shared<state>();
    auto fut = st->out.get_future();
    st->chunks = std::move(chunks);
    if (st->chunks.empty()) {
        st->out.set_value();
        return fut;
    }
    st->left.store(st->chunks.size());
    std::vector<future<chunk_result<R>>> watch = st->chunks;  // st->chunks is cleared by the last callback
    for (auto& c : watch)
        c.add_done_callback([st](const future<chunk_result<R>>&) {
            if (st->left.fetch_sub(1) == 1) st->finish();
        });
    return fut;
}

// Python's callback and error_callback of apply_async and map_async, as a
// done-callback of fut: callback(result) (callback() for void), or
// error_callback(std::exception_ptr) when it failed or was cancelled.
// nullptr stands for no callback.
template <class R, class Cb, class Eb>
void on_result(const future<R>& fut, Cb callback, Eb error_callback) {
    constexpr bool has_cb = !std::is_null_pointer_v<Cb>, has_eb = !std::is_null_pointer_v<Eb>;
    if constexpr (has_cb || has_eb) {
        fut.add_done_callback([cb = std::move(callback), eb = std::move(error_callback)](const future<R>& d) mutable {
            std::exception_ptr e = d.cancelled() ? std::make_exception_ptr(future_cancelled()) : d.exception();
            if (e) {
                if constexpr (has_eb) eb(e);
            } else if constexpr (has_cb) {
                if constexpr (std::is_void_v<R>)
                    cb();
                else
                    cb(d.get());
            }
        });
    }
}

}  // namespace detail

// A snapshot of a pool's queue: the tasks submitted and not yet started,
// with channel<T>'s names (asyncio.Queue's qsize, maxsize, empty, full).
// A pool's queue is unbounded: capacity() is the largest std::size_t and
// full() is false; submit() never waits.
class queue_snapshot {
public:
    explicit queue_snapshot(std::size_t n) noexcept : n_(n) {}
    std::size_t size() const noexcept { return n_; }
    std::size_t capacity() const noexcept { return std::size_t(-1); }
    bool empty() const noexcept { return n_ == 0; }
    bool full() const noexcept { return n_ >= capacity(); }

private:
    std::size_t n_;
};

namespace detail {

template <class F, class Range>
using map_result_t =
    std::decay_t<std::invoke_result_t<F&, const std::ranges::range_value_t<Range>&>>;

}  // namespace detail

// A fixed set of threads running submitted callables (ThreadPoolExecutor).
//
// Waiting on a future of a pool from a pool thread (get, wait, imap) runs the
// task inline if it has not started, so tasks may submit to their own pool
// and wait for the results without deadlock, even with one thread.
class thread_pool {
public:
    // n == 0: one thread per online CPU.
    explicit thread_pool(unsigned n = 0);
    ~thread_pool();  // shutdown(true): runs what is queued, joins
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    unsigned size() const noexcept { return unsigned(threads_.size()); }

    // The tasks no thread has taken yet.  A task cancelled, or run inline by
    // a waiter, counts until a thread takes it off the queue.
    queue_snapshot queue() const;

    // f(args...) on a pool thread; f and the arguments are copied (or moved)
    // now, and moved into the call: move-only callables and arguments
    // (std::unique_ptr) are fine.  Throws std::runtime_error after shutdown.
    template <class F, class... Args>
        requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    auto submit(F&& f, Args&&... args) {
        using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
        auto call = [f = std::forward<F>(f), ... a = std::forward<Args>(args)]() mutable -> R {
            return std::invoke(std::move(f), std::move(a)...);
        };
        auto* s = new detail::packaged<R, decltype(call)>(std::move(call));
        future<R> fut(s);  // refs: ours (1) + the future's
        enqueue(s);        // the queue takes our reference
        return fut;
    }

    // Results of f over range, in order.  chunksize 0: about 4 chunks a thread
    // for a sized range, else 1.  Rethrows the first exception in input order.
    template <class F, class Range>
    auto map(F f, Range&& range, std::size_t chunksize = 0) {
        using R = detail::map_result_t<F, Range>;
        std::vector<R> out;
        if constexpr (std::ranges::sized_range<Range>) {
            auto n = std::size_t(std::ranges::size(range));
            out.reserve(n);
            if (chunksize == 0) chunksize = std::max<std::size_t>(1, (n + 4 * size() - 1) / (4 * size()));
        }
        for (auto& r : imap(std::move(f), std::forward<Range>(range), chunksize ? chunksize : 1))
            out.push_back(std::move(r));
        return out;
    }

    // Pool.starmap: std::apply(f, item) for items that are tuples or pairs.
    template <class F, class Range>
    auto starmap(F f, Range&& range, std::size_t chunksize = 0) {
        return map([f = std::move(f)](const auto& t) mutable { return std::apply(f, t); },
                   std::forward<Range>(range), chunksize);
    }

    // Pool.map_async: reads the whole range now; the future of the vector of
    // results (in order; the first exception in input order).  callback(const
    // std::vector<R>&) or error_callback(std::exception_ptr) runs once it is
    // done (nullptr: none), as for fork_pool::apply_async.
    template <class F, class Range, class Cb = std::nullptr_t, class Eb = std::nullptr_t>
    auto map_async(F f, Range&& range, std::size_t chunksize = 0, Cb callback = nullptr,
                   Eb error_callback = nullptr) {
        using R = detail::map_result_t<F, Range>;
        if constexpr (std::ranges::sized_range<Range>)
            if (chunksize == 0)
                chunksize = (std::size_t(std::ranges::size(range)) + 4 * size() - 1) / (4 * size());
        chunksize = std::max<std::size_t>(1, chunksize);
        auto submit_chunk = chunk_submitter<R, std::ranges::range_value_t<Range>>(std::move(f));
        std::vector<future<detail::chunk_result<R>>> chunks;
        auto it = std::ranges::begin(range);
        auto end = std::ranges::end(range);
        while (it != end) chunks.push_back(submit_chunk(it, end, chunksize).first);
        auto fut = detail::gather_chunks(std::move(chunks));
        detail::on_result(fut, std::move(callback), std::move(error_callback));
        return fut;
    }

    // Lazy, ordered: results are consumed while later ones are computed, with
    // at most a few chunks a thread in flight (Pool.imap).  An item whose call
    // threw rethrows at its own position when dereferenced, and the iteration
    // may go on; the other items of its chunk are delivered.  Destroying the
    // range cancels pending chunks and waits for running ones.
    template <class F, class Range>
    auto imap(F f, Range&& range, std::size_t chunksize = 1) {
        return make_imap(std::move(f), std::forward<Range>(range), chunksize, true);
    }
    // The same, in completion order (Pool.imap_unordered).
    template <class F, class Range>
    auto imap_unordered(F f, Range&& range, std::size_t chunksize = 1) {
        return make_imap(std::move(f), std::forward<Range>(range), chunksize, false);
    }

    // Executor.shutdown(wait, cancel_futures): no more submissions; with
    // cancel_pending, tasks not yet started are cancelled; with wait, returns
    // once every thread has finished (not when called from a pool thread).
    void shutdown(bool wait = true, bool cancel_pending = false);

private:
    template <class F, class Range>
    auto make_imap(F f, Range&& range, std::size_t chunksize, bool ordered) {
        using In = std::ranges::range_value_t<Range>;
        using R = detail::map_result_t<F, Range>;
        static_assert(!std::is_void_v<R>, "imap/map need a function that returns a value");
        auto submit_chunk = chunk_submitter<R, In>(std::move(f));
        using View = std::views::all_t<Range>;
        return detail::imap_range<R, View, decltype(submit_chunk)>(
            std::views::all(std::forward<Range>(range)), chunksize, 4 * size() + 2, ordered,
            std::move(submit_chunk));
    }

    // (iterator&, sentinel&, chunksize) -> the future of the next chunk's
    // results and its number of items.
    template <class R, class In, class F>
    auto chunk_submitter(F f) {
        auto fn = std::make_shared<F>(std::move(f));
        return [this, fn](auto& it, auto& end, std::size_t cs) {
            std::vector<In> items;
            items.reserve(cs);
            for (; items.size() < cs && it != end; ++it) items.push_back(*it);
            std::size_t n = items.size();
            auto fut = submit([fn, items = std::move(items)]() {
                detail::chunk_result<R> out;
                out.values.reserve(items.size());
                for (std::size_t k = 0; k < items.size(); ++k) {
                    try {
                        out.values.push_back(std::invoke(*fn, items[k]));
                    } catch (...) {
                        out.errors.emplace_back(k, std::current_exception());
                    }
                }
                return out;
            });
            return std::pair{std::move(fut), n};
        };
    }

    void enqueue(detail::state_base* s);
    void worker();

    mutable std::mutex m_;
    std::atomic<std::uint32_t> wake_{0};  // bumped to wake idle threads
    detail::state_base* head_ = nullptr;
    detail::state_base* tail_ = nullptr;
    std::size_t queued_ = 0;  // tasks from head_ to tail_
    unsigned idle_ = 0;    // threads asleep or about to sleep
    unsigned waking_ = 0;  // of those, woken by a submit and not yet up
    bool stopping_ = false;
    std::mutex join_m_;
    std::vector<std::thread> threads_;
};

struct fork_pool_options {
    unsigned maxtasksperchild = 0;  // renew a worker after this many tasks (chunks); 0: never
    unsigned tasks_ahead = 4;       // tasks (chunks) queued on a worker's pipe at once
};

namespace detail {

// A task on its way to a fork_pool worker: its request frame (in `frame`, or
// in `raw` when raw_size is not 0) and how the reply becomes its result.
// The pool's I/O thread claims it before sending it, then completes or
// fails it.
struct fork_job {
    std::string frame;
    std::unique_ptr<char[]> raw;
    std::size_t raw_size = 0;
    std::uint32_t count = 0;
    bool claimed = false;

    virtual ~fork_job() = default;
    const char* frame_data() const noexcept { return raw_size ? raw.get() : frame.data(); }
    char* frame_data() noexcept { return raw_size ? raw.get() : frame.data(); }
    std::size_t frame_size() const noexcept { return raw_size ? raw_size : frame.size(); }
    bool claim() {
        if (claimed) return true;
        return claimed = try_claim();
    }
    // Its future is done: answered, failed, or cancelled by the caller.
    virtual bool done() const = 0;
    virtual void fail(std::exception_ptr e) = 0;
    // The reply payload: count x (u8 ok, u32 len, bytes).
    virtual void complete(const char* p, std::size_t len) = 0;
    // On the submitting thread, once count is set: allocates what complete()
    // will fill, so that the memory of a result is taken and given back by
    // the same thread.  (Freed by another thread, it made glibc trim the
    // pool thread's heap and fault it in again, chunk after chunk.)
    virtual void prepare() {}

private:
    virtual bool try_claim() = 0;
};

std::exception_ptr bad_reply();
std::exception_ptr remote_failure(const char* what, std::size_t size);

// How a reply item's bytes become a result, appended to the chunk's values:
// as they are (the pool's own function returns bytes), or through codec<R>.
struct bytes_reply {
    using type = std::string;
    // Built in place: a temporary string moved in costs two more library
    // calls an item, which the pool's thread pays for every result.
    static void append(std::vector<std::string>& out, const char* p, std::uint32_t n) { out.emplace_back(p, n); }
};
template <class R>
struct codec_reply {
    using type = stored_t<R>;
    static type decode(const char* p, std::uint32_t n) {
        if constexpr (std::is_void_v<R>) {
            if (n) throw decode_error("conc::codec: bytes where a void result has none");
            return {};
        } else
            return conc::decode<R>(std::string_view(p, n));
    }
    static void append(std::vector<type>& out, const char* p, std::uint32_t n) { out.push_back(decode(p, n)); }
};

// Reads a reply payload of `count` items into out; false if it is cut short.
template <class Reply>
bool read_reply(const char* p, std::size_t len, std::uint32_t count,
                chunk_result<typename Reply::type>& out) {
    const char* end = p + len;
    out.values.reserve(count);
    std::uint32_t i = 0;
    for (; i < count && std::size_t(end - p) >= wire_result_header; ++i) {
        auto r = wire_get_result(p);
        if (std::size_t(end - r.data) < r.size) return false;
        if (!r.ok) {  // only this item fails
            out.errors.emplace_back(i, remote_failure(r.data, r.size));
        } else {
            try {
                Reply::append(out.values, r.data, r.size);
            } catch (...) {
                out.errors.emplace_back(i, std::current_exception());
            }
        }
        p = r.data + r.size;
    }
    return i == count;
}

// A chunk of items: its future holds the results of all of them.
template <class Reply>
struct chunk_job final : fork_job {
    using R = typename Reply::type;
    promise<chunk_result<R>> result;
    chunk_result<R> out;
    bool done() const override { return result.done(); }
    void fail(std::exception_ptr e) override { result.set_exception(std::move(e)); }
    void prepare() override { out.values.reserve(count); }
    void complete(const char* p, std::size_t len) override {
        if (!read_reply<Reply>(p, len, count, out)) return fail(bad_reply());
        result.set_value(std::move(out));
    }

private:
    bool try_claim() override { return result.claim(); }
};

// One call: its future holds its result (R may be void).
template <class R, class Reply>
struct one_job final : fork_job {
    promise<R> result;
    bool done() const override { return result.done(); }
    void fail(std::exception_ptr e) override { result.set_exception(std::move(e)); }
    void complete(const char* p, std::size_t len) override {
        chunk_result<typename Reply::type> out;
        if (!read_reply<Reply>(p, len, 1, out)) return fail(bad_reply());
        if (!out.errors.empty()) return fail(out.errors.front().second);
        if constexpr (std::is_void_v<R>)
            result.set_value();
        else
            result.set_value(std::move(out.values.front()));
    }

private:
    bool try_claim() override { return result.claim(); }
};

// The result type of a typed call: f(T) or, Star, std::apply(f, T).
template <class F, class T, bool Star>
struct call_result {
    using type = std::invoke_result_t<F&, T&&>;
};
template <class F, class T>
struct call_result<F, T, true> {
    using type = decltype(std::apply(std::declval<F&>(), std::declval<T&&>()));
};
template <class F, class T, bool Star>
using call_result_t = std::decay_t<typename call_result<F, T, Star>::type>;

// What a fork_pool can send to a worker: a trivially copyable callable
// (travels as its bytes), an argument type with a codec, and a result that
// is void or has one.
template <class F, class T, bool Star>
concept fork_callable = std::is_trivially_copyable_v<F> && encodable<T> &&
                        (std::is_void_v<call_result_t<F, T, Star>> || encodable<call_result_t<F, T, Star>>);

// The worker's side of a typed call (a worker_call): F's bytes back into an
// F, the argument decoded, the result encoded.
template <class F, class T, bool Star>
void typed_call(const char* fn, std::string_view item, std::string& out) {
    alignas(F) unsigned char storage[sizeof(F)];
    std::memcpy(storage, fn, sizeof(F));
    F& f = *std::launder(reinterpret_cast<F*>(storage));
    T arg = conc::decode<T>(item);
    out.clear();
    using R = call_result_t<F, T, Star>;
    auto call = [&]() -> decltype(auto) {
        if constexpr (Star)
            return std::apply(f, std::move(arg));
        else
            return std::invoke(f, std::move(arg));
    };
    if constexpr (std::is_void_v<R>)
        call();
    else
        codec<R>::encode(call(), out);
}

// A request frame with the call to f and no items yet.
template <class F, class T, bool Star>
std::string typed_request(const F& f) {
    std::string frame(wire_request_header, '\0');
    wire_put_call(frame.data(), &typed_call<F, T, Star>, std::uint32_t(sizeof(F)));
    frame.append(reinterpret_cast<const char*>(std::addressof(f)), sizeof(F));
    return frame;
}

// Appends one item, v as a T, to a request frame.
template <class T, class V>
void typed_put_item(std::string& frame, const V& v) {
    std::size_t at = frame.size();
    frame.append(wire_item_header, '\0');
    if constexpr (std::is_same_v<V, T>)
        codec<T>::encode(v, frame);
    else
        codec<T>::encode(T(v), frame);
    wire_store(frame.data() + at, std::uint32_t(frame.size() - at - wire_item_header));
}

}  // namespace detail

// N worker processes forked at construction (multiprocessing.Pool).  They
// run two kinds of call:
//
//   typed: pool.imap(f, ints), map, starmap, map_async, submit, apply_async:
//   f is any trivially copyable callable (a function, a lambda capturing
//   nothing or plain values) and travels to the worker as its bytes, the
//   arguments and results as codec<T> encodes them (conc/codec.hpp): ints,
//   strings, vectors, tuples, and the user's own specialisations.  Like a
//   pickled function, f is found in the worker by where it is in the
//   program, which a forked child shares; what it captures is copied.
//
//   bytes: the pool's own fn, fixed before the fork, on byte strings
//   (apply(item), imap(items), map(items)).
//
// A worker that dies fails only the task it was running and is replaced;
// one whose function calls exit() leaves as by _exit (stdio flushed, none of
// the parent's exit handlers or static destructors run) and is replaced the
// same way.  A function may run in a child forked while other threads of the
// parent held locks: like Python's "fork" start method, it should not need
// locks other threads may hold.
class fork_pool {
public:
    using function = std::function<std::string(std::string_view)>;

    // n == 0: one worker per online CPU.  Without fn, only the typed calls.
    explicit fork_pool(unsigned n = 0, fork_pool_options opt = {});
    explicit fork_pool(function fn, unsigned n = 0, fork_pool_options opt = {});
    // When every task submitted has completed (or was cancelled): close() and
    // join(), so the workers exit normally and flush their stdio.  Otherwise
    // terminate() and join(), like leaving Python's "with Pool() as p:": the
    // unfinished tasks fail.  Call close() and join() first to let queued
    // work finish.
    ~fork_pool();
    fork_pool(const fork_pool&) = delete;
    fork_pool& operator=(const fork_pool&) = delete;

    unsigned size() const noexcept;

    // The tasks (chunks) not yet handed to a worker; those in a worker's
    // pipe (up to tasks_ahead a worker, counting the one it runs) do not count.
    queue_snapshot queue() const;

    // ---- typed calls

    // f(args...) in a worker (Executor.submit); the arguments are encoded now.
    template <class F, class... Args>
        requires detail::fork_callable<F, std::tuple<std::decay_t<Args>...>, true>
    auto submit(F f, Args&&... args) {
        using T = std::tuple<std::decay_t<Args>...>;
        using R = detail::call_result_t<F, T, true>;
        std::string frame = detail::typed_request<F, T, true>(f);
        detail::typed_put_item<T>(frame, T(std::forward<Args>(args)...));
        return submit_one<R, detail::codec_reply<R>>(std::move(frame));
    }
    // Pool.apply_async(f, args, callback, error_callback): std::apply(f, args)
    // in a worker.  callback(result) (callback() for a void f) or
    // error_callback(std::exception_ptr) runs once the call is done, on the
    // pool's I/O thread (a cancelled call counts as an error,
    // future_cancelled); an exception out of either goes to the callback
    // error handler.  nullptr: no callback.
    template <class F, class... A, class Cb = std::nullptr_t, class Eb = std::nullptr_t>
        requires detail::fork_callable<F, std::tuple<A...>, true>
    auto apply_async(F f, std::tuple<A...> args, Cb callback = nullptr, Eb error_callback = nullptr) {
        auto fut = std::apply([&](auto&&... a) { return submit(f, std::move(a)...); }, std::move(args));
        detail::on_result(fut, std::move(callback), std::move(error_callback));
        return fut;
    }
    // Pool.apply: waits for the result.
    template <class F, class... A>
        requires detail::fork_callable<F, std::tuple<A...>, true>
    auto apply(F f, std::tuple<A...> args) {
        return apply_async(f, std::move(args)).take();
    }

    // Pool.map, imap, imap_unordered over f(item), and starmap over
    // std::apply(f, item) (items are tuples or pairs); as for thread_pool.
    // Items are range_value_t<Range>, encoded by its codec.
    template <class F, std::ranges::input_range Range>
        requires detail::fork_callable<F, std::ranges::range_value_t<Range>, false>
    auto map(F f, Range&& range, std::size_t chunksize = 0) {
        return collect(make_typed_imap<false>(f, std::forward<Range>(range), pick_chunksize(range, chunksize), true));
    }
    template <class F, std::ranges::input_range Range>
        requires detail::fork_callable<F, std::ranges::range_value_t<Range>, true>
    auto starmap(F f, Range&& range, std::size_t chunksize = 0) {
        return collect(make_typed_imap<true>(f, std::forward<Range>(range), pick_chunksize(range, chunksize), true));
    }
    template <class F, std::ranges::input_range Range>
        requires detail::fork_callable<F, std::ranges::range_value_t<Range>, false>
    auto imap(F f, Range&& range, std::size_t chunksize = 1) {
        return make_typed_imap<false>(f, std::forward<Range>(range), chunksize, true);
    }
    template <class F, std::ranges::input_range Range>
        requires detail::fork_callable<F, std::ranges::range_value_t<Range>, false>
    auto imap_unordered(F f, Range&& range, std::size_t chunksize = 1) {
        return make_typed_imap<false>(f, std::forward<Range>(range), chunksize, false);
    }
    // Pool.map_async, starmap_async: reads the whole range now and returns
    // the future of the vector of results (in order; the first exception in
    // input order), with callback(const std::vector<R>&) and
    // error_callback(std::exception_ptr) as for apply_async.
    template <class F, std::ranges::input_range Range, class Cb = std::nullptr_t, class Eb = std::nullptr_t>
        requires detail::fork_callable<F, std::ranges::range_value_t<Range>, false>
    auto map_async(F f, Range&& range, std::size_t chunksize = 0, Cb callback = nullptr, Eb error_callback = nullptr) {
        return typed_map_async<false>(f, std::forward<Range>(range), chunksize, std::move(callback),
                                      std::move(error_callback));
    }
    template <class F, std::ranges::input_range Range, class Cb = std::nullptr_t, class Eb = std::nullptr_t>
        requires detail::fork_callable<F, std::ranges::range_value_t<Range>, true>
    auto starmap_async(F f, Range&& range, std::size_t chunksize = 0, Cb callback = nullptr,
                       Eb error_callback = nullptr) {
        return typed_map_async<true>(f, std::forward<Range>(range), chunksize, std::move(callback),
                                     std::move(error_callback));
    }

    // ---- bytes calls, through the pool's own fn

    std::string apply(std::string_view item) { return apply_async(item).take(); }
    future<std::string> apply_async(std::string_view item);

    // chunksize 0: about 4 chunks a worker for a sized range, else 1.
    template <std::ranges::input_range Range>
    std::vector<std::string> map(Range&& range, std::size_t chunksize = 0) {
        return collect(make_imap(std::forward<Range>(range), pick_chunksize(range, chunksize), true));
    }
    // Items are anything convertible to std::string_view, also elements a
    // range produces by value (held while they are copied).  A chunk travels
    // to a worker as one message and comes back as one.  As for thread_pool,
    // an item whose call threw (remote_error) fails only its own position; a
    // worker that dies fails every position of the chunk it was running.
    template <std::ranges::input_range Range>
    auto imap(Range&& range, std::size_t chunksize = 1) {
        return make_imap(std::forward<Range>(range), chunksize, true);
    }
    template <std::ranges::input_range Range>
    auto imap_unordered(Range&& range, std::size_t chunksize = 1) {
        return make_imap(std::forward<Range>(range), chunksize, false);
    }

    void close();      // no more tasks; workers exit once the queued ones are done
    // The hard stop: kills the workers (SIGKILL) now, losing what they hold in
    // their stdio buffers; unfinished futures fail ("fork_pool terminated").
    void terminate();
    void join();       // after close() or terminate(): waits for the workers to exit

    // Internal: hands a job to the I/O thread (fills in its frame's header).
    void submit_job(std::unique_ptr<detail::fork_job> job);

private:
    template <class Range>
    std::size_t pick_chunksize(Range& range, std::size_t chunksize) const {
        if constexpr (std::ranges::sized_range<Range>) {
            auto n = std::size_t(std::ranges::size(range));
            if (chunksize == 0) chunksize = (n + 4 * size() - 1) / (4 * size());
        }
        return std::max<std::size_t>(1, chunksize);
    }
    template <class Imap>
    static auto collect(Imap&& results) {
        std::vector<std::remove_cvref_t<decltype(*results.begin())>> out;
        for (auto& r : results) out.push_back(std::move(r));
        return out;
    }

    template <class R, class Reply>
    future<R> submit_one(std::string frame) {
        auto job = std::make_unique<detail::one_job<R, Reply>>();
        job->frame = std::move(frame);
        job->count = 1;
        auto fut = job->result.get_future();
        submit_job(std::move(job));
        return fut;
    }
    template <class Reply>
    future<detail::chunk_result<typename Reply::type>> submit_chunk(std::string frame, std::uint32_t count) {
        auto job = std::make_unique<detail::chunk_job<Reply>>();
        job->frame = std::move(frame);
        job->count = count;
        auto fut = job->result.get_future();
        submit_job(std::move(job));
        return fut;
    }

    // A submit step of detail::imap_range: the next chunk of items, each
    // f's argument, in one frame.
    template <bool Star, class F, class T>
    auto typed_chunks(F f) {
        using R = detail::call_result_t<F, T, Star>;
        return [this, f](auto& it, auto& end, std::size_t cs) {
            std::string frame = detail::typed_request<F, T, Star>(f);
            std::uint32_t n = 0;
            for (; n < cs && it != end; ++it, ++n) {
                auto&& elem = *it;  // an element produced by value lives until it is encoded
                detail::typed_put_item<T>(frame, elem);
            }
            return std::pair{submit_chunk<detail::codec_reply<R>>(std::move(frame), n), std::size_t(n)};
        };
    }
    template <bool Star, class F, class Range>
    auto make_typed_imap(F f, Range&& range, std::size_t chunksize, bool ordered) {
        using T = std::ranges::range_value_t<Range>;
        using R = detail::call_result_t<F, T, Star>;
        static_assert(!std::is_void_v<R>, "fork_pool: imap/map need a function that returns a value");
        auto submit = typed_chunks<Star, F, T>(f);
        using View = std::views::all_t<Range>;
        return detail::imap_range<R, View, decltype(submit)>(std::views::all(std::forward<Range>(range)), chunksize,
                                                              3 * size() + 1, ordered, std::move(submit));
    }
    template <bool Star, class F, class Range, class Cb, class Eb>
    auto typed_map_async(F f, Range&& range, std::size_t chunksize, Cb callback, Eb error_callback) {
        using T = std::ranges::range_value_t<Range>;
        using R = detail::call_result_t<F, T, Star>;
        static_assert(!std::is_void_v<R>, "fork_pool: map_async needs a function that returns a value");
        chunksize = pick_chunksize(range, chunksize);
        auto submit = typed_chunks<Star, F, T>(f);
        std::vector<future<detail::chunk_result<R>>> chunks;
        auto it = std::ranges::begin(range);
        auto end = std::ranges::end(range);
        while (it != end) chunks.push_back(submit(it, end, chunksize).first);
        auto fut = detail::gather_chunks(std::move(chunks));
        detail::on_result(fut, std::move(callback), std::move(error_callback));
        return fut;
    }

    template <class Range>
    auto make_imap(Range&& range, std::size_t chunksize, bool ordered) {
        require_function();
        // The frame is built in an uninitialized buffer (no zero-fill) that
        // becomes the task's message as it is, with no copy.
        auto submit = [this](auto& it, auto& end, std::size_t cs) {
            std::size_t cap = detail::wire_request_header + std::min<std::size_t>(cs, 1 << 20) * 16;
            auto buf = std::make_unique_for_overwrite<char[]>(cap);
            detail::wire_put_call(buf.get(), nullptr, 0);
            char* d = buf.get() + detail::wire_request_header;
            char* lim = buf.get() + cap;
            std::uint32_t n = 0;
            for (; n < cs && it != end; ++it, ++n) {
                // Bound to a reference so that an element produced by value (a
                // transform yielding std::string) lives until it is copied.
                auto&& elem = *it;
                std::string_view v(elem);
                if (std::size_t(lim - d) < detail::wire_item_header + v.size()) {
                    std::size_t used = std::size_t(d - buf.get());
                    cap = std::max(used + detail::wire_item_header + v.size(), 2 * cap);
                    auto bigger = std::make_unique_for_overwrite<char[]>(cap);
                    std::memcpy(bigger.get(), buf.get(), used);
                    buf = std::move(bigger);
                    d = buf.get() + used;
                    lim = buf.get() + cap;
                }
                d = detail::wire_put_item(d, v);
            }
            auto job = std::make_unique<detail::chunk_job<detail::bytes_reply>>();
            job->raw = std::move(buf);
            job->raw_size = std::size_t(d - job->raw.get());
            job->count = n;
            auto fut = job->result.get_future();
            submit_job(std::move(job));
            return std::pair{std::move(fut), std::size_t(n)};
        };
        using View = std::views::all_t<Range>;
        return detail::imap_range<std::string, View, decltype(submit)>(
            std::views::all(std::forward<Range>(range)), chunksize, 3 * size() + 1, ordered,
            std::move(submit));
    }
    void require_function() const;  // throws std::logic_error for a pool built without fn

    struct impl;
    std::unique_ptr<impl> impl_;
};


namespace detail {

// The order in which futures finish: a done-callback on each appends its
// index (concurrent.futures' waiter).  Shared with the callbacks, so it may
// outlive whoever waits on it.
struct finish_order {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::size_t> done;
    bool failed = false;  // one finished with an exception

    template <class R>
    static std::shared_ptr<finish_order> watch(const std::vector<future<R>>& fs) {
        auto o = std::make_shared<finish_order>();
        o->done.reserve(fs.size());
        for (std::size_t i = 0; i < fs.size(); ++i)
            fs[i].add_done_callback([o, i](const future<R>& f) {
                bool err = !f.cancelled() && f.exception();
                {
                    std::lock_guard lk(o->m);
                    o->done.push_back(i);
                    o->failed = o->failed || err;
                }
                o->cv.notify_all();
            });
        return o;
    }
    // Waits until pred() (called with m held) or the deadline; returns pred().
    template <class Pred>
    bool wait_until(std::optional<std::chrono::steady_clock::time_point> deadline, Pred pred) {
        std::unique_lock lk(m);
        if (!deadline) {
            cv.wait(lk, pred);
            return true;
        }
        return cv.wait_until(lk, *deadline, pred);
    }
};

inline std::optional<std::chrono::steady_clock::time_point> deadline_after(
    std::optional<std::chrono::steady_clock::duration> timeout) {
    if (!timeout) return std::nullopt;
    return std::chrono::steady_clock::now() + *timeout;
}

}  // namespace detail

// concurrent.futures.as_completed: an input range over the futures of fs
// (of any pool, or of promises), each once, in the order they finish;
// those already done come first.  With a timeout (counted from this call),
// advancing to a future that is not done by then throws timeout_error, as
// Python's iterator raises TimeoutError.  Reading the range from several
// threads at once is not supported.
template <class R>
class as_completed {
public:
    explicit as_completed(std::vector<future<R>> fs,
                          std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt)
        : fs_(std::move(fs)), order_(detail::finish_order::watch(fs_)),
          deadline_(detail::deadline_after(timeout)) {}

    class iterator {
    public:
        using value_type = future<R>;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(as_completed* r) : r_(r) {}
        const future<R>& operator*() const { return r_->fs_[r_->cur_]; }
        const future<R>* operator->() const { return &**this; }
        iterator& operator++() {
            r_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const { return r_->next_ > r_->fs_.size(); }

    private:
        as_completed* r_ = nullptr;
    };

    // Call once: waits for the first future to finish.
    iterator begin() {
        advance();
        return iterator(this);
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    // Moves to the next future to finish; past the end after the last one.
    void advance() {
        if (next_ >= fs_.size()) {
            next_ = fs_.size() + 1;
            return;
        }
        if (!order_->wait_until(deadline_, [&] { return order_->done.size() > next_; })) throw timeout_error();
        std::lock_guard lk(order_->m);
        cur_ = order_->done[next_++];
    }

    std::vector<future<R>> fs_;
    std::shared_ptr<detail::finish_order> order_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::size_t next_ = 0, cur_ = 0;
};

// concurrent.futures.wait's (done, not_done).
template <class R>
struct futures_wait_result {
    std::vector<future<R>> done;
    std::vector<future<R>> not_done;
};

// concurrent.futures.wait: returns when the policy is met (first_completed:
// one future is done; first_exception: one failed, or all are done;
// all_completed: all are done) or when the timeout has passed, whichever is
// first; a timeout is not an error.  done holds the futures done at that
// moment and not_done the others, each in the order of fs.
template <class R>
futures_wait_result<R> wait(const std::vector<future<R>>& fs, wait_policy return_when = wait_policy::all_completed,
                            std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt) {
    auto deadline = detail::deadline_after(timeout);
    auto order = detail::finish_order::watch(fs);
    order->wait_until(deadline, [&] {
        std::size_t n = order->done.size();
        switch (return_when) {
            case wait_policy::first_completed: return n > 0 || fs.empty();
            case wait_policy::first_exception: return order->failed || n == fs.size();
            case wait_policy::all_completed: break;
        }
        return n == fs.size();
    });
    futures_wait_result<R> r;
    for (auto& f : fs) (f.done() ? r.done : r.not_done).push_back(f);
    return r;
}

}  // namespace conc
