// conc/sync.cpp: process-shared synchronisation primitives.
#include "conc/sync.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <mutex>
#include <thread>
#include <vector>

#include "create_or_open.hpp"

namespace conc {

using std::chrono::nanoseconds;
using std::chrono::steady_clock;

namespace {

timespec clock_plus(clockid_t clk, nanoseconds d) {
    timespec ts;
    clock_gettime(clk, &ts);
    long long ns = ts.tv_nsec + d.count() % 1000000000LL;
    ts.tv_sec += time_t(d.count() / 1000000000LL + ns / 1000000000LL);
    ts.tv_nsec = long(ns % 1000000000LL);
    return ts;
}

timespec to_timespec(nanoseconds d) {
    timespec ts;
    ts.tv_sec = time_t(d.count() / 1000000000LL);
    ts.tv_nsec = long(d.count() % 1000000000LL);
    return ts;
}

// Several waits (pthread_mutex_timedlock, sem_timedwait, the rwlock ones)
// take a CLOCK_REALTIME deadline; the *clock* variants that take
// CLOCK_MONOTONIC are not seen by ThreadSanitizer.  So: wait on a realtime
// deadline and start again if the wall clock was stepped forward.
// wait(&deadline) returns 0 or an errno value; EINTR is retried.
template <class Wait>
int wait_steady(nanoseconds timeout, Wait wait) {
    auto end = steady_clock::now() + timeout;
    for (;;) {
        auto left = end - steady_clock::now();
        if (left < nanoseconds::zero()) left = nanoseconds::zero();
        timespec deadline = clock_plus(CLOCK_REALTIME, std::chrono::duration_cast<nanoseconds>(left));
        int rc = wait(&deadline);
        if (rc == ETIMEDOUT) {
            if (steady_clock::now() >= end) return ETIMEDOUT;
            continue;
        }
        if (rc == EINTR) continue;
        return rc;
    }
}

std::string slash_name(std::string name) {
    if (name.empty() || name[0] != '/') name.insert(0, 1, '/');
    return name;
}

}  // namespace

// ---------------------------------------------------------------------------
ipc_key ipc_key::from_path(const std::string& path, int proj_id) {
    key_t k = ftok(path.c_str(), proj_id);
    if (k == key_t(-1)) throw sys_error(errno, "ftok '" + path + "'");
    return ipc_key{k};
}
ipc_key ipc_key::private_key() noexcept { return ipc_key{IPC_PRIVATE}; }
bool ipc_key::is_private() const noexcept { return value == IPC_PRIVATE; }

// ---------------------------------------------------------------------------
// Robust mutexes on a futex word and the thread's robust list.
//
// The protocol is glibc's for PTHREAD_MUTEX_ROBUST (nptl/pthread_mutex_lock.c
// and pthread_mutex_unlock.c) and the kernel's robust-futex ABI
// (Documentation/locking/robust-futex-ABI.rst):
//
//   lock     name the mutex in the list's list_op_pending slot; CAS the word
//            from 0 to our tid; link the mutex at the head of the list; clear
//            the slot.  Killed at any point of this, the kernel finds the
//            mutex either in the slot or in the list.
//   unlock   name it in the slot; unlink it; exchange the word with 0 and, if
//            FUTEX_WAITERS was set, wake one sleeper; clear the slot.
//   death    the kernel, at thread exit (or execve), walks the list and the
//            slot; for each word that still holds the dead thread's id it
//            sets FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and wakes one
//            waiter.  A slot naming a word that is already 0 (died between
//            release and wake-up) gets a wake-up only.
//   recover  a locker that sees FUTEX_OWNER_DIED takes the word with a CAS to
//            its tid (keeping FUTEX_WAITERS) and reports owner_died.  There is
//            no "inconsistent" state to leave: the new owner is told, and the
//            mutex is consistent from then on.
//
// The list.  The kernel keeps one robust list head per thread, and glibc
// registers its own at thread start (struct pthread's robust_head).  A second
// registration would unhook glibc's, so these mutexes go into glibc's list, in
// glibc's format (64-bit: a doubly linked list through __list.__next and
// __list.__prev of pthread_mutex_t, pointers to the __next field, the futex
// word at futex_offset = -32 from it; the head's own "prev" slot is the word
// just before it, glibc's robust_prev).  detail::robust_entry has that layout,
// so glibc's own ENQUEUE/DEQUEUE of its mutexes keep our links right and ours
// keep theirs.  The head is found with get_robust_list(0) and checked
// (futex_offset); a thread without one (not started by glibc) gets a list of
// ours, registered with set_robust_list.
//
// The thread id is cached per thread (gettid is a system call); a child made
// by fork() clears the cache in a pthread_atfork handler.  A process made
// otherwise (raw clone, _Fork) must exec before it uses these locks.
//
// The cost, against a default pthread_mutex_t's CAS and exchange: the same two
// atomic operations plus about ten plain loads and stores, all in the calling
// thread's cache (tests/bench/sync_bench.cpp measures it).

namespace {

constexpr std::uint32_t tid_mask = FUTEX_TID_MASK;
constexpr std::uint32_t waiters_bit = FUTEX_WAITERS;
constexpr std::uint32_t owner_died_bit = FUTEX_OWNER_DIED;

#if !defined(__PTHREAD_MUTEX_HAVE_PREV) || !__PTHREAD_MUTEX_HAVE_PREV
#error "conc::mutex expects glibc's doubly linked robust list (64-bit Linux)"
#endif
// The entry's futex word relative to its list link, as the kernel sees it.
constexpr long entry_futex_offset =
    long(offsetof(detail::robust_entry, word)) - long(offsetof(detail::robust_entry, next));
static_assert(entry_futex_offset == long(offsetof(pthread_mutex_t, __data.__lock)) -
                                        long(offsetof(pthread_mutex_t, __data.__list.__next)),
              "robust_entry must place its word where glibc places __lock");
static_assert(offsetof(detail::robust_entry, next) - offsetof(detail::robust_entry, prev) ==
                  offsetof(__pthread_list_t, __next) - offsetof(__pthread_list_t, __prev),
              "robust_entry's links must sit as __pthread_list_t's");
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

struct thread_state {
    std::uint32_t tid;     // 0: not known yet (a new thread, or just forked)
    robust_list_head* head;
};
// Zero-initialised: accessed without a TLS wrapper call.
thread_local thread_state self_state;

// The list of a thread glibc did not give one: a head and, just before it,
// the slot that plays glibc's robust_prev.
struct own_list {
    void* prev_slot;
    robust_list_head head;
};
thread_local own_list own_head;

void forget_tid_after_fork() noexcept { self_state.tid = 0; }

[[gnu::cold, gnu::noinline]] thread_state& init_thread() {
    static std::once_flag atfork_once;
    std::call_once(atfork_once, [] {
        if (int rc = pthread_atfork(nullptr, nullptr, forget_tid_after_fork); rc != 0)
            throw sys_error(rc, "pthread_atfork");
    });
    robust_list_head* h = nullptr;
    std::size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &h, &len) == -1) throw sys_error(errno, "get_robust_list");
    if (!h) {
        own_head.head.list.next = &own_head.head.list;
        own_head.head.futex_offset = entry_futex_offset;
        own_head.head.list_op_pending = nullptr;
        if (syscall(SYS_set_robust_list, &own_head.head, sizeof own_head.head) == -1)
            throw sys_error(errno, "set_robust_list");
        h = &own_head.head;
    } else if (len != sizeof(robust_list_head) || h->futex_offset != entry_futex_offset) {
        throw sys_error(ENOTSUP, "conc::mutex: this thread's robust list is not in glibc's format");
    }
    self_state.head = h;
    self_state.tid = std::uint32_t(gettid());
    return self_state;
}

