// conc/queue.hpp: a typed queue between threads: Python's queue.Queue,
// LifoQueue and PriorityQueue (with task_done and join), and a close() that
// lets consumers drain and stop.
//
//     conc::queue<std::string> q(100);            // at most 100 items
//     std::thread worker([&] {
//         std::string s;
//         while (q.get(s) == conc::queue_status::ok) { use(s); q.task_done(); }
//     });
//     q.put("one");
//     q.join();                                   // every item done
//     q.close();                                  // the worker's get returns closed
//     worker.join();
//
// Between processes, the same calls are on conc::shm_queue (bytes in shared
// memory); between tasks of one loop, conc::channel.
#pragma once
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "conc/shm_queue.hpp"   // queue_kind, queue_status

namespace conc {

// kind: fifo (queue.Queue), lifo (LifoQueue), or priority (PriorityQueue:
// the least item by cmp first; first in, first out among equals).  maxsize
// 0: no bound.  T need only be movable.
template <class T, class Compare = std::less<T>>
class queue {
public:
    explicit queue(std::size_t maxsize = 0, queue_kind kind = queue_kind::fifo, Compare cmp = Compare())
        : maxsize_(maxsize), kind_(kind), cmp_(std::move(cmp)) {}
    queue(const queue&) = delete;
    queue& operator=(const queue&) = delete;

    // --- put: v is moved from only when the result is ok.
    // put waits while full: ok, closed.  try_put: ok, full, closed.
    // put_for: ok, timeout, closed.
    template <class U = T>
    queue_status put(U&& v) {
        std::unique_lock lk(mu_);
        not_full_.wait(lk, [&] { return closed_ || !full_locked(); });
        return push_locked(std::forward<U>(v), lk);
    }
    template <class U = T>
    queue_status try_put(U&& v) {
        std::unique_lock lk(mu_);
        if (!closed_ && full_locked()) return queue_status::full;
        return push_locked(std::forward<U>(v), lk);
    }
    template <class U, class R, class P>
    queue_status put_for(U&& v, const std::chrono::duration<R, P>& timeout) {
        std::unique_lock lk(mu_);
        if (!not_full_.wait_for(lk, timeout, [&] { return closed_ || !full_locked(); })) return queue_status::timeout;
        return push_locked(std::forward<U>(v), lk);
    }

    // --- get: out receives the item.  get waits while empty: ok, closed
    // (closed and drained).  try_get: ok, empty, closed.  get_for: ok,
    // timeout, closed.
    queue_status get(T& out) {
        std::unique_lock lk(mu_);
        not_empty_.wait(lk, [&] { return closed_ || size_locked() > 0; });
        return pop_locked(out, lk);
    }
    queue_status try_get(T& out) {
        std::unique_lock lk(mu_);
        if (!closed_ && size_locked() == 0) return queue_status::empty;
        return pop_locked(out, lk);
    }
    template <class R, class P>
    queue_status get_for(T& out, const std::chrono::duration<R, P>& timeout) {
        std::unique_lock lk(mu_);
        if (!not_empty_.wait_for(lk, timeout, [&] { return closed_ || size_locked() > 0; })) return queue_status::timeout;
        return pop_locked(out, lk);
    }

    // --- JoinableQueue.  task_done(n) marks n taken items done; it throws
    // std::logic_error (and changes nothing) if n exceeds the unfinished
    // tasks.  join waits until every item put has been marked done.
    void task_done(std::size_t n = 1) {
        std::lock_guard lk(mu_);
        if (n > unfinished_) throw std::logic_error("conc::queue::task_done: called more times than items were put");
        unfinished_ -= n;
        if (unfinished_ == 0) all_done_.notify_all();
    }
    void join() {
        std::unique_lock lk(mu_);
        all_done_.wait(lk, [&] { return unfinished_ == 0; });
    }
    // ok, or timeout.
    template <class R, class P>
    queue_status join_for(const std::chrono::duration<R, P>& timeout) {
        std::unique_lock lk(mu_);
        return all_done_.wait_for(lk, timeout, [&] { return unfinished_ == 0; }) ? queue_status::ok
                                                                                : queue_status::timeout;
    }

