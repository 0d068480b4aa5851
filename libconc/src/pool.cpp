#include "conc/pool.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include "conc/error.hpp"
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

}  // namespace conc