inline thread_state& self() {
    thread_state& t = self_state;
    if (t.tid == 0) [[unlikely]]
        return init_thread();
    return t;
}

inline std::atomic_ref<std::uint32_t> word_of(detail::robust_entry& e) noexcept {
    return std::atomic_ref<std::uint32_t>(e.word);
}

// Keeps the compiler from reordering the list stores around each other and
// around the word's atomics: the kernel reads the list only once this thread
// has stopped, so program order is the order it sees.
inline void list_barrier() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

inline void* untag(void* p) noexcept {
    return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t(1));
}
// An entry's (or the head's) "prev" slot: the pointer just before its link.
inline void*& prev_slot(void* link) noexcept { return static_cast<void**>(untag(link))[-1]; }
inline void*& next_slot(void* link) noexcept { return *static_cast<void**>(untag(link)); }

inline void set_pending(thread_state& t, detail::robust_entry* e) noexcept {
    t.head->list_op_pending = e ? reinterpret_cast<robust_list*>(&e->next) : nullptr;
    list_barrier();
}

// ENQUEUE_MUTEX: at the head of the list.
inline void enqueue(thread_state& t, detail::robust_entry& e) noexcept {
    void* first = t.head->list.next;
    e.next = first;
    e.prev = &t.head->list;
    prev_slot(first) = &e.next;
    list_barrier();
    t.head->list.next = reinterpret_cast<robust_list*>(&e.next);
    list_barrier();
}

