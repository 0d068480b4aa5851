// conc/sync.hpp: locks, conditions, semaphores, events and barriers that work
// between processes (placed in shared memory) as well as between threads.
//
// The in-memory primitives (mutex, recursive_mutex, condition, semaphore,
// bounded_semaphore, event, barrier, rwlock) are standard-layout objects meant
// to live at a fixed address inside a shared mapping: the creator constructs
// each one once (placement new, or conc::construct_in from shm.hpp), every
// other process uses it in place.  They are neither copyable nor movable.
// Exactly one process destroys them, or none (the mapping going away is enough
// on Linux).
//
// Every blocking call has a timed form (try_*_for / try_*_until, wait_for).
// Timeouts are measured on the steady clock; waits that the kernel only offers
// on CLOCK_REALTIME are re-armed when a clock step ends them early.
//
// Failures of the system are thrown as conc::sys_error; ordinary outcomes
// (a timeout, a lock already held) are return values.
#pragma once
#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "conc/error.hpp"

namespace conc {

// ---------------------------------------------------------------------------
// Names and keys, shared with shm.hpp.

// How a named object (POSIX shm segment, named semaphore, SysV set) is opened.
enum class open_mode {
    create_exclusive,  // O_CREAT|O_EXCL / IPC_CREAT|IPC_EXCL: fails with EEXIST
    open_existing,     // fails with ENOENT when missing
    create_or_open,    // whichever applies; see created() on the handle
};

// A System V IPC key: from a path and a project id (ftok), or IPC_PRIVATE.
struct ipc_key {
    key_t value;
    // ftok(path, proj_id); throws sys_error("ftok 'path'") if path is missing.
    static ipc_key from_path(const std::string& path, int proj_id);
    static ipc_key private_key() noexcept;  // IPC_PRIVATE
    bool is_private() const noexcept;
};

namespace detail {
using nanos = std::chrono::nanoseconds;
template <class Rep, class Period>
nanos to_nanos(const std::chrono::duration<Rep, Period>& d) {
    auto n = std::chrono::duration_cast<nanos>(d);
    return n < nanos::zero() ? nanos::zero() : n;
}
template <class Clock, class Dur>
nanos until_nanos(const std::chrono::time_point<Clock, Dur>& tp) {
    return to_nanos(tp - Clock::now());
}
}  // namespace detail

// ---------------------------------------------------------------------------
// Robust, process-shared mutexes.
//
// Not glibc's robust mutexes (their lock/unlock cost about four plain ones)
// but the same protocol, done in a few inline-able steps (sync.cpp):
//
//   word     a 32-bit futex word: 0 when free, else the owner's thread id,
//            with FUTEX_WAITERS when someone sleeps on it and FUTEX_OWNER_DIED
//            when the kernel found its owner dead;
//   list     while held, the mutex is linked into the owning thread's robust
//            list, the one glibc registers for every thread (set_robust_list),
//            in glibc's own doubly linked format, so that glibc's robust
//            mutexes and these share the list.  When a thread exits or is
//            killed, the kernel walks that list and, for each lock the thread
//            still owns, sets FUTEX_OWNER_DIED and wakes one waiter.
//
// The next locker takes a word marked FUTEX_OWNER_DIED as free, makes the
// mutex consistent at once and reports owner_died.  See sync.cpp for the
// details (and for the conditions under which the list is not glibc's).

class condition;

// What an acquisition found.  owner_died: the previous owner died holding
// the lock; it has been made consistent again, but the data it guarded may be
// half-updated and the new owner should check or repair it.
struct lock_result {
    bool acquired = false;
    bool owner_died = false;
    explicit operator bool() const noexcept { return acquired; }
};

namespace detail {
// The kernel's view of a held lock: where its futex word lies relative to
// the list entry.  The layout is glibc's pthread_mutex_t on 64-bit Linux
// (__lock at 0, __list.__prev at 24, __list.__next at 32), because glibc's
// list code unlinks its own mutexes by writing into their neighbours' links.
struct robust_entry {
    std::uint32_t word = 0;   // the futex word (owner tid | FUTEX_WAITERS | FUTEX_OWNER_DIED)
    unsigned depth = 0;       // acquisitions by the holder (recursive), touched only while held
    bool owner_died = false;  // what the acquisition that got it found
    bool recursive = false;   // fixed at construction
    char unused[14] = {};
    void* prev = nullptr;     // robust list links, set only while held
    void* next = nullptr;
};

// The common body of mutex and recursive_mutex.  The lock and unlock paths
// are out of line in sync.cpp, where the calling thread's id and robust list
// are kept.
class robust_mutex_base {
public:
    robust_mutex_base(const robust_mutex_base&) = delete;
    robust_mutex_base& operator=(const robust_mutex_base&) = delete;

