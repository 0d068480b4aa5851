// conc/sync.cpp: process-shared synchronisation primitives.
#include "conc/sync.hpp"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

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
namespace detail {

robust_mutex_base::robust_mutex_base(int type) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, type);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&m_, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0) throw sys_error(rc, "pthread_mutex_init");
}

robust_mutex_base::~robust_mutex_base() { pthread_mutex_destroy(&m_); }

lock_result robust_mutex_base::after_lock(int rc, const char* doing) {
    if (rc == 0) {
        // A nested acquisition of a recursive mutex keeps what the first found.
        if (depth_++ == 0) owner_died_ = false;
        return {true, owner_died_};
    }
    if (rc == EOWNERDEAD) {
        // The dead owner's depth is meaningless now; we hold it once.
        pthread_mutex_consistent(&m_);
        depth_ = 1;
        owner_died_ = true;
        return {true, true};
    }
    if (rc == EBUSY || rc == ETIMEDOUT) return {false, false};
    throw sys_error(rc, doing);
}

lock_result robust_mutex_base::lock_checked() {
    return after_lock(pthread_mutex_lock(&m_), "pthread_mutex_lock");
}

lock_result robust_mutex_base::try_lock_checked() {
    return after_lock(pthread_mutex_trylock(&m_), "pthread_mutex_trylock");
}

lock_result robust_mutex_base::try_lock_for_checked(nanoseconds timeout) {
    int rc = wait_steady(timeout, [&](const timespec* dl) { return pthread_mutex_timedlock(&m_, dl); });
    return after_lock(rc, "pthread_mutex_timedlock");
}

void robust_mutex_base::unlock_failed(int rc) {
    ++depth_;  // we did not hold it (EPERM): undo the count
    throw sys_error(rc, "pthread_mutex_unlock");
}

}  // namespace detail

mutex::mutex() : robust_mutex_base(PTHREAD_MUTEX_NORMAL) {}
recursive_mutex::recursive_mutex() : robust_mutex_base(PTHREAD_MUTEX_RECURSIVE) {}

// ---------------------------------------------------------------------------
condition::condition() {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&c_, &a);
    pthread_condattr_destroy(&a);
    if (rc != 0) throw sys_error(rc, "pthread_cond_init");
}

condition::~condition() { pthread_cond_destroy(&c_); }

void condition::wait(std::unique_lock<mutex>& lock) {
    if (!lock.owns_lock()) throw std::logic_error("conc::condition::wait: lock not held");
    mutex& m = *lock.mutex();
    m.depth_ = 0;  // others may take it while we wait
    int rc = pthread_cond_wait(&c_, &m.m_);
    m.depth_ = 1;
    m.owner_died_ = false;
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&m.m_);
        m.owner_died_ = true;
    } else if (rc != 0) {
        throw sys_error(rc, "pthread_cond_wait");
    }
}

std::cv_status condition::wait_ns(std::unique_lock<mutex>& lock, nanoseconds timeout) {
    if (!lock.owns_lock()) throw std::logic_error("conc::condition::wait_for: lock not held");
    mutex& m = *lock.mutex();
    timespec deadline = clock_plus(CLOCK_MONOTONIC, timeout);
    m.depth_ = 0;
    int rc = pthread_cond_timedwait(&c_, &m.m_, &deadline);
    m.depth_ = 1;
    m.owner_died_ = false;
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&m.m_);
        m.owner_died_ = true;
        return std::cv_status::no_timeout;
    }
    if (rc == ETIMEDOUT) return std::cv_status::timeout;
    if (rc != 0) throw sys_error(rc, "pthread_cond_timedwait");
    return std::cv_status::no_timeout;
}

void condition::notify_one() {
    int rc = pthread_cond_signal(&c_);
    if (rc != 0) throw sys_error(rc, "pthread_cond_signal");
}

void condition::notify_all() {
    int rc = pthread_cond_broadcast(&c_);
    if (rc != 0) throw sys_error(rc, "pthread_cond_broadcast");
}

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
    const std::string doing = "sem_open '" + name_ + "'";
    for (;;) {
        if (how != open_mode::open_existing) {
            s_ = sem_open(name_.c_str(), O_CREAT | O_EXCL, mode, initial);
            if (s_ != SEM_FAILED) {
                created_ = true;
                return;
            }
            if (errno != EEXIST || how == open_mode::create_exclusive) break;
        }
        s_ = sem_open(name_.c_str(), 0);
        if (s_ != SEM_FAILED) return;
        // create_or_open: it was unlinked between our two tries; go round.
        if (errno != ENOENT || how == open_mode::open_existing) break;
    }
    int err = errno;
    s_ = nullptr;
    throw sys_error(err, doing);
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

std::string key_text(ipc_key key) {
    if (key.is_private()) return "IPC_PRIVATE";
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%08x", unsigned(key.value));
    return buf;
}
}  // namespace

sysv_semaphore_set::sysv_semaphore_set(ipc_key key, int nsems, open_mode how,
                                       unsigned short initial, mode_t mode) {
    const std::string doing = "semget key " + key_text(key);
    const int perms = int(mode & 0777);
    if (key.is_private()) how = open_mode::create_exclusive;
    for (;;) {
        if (how != open_mode::open_existing) {
            id_ = semget(key.value, nsems, IPC_CREAT | IPC_EXCL | perms);
            if (id_ != -1) {
                created_ = true;
                break;
            }
            if (errno != EEXIST || how == open_mode::create_exclusive) throw sys_error(errno, doing);
        }
        id_ = semget(key.value, 0, 0);
        if (id_ != -1) break;
        if (errno != ENOENT || how == open_mode::open_existing) throw sys_error(errno, doing);
    }
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