// DEQUEUE_MUTEX.
inline void dequeue(detail::robust_entry& e) noexcept {
    prev_slot(e.next) = e.prev;
    next_slot(e.prev) = e.next;
    list_barrier();
    e.prev = e.next = nullptr;
}

long futex(std::uint32_t* w, int op, std::uint32_t val, const timespec* ts) noexcept {
    return syscall(SYS_futex, w, op, val, ts, nullptr, FUTEX_BITSET_MATCH_ANY);
}

// Sleeps while *w == expected, until deadline (absolute CLOCK_MONOTONIC;
// nullptr: none).  False when the deadline passed.
bool futex_wait(std::uint32_t* w, std::uint32_t expected, const timespec* deadline, const char* doing) {
    if (futex(w, FUTEX_WAIT_BITSET, expected, deadline) == 0) return true;
    if (errno == ETIMEDOUT) return false;
    if (errno == EAGAIN || errno == EINTR) return true;
    throw sys_error(errno, doing);
}

void futex_wake(std::uint32_t* w, int n) noexcept { futex(w, FUTEX_WAKE, std::uint32_t(n), nullptr); }

}  // namespace

namespace detail {

void robust_mutex_base::lock() {
    thread_state& t = self();
    set_pending(t, &e_);
    std::uint32_t seen = 0;
    if (word_of(e_).compare_exchange_strong(seen, t.tid, std::memory_order_acquire, std::memory_order_relaxed))
        [[likely]] {
        enqueue(t, e_);
        set_pending(t, nullptr);
        e_.depth = 1;
        e_.owner_died = false;
        return;
    }
    lock_slow(seen, nullptr);
}

lock_result robust_mutex_base::lock_checked() {
    thread_state& t = self();
    set_pending(t, &e_);
    return lock_slow(word_of(e_).load(std::memory_order_relaxed), nullptr);
}

lock_result robust_mutex_base::try_lock_checked() {
    thread_state& t = self();
    set_pending(t, &e_);
    const nanoseconds zero{0};
    return lock_slow(word_of(e_).load(std::memory_order_relaxed), &zero);
}

lock_result robust_mutex_base::try_lock_for_checked(nanoseconds timeout) {
    thread_state& t = self();
    set_pending(t, &e_);
    if (timeout < nanoseconds::zero()) timeout = nanoseconds::zero();
    return lock_slow(word_of(e_).load(std::memory_order_relaxed), &timeout);
}

// The loop of glibc's robust lock: seen is the word as last read.
lock_result robust_mutex_base::lock_slow(std::uint32_t seen, const nanoseconds* timeout) {
    thread_state& t = self_state;
    auto word = word_of(e_);
    timespec deadline{};
    bool have_deadline = false;
    // Once we may have slept beside others, FUTEX_WAITERS must stay set when
    // we take the word, or their wake-up would be lost.
    std::uint32_t assume_waiters = 0;
    for (;;) {
        if ((seen & tid_mask) == 0) {
            // Free, or its owner died (FUTEX_OWNER_DIED; the tid is then 0).
            const bool died = (seen & owner_died_bit) != 0;
            std::uint32_t want = t.tid | (seen & waiters_bit) | assume_waiters;
            if (!word.compare_exchange_strong(seen, want, std::memory_order_acquire, std::memory_order_relaxed))
                continue;
            enqueue(t, e_);
            set_pending(t, nullptr);
            e_.depth = 1;
            e_.owner_died = died;
            return {true, died};
        }
        if ((seen & tid_mask) == t.tid) {
            set_pending(t, nullptr);
            if (!e_.recursive) {
                if (timeout && timeout->count() == 0) return {false, false};  // try_lock: busy
                throw sys_error(EDEADLK, "conc::mutex::lock: already held by this thread");
            }
            ++e_.depth;  // keeps what the first acquisition found
            return {true, e_.owner_died};
        }
        if (timeout && timeout->count() == 0) {
            set_pending(t, nullptr);
            return {false, false};
        }
        if ((seen & waiters_bit) == 0) {
            if (!word.compare_exchange_strong(seen, seen | waiters_bit, std::memory_order_relaxed))
                continue;
            seen |= waiters_bit;
        }
        assume_waiters = waiters_bit;
        if (timeout && !have_deadline) {
            deadline = clock_plus(CLOCK_MONOTONIC, *timeout);
            have_deadline = true;
        }
        if (!futex_wait(&e_.word, seen, timeout ? &deadline : nullptr, "futex wait (conc::mutex)")) {
            set_pending(t, nullptr);
            return {false, false};
        }
        seen = word.load(std::memory_order_relaxed);
    }
}

bool robust_mutex_base::held_by_me() const noexcept {
    thread_state& t = self_state;
    if (t.tid == 0) return false;  // this thread has locked nothing yet (or has just forked)
    auto w = std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(e_.word)).load(std::memory_order_relaxed);
    return (w & tid_mask) == t.tid;
}