    // Lockable / TimedLockable: usable with std::lock_guard, std::unique_lock,
    // std::scoped_lock.  lock() on a non-recursive mutex that the calling
    // thread already holds throws sys_error (EDEADLK) instead of hanging.
    void lock();
    bool try_lock() { return try_lock_checked().acquired; }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& d) {
        return try_lock_for_checked(detail::to_nanos(d)).acquired;
    }
    template <class Clock, class Dur>
    bool try_lock_until(const std::chrono::time_point<Clock, Dur>& tp) {
        return try_lock_for_checked(detail::until_nanos(tp)).acquired;
    }
    // Throws sys_error (EPERM) if the calling thread does not hold it.
    void unlock();

    // The same acquisitions, reporting whether the previous owner died.
    lock_result lock_checked();
    lock_result try_lock_checked();
    lock_result try_lock_for_checked(std::chrono::nanoseconds timeout);

    // Read while holding the lock: whether the acquisition that got it found
    // the previous owner dead.  Stays set until the next acquisition.
    bool owner_died() const noexcept { return e_.owner_died; }
    // Whether the calling thread holds it.
    bool held_by_me() const noexcept;

protected:
    explicit robust_mutex_base(bool recursive) noexcept { e_.recursive = recursive; }
    ~robust_mutex_base() = default;

private:
    friend class conc::condition;
    // timeout: nullptr waits for ever; zero tries once.  Called with the
    // robust list's pending slot already naming this mutex.
    lock_result lock_slow(std::uint32_t seen, const std::chrono::nanoseconds* timeout);
    void unlock_fully();  // for condition waits: whatever the depth

    robust_entry e_;
};
}  // namespace detail

// A non-recursive robust process-shared mutex (Python's multiprocessing.Lock,
// with the kernel's help when a holder dies).
class mutex : public detail::robust_mutex_base {
public:
    mutex() noexcept : robust_mutex_base(false) {}
};

// The same, re-lockable by the thread that holds it (multiprocessing.RLock).
class recursive_mutex : public detail::robust_mutex_base {
public:
    recursive_mutex() noexcept : robust_mutex_base(true) {}
};

// The locks a condition can wait with.
template <class M>
concept robust_lockable = std::derived_from<M, detail::robust_mutex_base>;

// ---------------------------------------------------------------------------
// Condition variable (process-shared, CLOCK_MONOTONIC), used with a held
// conc::mutex or conc::recursive_mutex, such as the lock a shared_value or a
// shared_array carries (Python's Condition(lock)).  Waiting releases the lock
// wholly, however many times a recursive_mutex is held, and takes it back to
// the same depth before returning (as Python's Condition does with an RLock).
//
// Two futex words, not glibc's pthread_cond_t: a sequence number that every
// notify advances, and a count of waiters.  A waiter killed in its sleep
// holds nothing (at worst the count stays one too high, which only costs
// later notifies a wake-up call); with pthread_cond_t it would leave a group
// reference that blocks every later notify for ever (see shm_queue.cpp).
// Spurious wake-ups happen: wait with a predicate.
class condition {
public:
    condition() noexcept = default;
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    template <robust_lockable M>
    void wait(std::unique_lock<M>& lock) {
        wait_ns(checked(lock), nullptr);
    }
    template <robust_lockable M, class Pred>
    void wait(std::unique_lock<M>& lock, Pred pred) {
        while (!pred()) wait(lock);
    }
    // Timed waits, as std::condition_variable's; with a predicate, true if
    // pred() held before the time ran out.
    template <robust_lockable M, class R, class P>
    std::cv_status wait_for(std::unique_lock<M>& l, const std::chrono::duration<R, P>& d) {
        auto ns = detail::to_nanos(d);
        return wait_ns(checked(l), &ns);
    }
    template <robust_lockable M, class C, class D>
    std::cv_status wait_until(std::unique_lock<M>& l, const std::chrono::time_point<C, D>& tp) {
        auto ns = detail::until_nanos(tp);
        return wait_ns(checked(l), &ns);
    }
    template <robust_lockable M, class R, class P, class Pred>
    bool wait_for(std::unique_lock<M>& l, const std::chrono::duration<R, P>& d, Pred pred) {
        return wait_until(l, std::chrono::steady_clock::now() + detail::to_nanos(d), std::move(pred));
    }
    template <robust_lockable M, class C, class D, class Pred>
    bool wait_until(std::unique_lock<M>& l, const std::chrono::time_point<C, D>& tp, Pred pred) {
        while (!pred())
            if (wait_until(l, tp) == std::cv_status::timeout) return pred();
        return true;
    }