    // --- closing (Python 3.13's shutdown): puts return closed from now on;
    // gets take what is left, then return closed.  Wakes every waiter.
    // false if it was closed already.
    bool close() {
        {
            std::lock_guard lk(mu_);
            if (closed_) return false;
            closed_ = true;
        }
        not_empty_.notify_all();
        not_full_.notify_all();
        return true;
    }

    // --- looking: snapshots, stale when they return (as in Python).
    std::size_t size() const { std::lock_guard lk(mu_); return size_locked(); }   // qsize()
    std::size_t capacity() const noexcept { return maxsize_; }                   // maxsize; 0: none
    bool empty() const { return size() == 0; }
    bool full() const { std::lock_guard lk(mu_); return full_locked(); }
    bool closed() const { std::lock_guard lk(mu_); return closed_; }
    std::size_t unfinished() const { std::lock_guard lk(mu_); return unfinished_; }
    queue_kind kind() const noexcept { return kind_; }

private:
    struct ranked {
        T value;
        std::uint64_t seq;
    };
    // The heap's top is the least item, the earliest among equals.
    struct later {
        const Compare* cmp;
        bool operator()(const ranked& a, const ranked& b) const {
            if ((*cmp)(b.value, a.value)) return true;
            if ((*cmp)(a.value, b.value)) return false;
            return a.seq > b.seq;
        }
    };

    std::size_t size_locked() const noexcept { return kind_ == queue_kind::priority ? heap_.size() : items_.size(); }
    bool full_locked() const noexcept { return maxsize_ != 0 && size_locked() >= maxsize_; }

    template <class U>
    queue_status push_locked(U&& v, std::unique_lock<std::mutex>& lk) {
        if (closed_) return queue_status::closed;
        if (kind_ == queue_kind::priority) {
            heap_.push_back(ranked{T(std::forward<U>(v)), seq_++});
            std::push_heap(heap_.begin(), heap_.end(), later{&cmp_});
        } else {
            items_.emplace_back(std::forward<U>(v));
        }
        ++unfinished_;
        lk.unlock();
        not_empty_.notify_one();
        return queue_status::ok;
    }

    queue_status pop_locked(T& out, std::unique_lock<std::mutex>& lk) {
        if (size_locked() == 0) return queue_status::closed;   // the callers waited: closed and drained
        if (kind_ == queue_kind::priority) {
            std::pop_heap(heap_.begin(), heap_.end(), later{&cmp_});
            out = std::move(heap_.back().value);
            heap_.pop_back();
        } else if (kind_ == queue_kind::lifo) {
            out = std::move(items_.back());
            items_.pop_back();
        } else {
            out = std::move(items_.front());
            items_.pop_front();
        }
        lk.unlock();
        not_full_.notify_one();
        return queue_status::ok;
    }

    const std::size_t maxsize_;
    const queue_kind kind_;
    Compare cmp_;
    mutable std::mutex mu_;
    std::condition_variable not_empty_, not_full_, all_done_;
    std::deque<T> items_;          // fifo, lifo
    std::vector<ranked> heap_;     // priority
    std::uint64_t seq_ = 0;
    std::size_t unfinished_ = 0;
    bool closed_ = false;
};

// Python's names.
template <class T>
struct lifo_queue : queue<T> {
    explicit lifo_queue(std::size_t maxsize = 0) : queue<T>(maxsize, queue_kind::lifo) {}
};
template <class T, class Compare = std::less<T>>
struct priority_queue : queue<T, Compare> {
    explicit priority_queue(std::size_t maxsize = 0, Compare cmp = Compare())
        : queue<T, Compare>(maxsize, queue_kind::priority, std::move(cmp)) {}
};

}  // namespace conc