void robust_mutex_base::unlock() {
    thread_state& t = self();
    auto word = word_of(e_);
    if ((word.load(std::memory_order_relaxed) & tid_mask) != t.tid) [[unlikely]]
        throw sys_error(EPERM, "conc::mutex::unlock: not held by this thread");
    if (e_.depth > 1) {
        --e_.depth;
        return;
    }
    e_.depth = 0;
    set_pending(t, &e_);
    dequeue(e_);
    // The last touch of the mutex's memory (the wake-up only uses its address).
    if (word.exchange(0, std::memory_order_release) & waiters_bit) [[unlikely]]
        futex_wake(&e_.word, 1);
    set_pending(t, nullptr);
}

void robust_mutex_base::unlock_fully() {
    e_.depth = 1;
    unlock();
}

}  // namespace detail

// ---------------------------------------------------------------------------
// condition: a sequence word to sleep on and a count of waiters.
//
// A waiter counts itself and reads the sequence while it holds the lock, then
// releases the lock and sleeps on the sequence it read.  A notifier that
// finds waiters advances the sequence, then wakes.  Whoever changed the state
// the waiter waits for did so after the waiter released the lock (or the
// waiter would have seen it), so the notify that follows advances the
// sequence after the waiter read it: the waiter either sleeps and is woken,
// or finds the sequence moved and does not sleep.

std::cv_status condition::wait_ns(detail::robust_mutex_base& m, const nanoseconds* timeout) {
    if (!m.held_by_me()) throw std::logic_error("conc::condition: wait without holding the lock");
    timespec deadline{};
    if (timeout) deadline = clock_plus(CLOCK_MONOTONIC, *timeout < nanoseconds::zero() ? nanoseconds::zero() : *timeout);
    std::atomic_ref<std::uint32_t> waiters(waiters_);
    waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t seq = std::atomic_ref<std::uint32_t>(seq_).load(std::memory_order_seq_cst);
    const unsigned depth = m.e_.depth;
    m.unlock_fully();
    bool woke;
    try {
        woke = futex_wait(&seq_, seq, timeout ? &deadline : nullptr, "futex wait (conc::condition)");
    } catch (...) {
        waiters.fetch_sub(1, std::memory_order_seq_cst);
        m.lock_checked();
        m.e_.depth = depth;
        throw;
    }
    waiters.fetch_sub(1, std::memory_order_seq_cst);
    m.lock_checked();  // owner_died() tells the waiter if the last holder died
    m.e_.depth = depth;
    return woke ? std::cv_status::no_timeout : std::cv_status::timeout;
}

void condition::notify(int how_many) {
    if (std::atomic_ref<std::uint32_t>(waiters_).load(std::memory_order_seq_cst) == 0) return;
    std::atomic_ref<std::uint32_t>(seq_).fetch_add(1, std::memory_order_seq_cst);
    futex_wake(&seq_, how_many);
}

void condition::notify_one() { notify(1); }
void condition::notify_all() { notify(INT_MAX); }

// ---------------------------------------------------------------------------
semaphore::semaphore(unsigned initial) { check(sem_init(&s_, 1, initial), "sem_init"); }
semaphore::~semaphore() { sem_destroy(&s_); }

void semaphore::acquire() {
    while (sem_wait(&s_) == -1)
        if (errno != EINTR) throw sys_error(errno, "sem_wait");
}