    // With or without the lock held.
    void notify_one();
    void notify_all();

private:
    template <class M>
    static detail::robust_mutex_base& checked(std::unique_lock<M>& l) {
        if (!l.owns_lock()) throw std::logic_error("conc::condition: wait without holding the lock");
        return *l.mutex();
    }
    // timeout: nullptr for none.  Checks that the calling thread holds m.
    std::cv_status wait_ns(detail::robust_mutex_base& m, const std::chrono::nanoseconds* timeout);
    void notify(int how_many);

    std::uint32_t seq_ = 0;      // futex word: advanced by every notify that finds waiters
    std::uint32_t waiters_ = 0;  // threads between registering and waking
};

namespace detail {
// try_acquire_for and try_acquire_until (std::counting_semaphore's names) for
// a semaphore that implements try_acquire_ns.
template <class Sem>
class timed_acquire {
public:
    template <class Rep, class Period>
    bool try_acquire_for(const std::chrono::duration<Rep, Period>& d) {
        return static_cast<Sem&>(*this).try_acquire_ns(to_nanos(d));
    }
    template <class Clock, class Dur>
    bool try_acquire_until(const std::chrono::time_point<Clock, Dur>& tp) {
        return static_cast<Sem&>(*this).try_acquire_ns(until_nanos(tp));
    }
};
}  // namespace detail

// ---------------------------------------------------------------------------
// Counting semaphore (sem_init with pshared = 1).
class semaphore : public detail::timed_acquire<semaphore> {
public:
    explicit semaphore(unsigned initial = 0);
    ~semaphore();
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    void acquire();
    bool try_acquire();
    void release(unsigned n = 1);
    int value() const;  // a snapshot, stale by the time it returns

private:
    friend detail::timed_acquire<semaphore>;
    bool try_acquire_ns(std::chrono::nanoseconds timeout);
    mutable sem_t s_;
};

// A semaphore that may not be released above its initial value (Python's
// BoundedSemaphore): release() past the bound throws std::logic_error and
// changes nothing.
class bounded_semaphore : public detail::timed_acquire<bounded_semaphore> {
public:
    explicit bounded_semaphore(unsigned initial);
    bounded_semaphore(const bounded_semaphore&) = delete;
    bounded_semaphore& operator=(const bounded_semaphore&) = delete;

    void acquire();
    bool try_acquire();
    void release(unsigned n = 1);
    unsigned value() const;
    unsigned max() const noexcept { return max_; }

private:
    friend detail::timed_acquire<bounded_semaphore>;
    bool try_acquire_ns(std::chrono::nanoseconds timeout);
    mutable mutex m_;
    condition c_;
    unsigned count_;
    unsigned max_;
};

// ---------------------------------------------------------------------------
// Event: a flag others can wait for (threading.Event / multiprocessing.Event).
class event {
public:
    event() = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    void set();
    void clear();
    bool is_set() const;
    void wait();
    // Returns the flag: false if the time ran out before it was set.
    template <class Rep, class Period>
    bool wait_for(const std::chrono::duration<Rep, Period>& d) {
        return wait_ns(detail::to_nanos(d));
    }

private:
    bool wait_ns(std::chrono::nanoseconds timeout);
    mutable mutex m_;
    condition c_;
    bool flag_ = false;
};

// ---------------------------------------------------------------------------
// Barrier for a fixed number of parties, reusable over generations.
class barrier {
public:
    explicit barrier(unsigned parties);
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    // Waits until all parties have arrived.  Returns true for exactly one
    // caller per generation (the last to arrive: the "serial" one).
    bool arrive_and_wait();
    // The same with a time limit: std::nullopt if it ran out, in which case
    // this caller's arrival is withdrawn and the barrier stays usable.
    template <class Rep, class Period>
    std::optional<bool> arrive_and_wait_for(const std::chrono::duration<Rep, Period>& d) {
        return arrive_ns(detail::to_nanos(d));
    }
    unsigned parties() const noexcept { return parties_; }

private:
    std::optional<bool> arrive_ns(std::optional<std::chrono::nanoseconds> timeout);
    mutex m_;
    condition c_;
    unsigned parties_;
    unsigned waiting_ = 0;
    unsigned long generation_ = 0;
};

// ---------------------------------------------------------------------------
// Reader-writer lock (pthread_rwlock, process-shared, writers preferred so a
// stream of readers cannot starve them).  Lockable + SharedLockable, so it
// works with std::unique_lock and std::shared_lock.  Not robust: POSIX has no
// robust rwlocks, so a holder that dies leaves it held.
class rwlock {
public:
    rwlock();
    ~rwlock();
    rwlock(const rwlock&) = delete;
    rwlock& operator=(const rwlock&) = delete;

