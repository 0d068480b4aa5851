// conc/co_sync.hpp: synchronisation between the tasks of one loop.
//
// co::event, co::semaphore and channel<T> (also co::channel) suspend a task,
// not a thread: asyncio.Event, asyncio.Semaphore and asyncio.Queue.  For
// threads and processes, see conc/sync.hpp.
#pragma once
#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

#include "conc/loop.hpp"

namespace conc {

struct channel_closed : std::exception {
    const char* what() const noexcept override { return "channel closed"; }
};

// The loop's own event and semaphore live in conc::co: they suspend a task,
// not a thread.  conc::event and conc::semaphore (sync.hpp) block threads and
// processes.  Python draws the same line between asyncio.Event and
// multiprocessing.Event.
namespace co {

// asyncio.Event.
class event {
public:
    bool is_set() const noexcept { return set_; }
    void set();
    void clear() noexcept { set_ = false; }
    auto wait() {
        struct awaiter : detail::waiter {
            event* ev;
            explicit awaiter(event* e) : ev(e) {}
            ~awaiter() override { detach(); }
            bool await_ready() const noexcept { return ev->set_; }
            bool await_suspend(std::coroutine_handle<> h) {
                if (!detail::loop_access::begin_wait(loop::current(), *this, h)) return false;
                ev->waiters_.push_back(this);
                return true;
            }
            void await_resume() const { throw_if_cancelled(); }
        };
        return awaiter{this};
    }

private:
    bool set_ = false;
    detail::waiter_list waiters_;
};

// asyncio.Semaphore: acquire() suspends while the count is zero; waiters are served in order.
class semaphore {
public:
    explicit semaphore(std::size_t initial) : count_(initial) {}
    std::size_t value() const noexcept { return count_; }
    bool try_acquire() noexcept {
        if (count_ == 0 || !waiters_.empty()) return false;
        --count_;
        return true;
    }
    void release();
    auto acquire() {
        struct awaiter : detail::waiter {
            semaphore* s;
            explicit awaiter(semaphore* x) : s(x) {}
            ~awaiter() override { detach(); }
            bool await_ready() noexcept { return s->try_acquire(); }
            bool await_suspend(std::coroutine_handle<> h) {
                if (!detail::loop_access::begin_wait(loop::current(), *this, h)) return false;
                s->waiters_.push_back(this);
                return true;
            }
            void await_resume() const { throw_if_cancelled(); }
        };
        return awaiter{this};
    }

private:
    std::size_t count_;
    detail::waiter_list waiters_;
};

}  // namespace co

// asyncio.Queue: a bounded FIFO between tasks.  send() suspends while full;
// receive() suspends while empty and returns nullopt once closed and drained.
// capacity 0 is a rendezvous: send() waits until a receiver takes the value.
template <class T>
class channel {
public:
    explicit channel(std::size_t capacity) : capacity_(capacity) {}
    // asyncio.Queue's qsize(), maxsize, empty() and full().  size(): values
    // buffered now; capacity(): the bound given at construction.
    std::size_t size() const noexcept { return buf_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }
    // try_receive() would get nothing now: no value buffered, no sender waiting.
    bool empty() const noexcept { return buf_.empty() && senders_.empty(); }
    // try_send() on the open channel would return false now: size() has
    // reached capacity() and no receiver is waiting.  On a rendezvous
    // (capacity 0) channel, full() is false exactly while a receiver waits
    // and empty() false while a sender waits.
    bool full() const noexcept { return buf_.size() >= capacity_ && receivers_.empty(); }
    bool closed() const noexcept { return closed_; }

    // Sends without waiting; false (and v untouched) when the channel is full.
    bool try_send(T v) { return offer(v); }
    // Moves v in only when it can be taken now (used by send()).
    bool offer(T& v) {
        if (closed_) throw channel_closed();
        if (auto* r = static_cast<recv_awaiter*>(receivers_.pop_front())) {
            r->slot.emplace(std::move(v));
            r->fire();
            return true;
        }
        if (buf_.size() < capacity_) {
            buf_.push_back(std::move(v));
            return true;
        }
        return false;
    }
    std::optional<T> try_receive() {
        if (!buf_.empty()) {
            std::optional<T> v(std::move(buf_.front()));
            buf_.pop_front();
            if (auto* s = static_cast<send_awaiter*>(senders_.pop_front())) {
                buf_.push_back(std::move(s->value));
                s->fire();
            }
            return v;
        }
        if (auto* s = static_cast<send_awaiter*>(senders_.pop_front())) {   // rendezvous
            std::optional<T> v(std::move(s->value));
            s->fire();
            return v;
        }
        return std::nullopt;
    }
    // Wakes every waiter: receivers get nullopt once the buffer is empty, senders channel_closed.
    void close() {
        closed_ = true;
        while (auto* r = receivers_.pop_front()) r->fire();
        while (auto* s = senders_.pop_front()) {
            static_cast<send_awaiter*>(s)->refused = true;
            s->fire();
        }
    }

    struct send_awaiter : detail::waiter {
        channel* ch;
        T value;
        bool refused = false;
        send_awaiter(channel* c, T v) : ch(c), value(std::move(v)) {}
        ~send_awaiter() override { detach(); }
        bool await_ready() { return ch->offer(value); }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!detail::loop_access::begin_wait(loop::current(), *this, h)) return false;
            ch->senders_.push_back(this);
            return true;
        }
        void await_resume() const {
            throw_if_cancelled();
            if (refused) throw channel_closed();
        }
    };
    struct recv_awaiter : detail::waiter {
        channel* ch;
        std::optional<T> slot;
        explicit recv_awaiter(channel* c) : ch(c) {}
        ~recv_awaiter() override { detach(); }
        bool await_ready() {
            slot = ch->try_receive();
            return slot || ch->closed_;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!detail::loop_access::begin_wait(loop::current(), *this, h)) return false;
            ch->receivers_.push_back(this);
            return true;
        }
        std::optional<T> await_resume() {
            throw_if_cancelled();
            return std::move(slot);
        }
    };
    send_awaiter send(T v) { return send_awaiter(this, std::move(v)); }
    recv_awaiter receive() { return recv_awaiter(this); }

private:
    std::size_t capacity_;
    bool closed_ = false;
    std::deque<T> buf_;
    detail::waiter_list senders_, receivers_;
};

namespace co {
template <class T>
using channel = conc::channel<T>;
}

}  // namespace conc