bool semaphore::try_acquire() {
    while (sem_trywait(&s_) == -1) {
        if (errno == EAGAIN) return false;
        if (errno != EINTR) throw sys_error(errno, "sem_trywait");
    }
    return true;
}

namespace {
bool sem_timed(sem_t* s, nanoseconds timeout, const char* doing) {
    int rc = wait_steady(timeout, [&](const timespec* dl) { return sem_timedwait(s, dl) == 0 ? 0 : errno; });
    if (rc == 0) return true;
    if (rc == ETIMEDOUT) return false;
    throw sys_error(rc, doing);
}
void sem_post_n(sem_t* s, unsigned n, const char* doing) {
    for (unsigned i = 0; i < n; ++i) check(sem_post(s), doing);
}
}  // namespace

bool semaphore::try_acquire_ns(nanoseconds timeout) { return sem_timed(&s_, timeout, "sem_timedwait"); }
void semaphore::release(unsigned n) { sem_post_n(&s_, n, "sem_post"); }

int semaphore::value() const {
    int v = 0;
    check(sem_getvalue(&s_, &v), "sem_getvalue");
    return v;
}

// ---------------------------------------------------------------------------
bounded_semaphore::bounded_semaphore(unsigned initial) : count_(initial), max_(initial) {}

void bounded_semaphore::acquire() {
    std::unique_lock lk(m_);
    c_.wait(lk, [&] { return count_ > 0; });
    --count_;
}

bool bounded_semaphore::try_acquire() {
    std::unique_lock lk(m_);
    if (count_ == 0) return false;
    --count_;
    return true;
}

bool bounded_semaphore::try_acquire_ns(nanoseconds timeout) {
    std::unique_lock lk(m_);
    if (!c_.wait_for(lk, timeout, [&] { return count_ > 0; })) return false;
    --count_;
    return true;
}

void bounded_semaphore::release(unsigned n) {
    std::unique_lock lk(m_);
    if (n > max_ - count_)
        throw std::logic_error("conc::bounded_semaphore: released more times than acquired");
    count_ += n;
    if (n == 1)
        c_.notify_one();
    else
        c_.notify_all();
}

unsigned bounded_semaphore::value() const {
    std::unique_lock lk(m_);
    return count_;
}

// ---------------------------------------------------------------------------
void event::set() {
    std::unique_lock lk(m_);
    flag_ = true;
    c_.notify_all();
}

void event::clear() {
    std::unique_lock lk(m_);
    flag_ = false;
}

bool event::is_set() const {
    std::unique_lock lk(m_);
    return flag_;
}

void event::wait() {
    std::unique_lock lk(m_);
    c_.wait(lk, [&] { return flag_; });
}

bool event::wait_ns(nanoseconds timeout) {
    std::unique_lock lk(m_);
    return c_.wait_for(lk, timeout, [&] { return flag_; });
}

// ---------------------------------------------------------------------------
barrier::barrier(unsigned parties) : parties_(parties) {
    if (parties == 0) throw std::invalid_argument("conc::barrier: parties must be at least 1");
}

bool barrier::arrive_and_wait() { return *arrive_ns(std::nullopt); }

std::optional<bool> barrier::arrive_ns(std::optional<nanoseconds> timeout) {
    std::unique_lock lk(m_);
    const unsigned long gen = generation_;
    if (++waiting_ == parties_) {
        waiting_ = 0;
        ++generation_;
        c_.notify_all();
        return true;
    }
    auto passed = [&] { return generation_ != gen; };
    if (!timeout) {
        c_.wait(lk, passed);
        return false;
    }
    if (c_.wait_for(lk, *timeout, passed)) return false;
    --waiting_;  // still this generation: withdraw
    return std::nullopt;
}

// ---------------------------------------------------------------------------
rwlock::rwlock() {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&l_, &a);
    pthread_rwlockattr_destroy(&a);
    if (rc != 0) throw sys_error(rc, "pthread_rwlock_init");
}

rwlock::~rwlock() { pthread_rwlock_destroy(&l_); }

void rwlock::lock() {
    int rc = pthread_rwlock_wrlock(&l_);
    if (rc != 0) throw sys_error(rc, "pthread_rwlock_wrlock");
}