    // Exclusive (writer) and shared (reader) locking; the timed forms take a
    // duration or a time point, as std::unique_lock and std::shared_lock call them.
    void lock();
    bool try_lock();
    template <class D> bool try_lock_for(const D& d) { return timed_ns(true, detail::to_nanos(d)); }
    template <class T> bool try_lock_until(const T& tp) { return timed_ns(true, detail::until_nanos(tp)); }
    void unlock();
    void lock_shared();
    bool try_lock_shared();
    template <class D> bool try_lock_shared_for(const D& d) { return timed_ns(false, detail::to_nanos(d)); }
    template <class T> bool try_lock_shared_until(const T& tp) { return timed_ns(false, detail::until_nanos(tp)); }
    void unlock_shared();

private:
    bool timed_ns(bool exclusive, std::chrono::nanoseconds timeout);
    pthread_rwlock_t l_;
};

// ---------------------------------------------------------------------------
// Named POSIX semaphore (sem_open).  The handle is RAII (sem_close) and
// move-only; the name lives on until unlink().
class named_semaphore {
public:
    named_semaphore() noexcept = default;
    // name gets a leading '/' if it lacks one.  initial and mode apply only
    // when the semaphore is created.
    named_semaphore(std::string name, open_mode how, unsigned initial = 0, mode_t mode = 0600);
    named_semaphore(named_semaphore&& o) noexcept;
    named_semaphore& operator=(named_semaphore&& o) noexcept;
    named_semaphore(const named_semaphore&) = delete;
    named_semaphore& operator=(const named_semaphore&) = delete;
    ~named_semaphore();

    void acquire();
    bool try_acquire();
    template <class Rep, class Period>
    bool try_acquire_for(const std::chrono::duration<Rep, Period>& d) {
        return try_acquire_ns(detail::to_nanos(d));
    }
    void release(unsigned n = 1);
    int value() const;

    const std::string& name() const noexcept { return name_; }
    bool created() const noexcept { return created_; }
    explicit operator bool() const noexcept { return s_ != nullptr; }
    void unlink();                              // sem_unlink(name())
    static void unlink(const std::string& name);  // throws unless it existed
    static bool unlink_if_exists(const std::string& name);

private:
    bool try_acquire_ns(std::chrono::nanoseconds timeout);
    void close() noexcept;
    sem_t* s_ = nullptr;
    std::string name_;
    bool created_ = false;
};

// ---------------------------------------------------------------------------
// A System V semaphore set.  Its strength: acquire(i, undo = true) uses
// SEM_UNDO, so the kernel gives the unit back if the holder exits or is killed.
// The set persists in the kernel until remove(); the handle only names it.
class sysv_semaphore_set {
public:
    sysv_semaphore_set() noexcept = default;
    // Creates nsems semaphores, each set to initial, or opens an existing set
    // (nsems may then be 0).  A private key always creates.  An opener that
    // races a creator waits (up to a second) until the creator has set the values.
    sysv_semaphore_set(ipc_key key, int nsems, open_mode how, unsigned short initial = 0,
                       mode_t mode = 0600);
    sysv_semaphore_set(sysv_semaphore_set&& o) noexcept;
    sysv_semaphore_set& operator=(sysv_semaphore_set&& o) noexcept;
    sysv_semaphore_set(const sysv_semaphore_set&) = delete;
    sysv_semaphore_set& operator=(const sysv_semaphore_set&) = delete;
    ~sysv_semaphore_set() = default;

    // With undo, pair acquire and release with the same flag: the kernel
    // keeps one adjustment per process and semaphore.
    void acquire(int i, bool undo = true);
    bool try_acquire(int i, bool undo = true);
    template <class Rep, class Period>
    bool try_acquire_for(int i, const std::chrono::duration<Rep, Period>& d, bool undo = true) {
        return try_acquire_ns(i, detail::to_nanos(d), undo);
    }
    void release(int i, bool undo = true, unsigned short n = 1);
    int value(int i) const;
    void set_value(int i, int v);  // SETVAL: also clears every process's undo for i
    void remove();                 // IPC_RMID; waiters get EIDRM

    int id() const noexcept { return id_; }
    int size() const noexcept { return nsems_; }
    bool created() const noexcept { return created_; }

private:
    bool op(int i, short delta, short flags, const std::chrono::nanoseconds* timeout);
    bool try_acquire_ns(int i, std::chrono::nanoseconds timeout, bool undo);
    int id_ = -1;
    int nsems_ = 0;
    bool created_ = false;
};

}  // namespace conc