bool rwlock::try_lock() {
    int rc = pthread_rwlock_trywrlock(&l_);
    if (rc == EBUSY) return false;
    if (rc != 0) throw sys_error(rc, "pthread_rwlock_trywrlock");
    return true;
}

void rwlock::unlock() {
    int rc = pthread_rwlock_unlock(&l_);
    if (rc != 0) throw sys_error(rc, "pthread_rwlock_unlock");
}

void rwlock::lock_shared() {
    int rc;
    while ((rc = pthread_rwlock_rdlock(&l_)) == EAGAIN) std::this_thread::yield();  // reader count full
    if (rc != 0) throw sys_error(rc, "pthread_rwlock_rdlock");
}

bool rwlock::try_lock_shared() {
    int rc = pthread_rwlock_tryrdlock(&l_);
    if (rc == EBUSY || rc == EAGAIN) return false;
    if (rc != 0) throw sys_error(rc, "pthread_rwlock_tryrdlock");
    return true;
}

void rwlock::unlock_shared() { unlock(); }

bool rwlock::timed_ns(bool exclusive, nanoseconds timeout) {
    int rc = wait_steady(timeout, [&](const timespec* dl) {
        return exclusive ? pthread_rwlock_timedwrlock(&l_, dl) : pthread_rwlock_timedrdlock(&l_, dl);
    });
    if (rc == 0) return true;
    if (rc == ETIMEDOUT || rc == EAGAIN) return false;
    throw sys_error(rc, exclusive ? "pthread_rwlock_timedwrlock" : "pthread_rwlock_timedrdlock");
}

// ---------------------------------------------------------------------------
named_semaphore::named_semaphore(std::string name, open_mode how, unsigned initial, mode_t mode)
    : name_(slash_name(std::move(name))) {
    try {
        created_ = detail::create_or_open(
            how, "sem_open '" + name_ + "'",
            [&] { return (s_ = sem_open(name_.c_str(), O_CREAT | O_EXCL, mode, initial)) != SEM_FAILED; },
            [&] { return (s_ = sem_open(name_.c_str(), 0)) != SEM_FAILED; });
    } catch (...) {
        s_ = nullptr;
        throw;
    }
}

named_semaphore::named_semaphore(named_semaphore&& o) noexcept
    : s_(std::exchange(o.s_, nullptr)), name_(std::move(o.name_)), created_(o.created_) {}

named_semaphore& named_semaphore::operator=(named_semaphore&& o) noexcept {
    if (this != &o) {
        close();
        s_ = std::exchange(o.s_, nullptr);
        name_ = std::move(o.name_);
        created_ = o.created_;
    }
    return *this;
}

named_semaphore::~named_semaphore() { close(); }

void named_semaphore::close() noexcept {
    if (s_) sem_close(s_);
    s_ = nullptr;
}

void named_semaphore::acquire() {
    while (sem_wait(s_) == -1)
        if (errno != EINTR) throw sys_error(errno, "sem_wait '" + name_ + "'");
}

bool named_semaphore::try_acquire() {
    while (sem_trywait(s_) == -1) {
        if (errno == EAGAIN) return false;
        if (errno != EINTR) throw sys_error(errno, "sem_trywait '" + name_ + "'");
    }
    return true;
}

bool named_semaphore::try_acquire_ns(nanoseconds timeout) {
    return sem_timed(s_, timeout, ("sem_timedwait '" + name_ + "'").c_str());
}

void named_semaphore::release(unsigned n) { sem_post_n(s_, n, ("sem_post '" + name_ + "'").c_str()); }

int named_semaphore::value() const {
    int v = 0;
    if (sem_getvalue(s_, &v) == -1) throw sys_error(errno, "sem_getvalue '" + name_ + "'");
    return v;
}

void named_semaphore::unlink() { unlink(name_); }

void named_semaphore::unlink(const std::string& name) {
    std::string n = slash_name(name);
    if (sem_unlink(n.c_str()) == -1) throw sys_error(errno, "sem_unlink '" + n + "'");
}

bool named_semaphore::unlink_if_exists(const std::string& name) {
    std::string n = slash_name(name);
    if (sem_unlink(n.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw sys_error(errno, "sem_unlink '" + n + "'");
}

// ---------------------------------------------------------------------------
namespace {
union semun {
    int val;
    semid_ds* buf;
    unsigned short* array;
};
}  // namespace

sysv_semaphore_set::sysv_semaphore_set(ipc_key key, int nsems, open_mode how,
                                       unsigned short initial, mode_t mode) {
    const std::string doing = "semget key " + detail::ipc_key_text(key);
    const int perms = int(mode & 0777);
    if (key.is_private()) how = open_mode::create_exclusive;
    created_ = detail::create_or_open(
        how, doing, [&] { return (id_ = semget(key.value, nsems, IPC_CREAT | IPC_EXCL | perms)) != -1; },
        [&] { return (id_ = semget(key.value, 0, 0)) != -1; });
    if (created_) {
        nsems_ = nsems;
        std::vector<unsigned short> vals(std::size_t(nsems), initial);
        semun arg;
        arg.array = vals.data();
        if (semctl(id_, 0, SETALL, arg) == -1) throw sys_error(errno, "semctl SETALL");
        // A zero-sum operation sets sem_otime: the sign for openers that the
        // values are in place (the classic SysV initialisation race).
        sembuf touch[2] = {{0, 1, 0}, {0, -1, 0}};
        if (semop(id_, touch, 2) == -1) throw sys_error(errno, "semop");
        return;
    }
    semid_ds ds{};
    semun arg;
    arg.buf = &ds;
    for (int tries = 0;; ++tries) {
        if (semctl(id_, 0, IPC_STAT, arg) == -1) throw sys_error(errno, "semctl IPC_STAT");
        if (ds.sem_otime != 0 || tries >= 1000) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    nsems_ = int(ds.sem_nsems);
    if (nsems > nsems_) throw sys_error(EINVAL, doing + ": set has fewer semaphores than asked for");
}

sysv_semaphore_set::sysv_semaphore_set(sysv_semaphore_set&& o) noexcept
    : id_(std::exchange(o.id_, -1)), nsems_(std::exchange(o.nsems_, 0)), created_(o.created_) {}

sysv_semaphore_set& sysv_semaphore_set::operator=(sysv_semaphore_set&& o) noexcept {
    id_ = std::exchange(o.id_, -1);
    nsems_ = std::exchange(o.nsems_, 0);
    created_ = o.created_;
    return *this;
}

bool sysv_semaphore_set::op(int i, short delta, short flags, const nanoseconds* timeout) {
    if (i < 0 || i >= nsems_) throw std::out_of_range("conc::sysv_semaphore_set: no semaphore " + std::to_string(i));
    sembuf sb{static_cast<unsigned short>(i), delta, flags};
    auto end = timeout ? steady_clock::now() + *timeout : steady_clock::time_point{};
    for (;;) {
        int rc;
        if (timeout) {
            auto left = std::chrono::duration_cast<nanoseconds>(end - steady_clock::now());
            if (left < nanoseconds::zero()) left = nanoseconds::zero();
            timespec ts = to_timespec(left);
            rc = semtimedop(id_, &sb, 1, &ts);
        } else {
            rc = semop(id_, &sb, 1);
        }
        if (rc == 0) return true;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return false;  // IPC_NOWAIT, or the time ran out
        throw sys_error(errno, "semop");
    }
}

void sysv_semaphore_set::acquire(int i, bool undo) { op(i, -1, undo ? SEM_UNDO : 0, nullptr); }

bool sysv_semaphore_set::try_acquire(int i, bool undo) {
    return op(i, -1, short(IPC_NOWAIT | (undo ? SEM_UNDO : 0)), nullptr);
}

bool sysv_semaphore_set::try_acquire_ns(int i, nanoseconds timeout, bool undo) {
    return op(i, -1, undo ? SEM_UNDO : 0, &timeout);
}

void sysv_semaphore_set::release(int i, bool undo, unsigned short n) {
    op(i, short(n), undo ? SEM_UNDO : 0, nullptr);
}

int sysv_semaphore_set::value(int i) const {
    int v = semctl(id_, i, GETVAL);
    if (v == -1) throw sys_error(errno, "semctl GETVAL");
    return v;
}

void sysv_semaphore_set::set_value(int i, int v) {
    semun arg;
    arg.val = v;
    if (semctl(id_, i, SETVAL, arg) == -1) throw sys_error(errno, "semctl SETVAL");
}

void sysv_semaphore_set::remove() {
    if (id_ == -1) return;
    if (semctl(id_, 0, IPC_RMID) == -1) throw sys_error(errno, "semctl IPC_RMID");
    id_ = -1;
    nsems_ = 0;
}

}  // namespace conc
