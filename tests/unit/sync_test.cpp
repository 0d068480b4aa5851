// Unit tests for conc/sync.hpp: process-shared locks, conditions, semaphores,
// events, barriers; between forked processes and between threads.
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conc/fd.hpp"
#include "conc/shm.hpp"
#include "conc/sync.hpp"
#include "ipc_support.hpp"

using namespace conc;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

std::string prefix() { return "conc_sync_test_" + std::to_string(getpid()) + "_"; }
std::string uniq(const char* tag) { return "/" + prefix() + tag; }

void assert_no_leftovers() { ipc::assert_no_leftovers(prefix()); }
void remove_leftovers() { ipc::remove_leftovers(prefix()); }
using ipc::spawn_child;
using ipc::wait_exit;

using ipc::heard;
using ipc::kill_child;
using ipc::tell;

using ipc::ms_since;

bool sem_set_gone(int id) {
    return semctl(id, 0, IPC_STAT, nullptr) == -1 && (errno == EINVAL || errno == EIDRM);
}

}  // namespace

TestSuite(sync, .fini = remove_leftovers);

// ---------------------------------------------------------------------------
// mutex

Test(sync, mutex_satisfies_the_standard_lock_concepts) {
    mutex m;
    {
        std::lock_guard g(m);
        cr_assert(!m.owner_died());
    }
    std::unique_lock lk(m, std::defer_lock);
    cr_assert(lk.try_lock_for(10ms));
    lk.unlock();
    cr_assert(lk.try_lock_until(steady::now() + 10ms));
    lk.unlock();
    cr_assert(m.try_lock());
    m.unlock();
    lock_result r = m.lock_checked();
    cr_assert(r.acquired && !r.owner_died);
    m.unlock();
}

Test(sync, mutex_between_threads_counts_exactly) {
    mutex m;
    long counter = 0;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) {
                std::lock_guard g(m);
                ++counter;
            }
        });
    for (auto& t : ts) t.join();
    cr_assert_eq(counter, 400000);
}

Test(sync, mutex_timed_lock_times_out_while_another_thread_holds_it) {
    mutex m;
    event held, done;
    std::thread holder([&] {
        std::lock_guard g(m);
        held.set();
        done.wait();
    });
    held.wait();
    auto t0 = steady::now();
    cr_assert(!m.try_lock_for(50ms));
    cr_assert_geq(ms_since(t0), 50.0);
    cr_assert(!m.try_lock());
    cr_assert(!m.try_lock_checked().acquired);
    done.set();
    holder.join();
    cr_assert(m.try_lock_for(5s));
    m.unlock();
}

struct robust_shared {
    mutex m;
    long guarded = 0;
};

Test(sync, mutex_killed_owner_is_recovered_and_reported_to_next_locker) {
    auto s = make_shared_object<robust_shared>();
    for (int round = 0; round < 5; ++round) {
        auto ready = make_pipe();
        pid_t k = spawn_child([&] {
            s->m.lock();
            s->guarded = -1;  // a half-done update
            tell(ready);
            pause();
            return 0;
        });
        cr_assert(heard(ready));
        cr_assert(!s->m.try_lock(), "child's lock not held");
        kill_child(k);

        lock_result r = round % 2 ? s->m.lock_checked() : s->m.try_lock_for_checked(5s);
        cr_assert(r.acquired);
        cr_assert(r.owner_died, "round %d: owner death not reported", round);
        cr_assert(s->m.owner_died());
        cr_assert_eq(s->guarded, -1);
        s->guarded = round;  // repaired
        s->m.unlock();

        // Consistent again: later lockers see a healthy mutex.
        {
            std::lock_guard g(s->m);
            cr_assert(!s->m.owner_died());
            cr_assert_eq(s->guarded, round);
        }
    }
    // Still usable between processes afterwards.
    std::vector<pid_t> kids;
    for (int p = 0; p < 2; ++p)
        kids.push_back(spawn_child([&] {
            for (int i = 0; i < 10000; ++i) {
                std::lock_guard g(s->m);
                ++s->guarded;
            }
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(s->guarded, 4 + 20000);
}

Test(sync, mutex_plain_lock_reports_owner_death_through_owner_died) {
    auto m = make_shared_object<mutex>();
    auto ready = make_pipe();
    pid_t k = spawn_child([&] {
        m->lock();
        tell(ready);
        pause();
        return 0;
    });
    cr_assert(heard(ready));
    kill_child(k);
    {
        std::unique_lock lk(*m);  // lock(): no exception, no deadlock
        cr_assert(m->owner_died());
    }
    std::unique_lock lk(*m);
    cr_assert(!m->owner_died());
}

Test(sync, recursive_mutex_relocks_and_recovers_from_a_killed_owner) {
    auto m = make_shared_object<recursive_mutex>();
    m->lock();
    m->lock();
    cr_assert(m->try_lock());
    std::thread other([&] { cr_assert(!m->try_lock()); });
    other.join();
    m->unlock();
    m->unlock();
    m->unlock();

    auto ready = make_pipe();
    pid_t k = spawn_child([&] {
        m->lock();
        m->lock();  // dies holding it twice
        tell(ready);
        pause();
        return 0;
    });
    cr_assert(heard(ready));
    kill_child(k);
    lock_result r = m->lock_checked();
    cr_assert(r.acquired && r.owner_died);
    lock_result nested = m->lock_checked();
    cr_assert(nested.acquired && nested.owner_died, "nested acquisition keeps the report");
    m->unlock();
    m->unlock();
    std::thread t([&] {
        cr_assert(m->try_lock_for(5s));
        m->unlock();
    });
    t.join();
}

Test(sync, mutex_relocked_by_its_holder_throws_instead_of_hanging) {
    mutex m;
    m.lock();
    try {
        m.lock();
        cr_assert_fail("a second lock() by the holder returned");
    } catch (const sys_error& e) {
        cr_assert_eq(e.code().value(), EDEADLK);
    }
    cr_assert(!m.try_lock(), "try_lock by the holder of a non-recursive mutex");
    std::thread other([&] {
        try {
            m.unlock();
            cr_assert_fail("unlock by a thread that does not hold it");
        } catch (const sys_error& e) {
            cr_assert_eq(e.code().value(), EPERM);
        }
    });
    other.join();
    m.unlock();
    cr_assert(m.try_lock());
    m.unlock();
}

Test(sync, mutex_held_by_a_thread_that_exits_is_recovered) {
    auto m = make_shared_object<recursive_mutex>();
    for (int round = 0; round < 50; ++round) {
        std::thread t([&] {
            m->lock();
            m->lock();
        });  // exits holding it twice
        t.join();
        lock_result r = m->try_lock_for_checked(10s);
        cr_assert(r.acquired && r.owner_died, "round %d", round);
        m->unlock();
        cr_assert(m->try_lock_checked().acquired);
        cr_assert(!m->owner_died());
        m->unlock();
    }
}

// glibc's robust mutexes and ours share each thread's robust list: locked and
// unlocked in every order, then held together by a process that is killed,
// each is recovered.
struct mixed_locks {
    pthread_mutex_t g[2];
    mutex c[2];
    recursive_mutex r;
};

Test(sync, mutex_shares_the_robust_list_with_glibc_robust_mutexes) {
    auto s = make_shared_object<mixed_locks>();
    for (auto& g : s->g) {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        cr_assert_eq(pthread_mutex_init(&g, &a), 0);
        pthread_mutexattr_destroy(&a);
    }
    // Five locks, held in every order of taking and a shuffled order of
    // releasing, in this process: the list stays whole (a broken link would
    // crash or lose a lock below).
    std::mt19937 rng{static_cast<unsigned>(getpid())};
    auto take = [&](int i) {
        if (i < 2) cr_assert_eq(pthread_mutex_lock(&s->g[i]), 0);
        else if (i < 4) s->c[i - 2].lock();
        else s->r.lock();
    };
    auto give = [&](int i) {
        if (i < 2) cr_assert_eq(pthread_mutex_unlock(&s->g[i]), 0);
        else if (i < 4) s->c[i - 2].unlock();
        else s->r.unlock();
    };
    int order[5] = {0, 1, 2, 3, 4};
    for (int round = 0; round < 500; ++round) {
        std::shuffle(order, order + 5, rng);
        for (int i : order) take(i);
        std::shuffle(order, order + 5, rng);
        for (int i : order) give(i);
    }
    for (int round = 0; round < 20; ++round) {
        auto ready = make_pipe();
        pid_t k = spawn_child([&] {
            int o[5] = {0, 1, 2, 3, 4};
            std::shuffle(o, o + 5, rng);
            for (int i : o) take(i);
            give(o[2]);  // one released again: out of the middle of the list
            take(o[2]);
            tell(ready);
            pause();
            return 0;
        });
        cr_assert(heard(ready));
        kill_child(k);
        for (auto& g : s->g) {
            cr_assert_eq(pthread_mutex_lock(&g), EOWNERDEAD, "round %d: glibc mutex not recovered", round);
            pthread_mutex_consistent(&g);
            pthread_mutex_unlock(&g);
        }
        for (auto& c : s->c) {
            lock_result r = c.try_lock_for_checked(10s);
            cr_assert(r.acquired && r.owner_died, "round %d: conc::mutex not recovered", round);
            c.unlock();
        }
        lock_result r = s->r.try_lock_for_checked(10s);
        cr_assert(r.acquired && r.owner_died, "round %d: recursive_mutex not recovered", round);
        s->r.unlock();
    }
    for (auto& g : s->g) pthread_mutex_destroy(&g);
}

// Holders killed at random moments, many rounds: every death while holding
// is reported to exactly one later locker, nobody else is told, the data is
// repaired, and the lock never stays held by the dead.
struct kill_arena {
    mutex m;
    pid_t holder = 0;       // set right after locking, cleared right before unlocking
    long a = 0, b = 0;      // a == b whenever the lock is free and nobody died
    long recoveries = 0;    // acquisitions that reported owner_died
    long bad = 0;           // invariant broken (seen by a child)
    long ops = 0;
};

namespace {
// One acquisition's check, by whoever got the lock.
// (A holder may die before it sets its mark or after it clears it, so a
// recovery may find no mark; a healthy acquisition must find none.)
bool check_after_lock(kill_arena& s, const lock_result& r) {
    bool ok = true;
    if (r.owner_died) {
        ++s.recoveries;
        s.b = s.a;  // the repair
    } else {
        ok = s.holder == 0 && s.a == s.b;
    }
    s.holder = getpid();
    return ok;
}
}  // namespace

Test(sync, mutex_holders_killed_at_random_over_many_rounds) {
    auto s = make_shared_object<kill_arena>();
    constexpr int rounds = 80;
    std::mt19937 rng{static_cast<unsigned>(getpid())};
    auto worker = [&] {
        for (;;) {
            lock_result r = s->m.lock_checked();
            if (!check_after_lock(*s, r)) ++s->bad;
            ++s->a;
            for (int spin = 0; spin < 200; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);
            ++s->b;
            ++s->ops;
            s->holder = 0;
            s->m.unlock();
        }
        return 0;
    };
    pid_t kids[2];
    for (pid_t& k : kids) k = spawn_child(worker);
    int sure = 0;  // kills of a child known to hold the lock
    for (int round = 0; round < rounds; ++round) {
        int i = int(rng() % 2);
        if (round % 2 == 0) {
            // Wait until this child holds the lock, then kill it there.
            while (std::atomic_ref<pid_t>(s->holder).load() != kids[i]) std::this_thread::yield();
            ++sure;
        } else {
            usleep(useconds_t(rng() % 500));
        }
        kill_child(kids[i]);
        kids[i] = spawn_child(worker);
    }
    for (pid_t k : kids) {
        kill(k, SIGKILL);
        wait_exit(k);
    }
    lock_result r = s->m.try_lock_for_checked(10s);
    cr_assert(r.acquired, "the lock stayed held");
    if (r.owner_died) ++s->recoveries;
    cr_assert_eq(s->bad, 0, "an acquisition saw a dead holder's mark without owner_died, or the reverse");
    cr_assert_geq(s->recoveries, sure, "%ld recoveries for %d kills of a holder", s->recoveries, sure);
    cr_assert_leq(s->recoveries, rounds + 2);
    cr_assert_gt(s->ops, 0);
    s->m.unlock();
}

// ---------------------------------------------------------------------------
// condition

struct pingpong {
    mutex m;
    condition c;
    int turn = 0;  // 0: parent's move, 1: child's
    long rounds = 0;
};

Test(sync, condition_ping_pong_between_processes) {
    auto s = make_shared_object<pingpong>();
    constexpr long n = 2000;
    pid_t k = spawn_child([&] {
        for (long i = 0; i < n; ++i) {
            std::unique_lock lk(s->m);
            s->c.wait(lk, [&] { return s->turn == 1; });
            if (s->rounds != i * 2 + 1) return 1;
            ++s->rounds;
            s->turn = 0;
            s->c.notify_all();
        }
        return 0;
    });
    for (long i = 0; i < n; ++i) {
        std::unique_lock lk(s->m);
        cr_assert(s->c.wait_for(lk, 30s, [&] { return s->turn == 0; }));
        cr_assert_eq(s->rounds, i * 2);
        ++s->rounds;
        s->turn = 1;
        s->c.notify_all();
    }
    {
        std::unique_lock lk(s->m);
        s->c.wait(lk, [&] { return s->turn == 0; });
    }
    cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(s->rounds, 2 * n);
}

Test(sync, condition_wait_for_times_out) {
    mutex m;
    condition c;
    std::unique_lock lk(m);
    auto t0 = steady::now();
    cr_assert_eq(c.wait_for(lk, 50ms), std::cv_status::timeout);
    cr_assert_geq(ms_since(t0), 50.0);
    cr_assert(lk.owns_lock());
    t0 = steady::now();
    cr_assert(!c.wait_for(lk, 50ms, [] { return false; }));
    cr_assert_geq(ms_since(t0), 50.0);
    cr_assert(c.wait_until(lk, steady::now() + 10ms, [] { return true; }));
}

Test(sync, condition_producer_consumer_between_threads) {
    mutex m;
    condition not_empty, not_full;
    int buf[8];
    int head = 0, count = 0;
    constexpr int n = 50000;
    long sum = 0;
    std::thread consumer([&] {
        for (int i = 0; i < n; ++i) {
            std::unique_lock lk(m);
            not_empty.wait(lk, [&] { return count > 0; });
            int v = buf[head];
            head = (head + 1) % 8;
            --count;
            not_full.notify_one();
            lk.unlock();
            sum += v;
        }
    });
    for (int i = 1; i <= n; ++i) {
        std::unique_lock lk(m);
        not_full.wait(lk, [&] { return count < 8; });
        buf[(head + count) % 8] = i;
        ++count;
        not_empty.notify_one();
    }
    consumer.join();
    cr_assert_eq(sum, long(n) * (n + 1) / 2);
}

// A waiter killed in its sleep holds nothing: later waits and notifies work
// (glibc's pthread_cond_t would keep the dead waiter's group reference, and a
// later notify could block for ever).
struct cond_arena {
    mutex m;
    condition c;
    long gen = 0;
    int asleep = 0;
};

Test(sync, condition_waiters_killed_in_their_sleep_do_not_stop_later_wakeups) {
    auto s = make_shared_object<cond_arena>();
    for (int round = 0; round < 30; ++round) {
        // Two sleepers; one is killed, the other must still be woken.
        pid_t kids[2];
        for (pid_t& k : kids)
            k = spawn_child([&] {
                std::unique_lock lk(s->m);
                long g = s->gen;
                ++s->asleep;
                s->c.wait(lk, [&] { return s->gen != g; });
                --s->asleep;
                return 0;
            });
        for (;;) {
            std::unique_lock lk(s->m);
            if (s->asleep == 2) break;
            lk.unlock();
            std::this_thread::yield();
        }
        // Both have registered and released the lock inside wait().
        kill_child(kids[round % 2]);
        {
            std::lock_guard g(s->m);
            --s->asleep;  // the dead one's count
            ++s->gen;
        }
        if (round % 3 == 0) s->c.notify_all();
        else s->c.notify_one(), s->c.notify_one();
        cr_assert_eq(wait_exit(kids[1 - round % 2]), 0, "round %d", round);
        std::lock_guard g(s->m);
        cr_assert_eq(s->asleep, 0);
    }
}

Test(sync, condition_waits_with_the_recursive_lock_of_a_shared_value) {
    // Python: cond = Condition(v.get_lock()); with cond: cond.wait_for(...)
    struct board {
        shared_value<int> v{0};
        condition changed;
    };
    auto b = make_shared_object<board>();
    pid_t k = spawn_child([&] {
        for (int i = 1; i <= 200; ++i) {
            std::lock_guard g(b->v.get_lock());
            b->v.set(i);  // get/set under the held recursive lock
            b->changed.notify_all();
        }
        return 0;
    });
    {
        std::unique_lock lk(b->v.get_lock());
        lk.mutex()->lock();  // held twice: wait releases it wholly
        cr_assert(b->changed.wait_for(lk, 30s, [&] { return b->v.get() == 200; }));
        // Back at depth two: two unlocks are needed before others get it.
        lk.mutex()->unlock();
    }
    cr_assert_eq(wait_exit(k), 0);
    std::thread t([&] {
        cr_assert(b->v.get_lock().try_lock());
        b->v.get_lock().unlock();
    });
    t.join();
    std::unique_lock lk(b->v.get_lock(), std::defer_lock);
    cr_assert_throw(b->changed.wait(lk), std::logic_error);
}

// ---------------------------------------------------------------------------
// event

struct event_shared {
    event go;
    event all_done;
    mutex m;
    int woke = 0;
};

Test(sync, event_releases_waiting_children) {
    auto s = make_shared_object<event_shared>();
    constexpr int kids_n = 4;
    for (int round = 0; round < 20; ++round) {
        s->go.clear();
        s->all_done.clear();
        {
            std::lock_guard g(s->m);
            s->woke = 0;
        }
        std::vector<pid_t> kids;
        for (int p = 0; p < kids_n; ++p)
            kids.push_back(spawn_child([&] {
                s->go.wait();
                std::lock_guard g(s->m);
                if (++s->woke == kids_n) s->all_done.set();
                return 0;
            }));
        {
            std::lock_guard g(s->m);
            cr_assert_eq(s->woke, 0, "woke before set()");
        }
        cr_assert(!s->go.is_set());
        s->go.set();
        cr_assert(s->all_done.wait_for(30s));
        for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
        cr_assert_eq(s->woke, kids_n);
    }
}

Test(sync, event_wait_for_times_out_when_not_set) {
    event e;
    auto t0 = steady::now();
    cr_assert(!e.wait_for(50ms));
    cr_assert_geq(ms_since(t0), 50.0);
    e.set();
    cr_assert(e.is_set());
    cr_assert(e.wait_for(0ms));
    e.wait();
    e.clear();
    cr_assert(!e.is_set());
    cr_assert(!e.wait_for(1ms));
}

Test(sync, event_between_threads) {
    event e;
    std::atomic<int> passed{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            e.wait();
            ++passed;
        });
    e.set();
    for (auto& t : ts) t.join();
    cr_assert_eq(passed.load(), 4);
}

// ---------------------------------------------------------------------------
// barrier

struct barrier_shared {
    explicit barrier_shared(unsigned n) : b(n) {}
    barrier b;
    mutex m;
    int arrived[200] = {};
    int serial[200] = {};
    int bad = 0;
};

Test(sync, barrier_across_processes_over_many_generations) {
    constexpr int parties = 4, rounds = 200;
    auto s = make_shared_object<barrier_shared>(parties);
    auto party = [&] {
        for (int r = 0; r < rounds; ++r) {
            {
                std::lock_guard g(s->m);
                ++s->arrived[r];
            }
            bool is_serial = s->b.arrive_and_wait();
            std::lock_guard g(s->m);
            if (s->arrived[r] != parties) ++s->bad;  // someone passed before all arrived
            if (is_serial) ++s->serial[r];
        }
        return 0;
    };
    std::vector<pid_t> kids;
    for (int p = 0; p < parties - 1; ++p) kids.push_back(spawn_child(party));
    party();
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(s->bad, 0);
    for (int r = 0; r < rounds; ++r) {
        cr_assert_eq(s->arrived[r], parties);
        cr_assert_eq(s->serial[r], 1, "round %d had %d serial callers", r, s->serial[r]);
    }
}

Test(sync, barrier_timed_wait_withdraws_and_stays_usable) {
    barrier b(2);
    auto t0 = steady::now();
    auto r = b.arrive_and_wait_for(50ms);
    cr_assert(!r.has_value());
    cr_assert_geq(ms_since(t0), 50.0);
    // The withdrawn arrival does not count: two fresh parties pass together.
    std::atomic<int> serials{0};
    std::thread t([&] { serials += b.arrive_and_wait(); });
    auto mine = b.arrive_and_wait_for(30s);
    t.join();
    cr_assert(mine.has_value());
    serials += *mine;
    cr_assert_eq(serials.load(), 1);
}

Test(sync, barrier_between_threads) {
    constexpr int parties = 3, rounds = 500;
    barrier b(parties);
    std::atomic<int> arrived[rounds] = {};
    std::atomic<int> serials{0}, bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < parties; ++t)
        ts.emplace_back([&] {
            for (int r = 0; r < rounds; ++r) {
                ++arrived[r];
                if (b.arrive_and_wait()) ++serials;
                if (arrived[r].load() != parties) ++bad;
            }
        });
    for (auto& t : ts) t.join();
    cr_assert_eq(bad.load(), 0);
    cr_assert_eq(serials.load(), rounds);
}

// ---------------------------------------------------------------------------
// semaphores

Test(sync, semaphore_counts_across_processes) {
    auto sem = make_shared_object<semaphore>(0);
    constexpr int kids_n = 4, each = 1000;
    std::vector<pid_t> kids;
    for (int p = 0; p < kids_n; ++p)
        kids.push_back(spawn_child([&] {
            for (int i = 0; i < each; ++i) sem->release();
            return 0;
        }));
    for (int i = 0; i < kids_n * each; ++i) cr_assert(sem->try_acquire_for(30s));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert(!sem->try_acquire());
    cr_assert_eq(sem->value(), 0);
    sem->release(3);
    cr_assert_eq(sem->value(), 3);
}

struct gate_shared {
    explicit gate_shared(unsigned n) : slots(n) {}
    semaphore slots;
    mutex m;
    int inside = 0;
    int most = 0;
};

Test(sync, semaphore_limits_concurrency_across_processes) {
    auto s = make_shared_object<gate_shared>(2);
    std::vector<pid_t> kids;
    for (int p = 0; p < 4; ++p)
        kids.push_back(spawn_child([&] {
            for (int i = 0; i < 500; ++i) {
                s->slots.acquire();
                {
                    std::lock_guard g(s->m);
                    if (++s->inside > s->most) s->most = s->inside;
                }
                sched_yield();
                {
                    std::lock_guard g(s->m);
                    --s->inside;
                }
                s->slots.release();
            }
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(s->inside, 0);
    cr_assert_leq(s->most, 2);
    cr_assert_geq(s->most, 1);
    cr_assert_eq(s->slots.value(), 2);
}

Test(sync, semaphore_timed_acquire_times_out) {
    semaphore sem(0);
    auto t0 = steady::now();
    cr_assert(!sem.try_acquire_for(50ms));
    cr_assert_geq(ms_since(t0), 50.0);
    sem.release();
    cr_assert(sem.try_acquire_until(steady::now() + 1s));
}

Test(sync, semaphore_between_threads) {
    semaphore items(0);
    constexpr int n = 20000;
    std::atomic<int> got{0};
    std::thread consumer([&] {
        for (int i = 0; i < n; ++i) {
            items.acquire();
            ++got;
        }
    });
    std::thread producer([&] {
        for (int i = 0; i < n; ++i) items.release();
    });
    producer.join();
    consumer.join();
    cr_assert_eq(got.load(), n);
    cr_assert(!items.try_acquire());
}

Test(sync, bounded_semaphore_over_release_is_an_error) {
    bounded_semaphore b(2);
    cr_assert_eq(b.max(), 2u);
    bool threw = false;
    try {
        b.release();
    } catch (const std::logic_error&) {
        threw = true;
    }
    cr_assert(threw, "release past the initial value accepted");
    cr_assert_eq(b.value(), 2u);
    b.acquire();
    cr_assert(b.try_acquire());
    cr_assert(!b.try_acquire());
    auto t0 = steady::now();
    cr_assert(!b.try_acquire_for(50ms));
    cr_assert_geq(ms_since(t0), 50.0);
    threw = false;
    try {
        b.release(3);
    } catch (const std::logic_error&) {
        threw = true;
    }
    cr_assert(threw);
    cr_assert_eq(b.value(), 0u);
    b.release(2);
    cr_assert_eq(b.value(), 2u);
}

Test(sync, bounded_semaphore_across_processes) {
    auto b = make_shared_object<bounded_semaphore>(3);
    std::vector<pid_t> kids;
    for (int p = 0; p < 3; ++p)
        kids.push_back(spawn_child([&] {
            for (int i = 0; i < 2000; ++i) {
                b->acquire();
                b->release();
            }
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(b->value(), 3u);
}

// ---------------------------------------------------------------------------
// rwlock

Test(sync, rwlock_readers_never_see_a_half_write_between_threads) {
    rwlock l;
    long a = 0, b = 0;
    std::atomic<int> torn{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int r = 0; r < 2; ++r)
        ts.emplace_back([&] {
            while (!stop.load()) {
                std::shared_lock lk(l);
                if (a != b) ++torn;
            }
        });
    std::thread writer([&] {
        for (int i = 0; i < 20000; ++i) {
            std::unique_lock lk(l);
            ++a;
            ++b;
        }
        stop = true;
    });
    writer.join();
    for (auto& t : ts) t.join();
    cr_assert_eq(torn.load(), 0);
    cr_assert_eq(a, 20000);
}

Test(sync, rwlock_try_and_timed_forms) {
    auto l = make_shared_object<rwlock>();
    cr_assert(l->try_lock_shared());
    cr_assert(l->try_lock_shared());  // two readers at once
    auto t0 = steady::now();
    cr_assert(!l->try_lock_for(50ms));
    cr_assert_geq(ms_since(t0), 50.0);
    cr_assert(!l->try_lock());
    l->unlock_shared();
    l->unlock_shared();
    cr_assert(l->try_lock_until(steady::now() + 1s));
    // a writer in this process blocks readers in another
    pid_t k = spawn_child([&] { return l->try_lock_shared_for(50ms) ? 1 : 0; });
    cr_assert_eq(wait_exit(k), 0);
    l->unlock();
    k = spawn_child([&] {
        if (!l->try_lock_shared_for(5s)) return 1;
        l->unlock_shared();
        return 0;
    });
    cr_assert_eq(wait_exit(k), 0);
}

// ---------------------------------------------------------------------------
// named semaphores

Test(sync, named_semaphore_create_open_and_unlink) {
    const std::string name = uniq("nsem");
    named_semaphore a(name, open_mode::create_exclusive, 0);
    cr_assert(a.created());
    cr_assert_eq(a.name(), name);
    try {
        named_semaphore b(name, open_mode::create_exclusive);
        cr_assert_fail("second exclusive sem_open succeeded");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), EEXIST);
        cr_assert_eq(std::string(e.what()).find("sem_open '" + name + "'"), 0u, "message: %s", e.what());
    }
    std::vector<pid_t> kids;
    for (int p = 0; p < 3; ++p)
        kids.push_back(spawn_child([&] {
            named_semaphore mine(name, open_mode::open_existing);
            if (mine.created()) return 1;
            mine.release(100);
            return 0;
        }));
    for (int i = 0; i < 300; ++i) cr_assert(a.try_acquire_for(30s));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert(!a.try_acquire());
    auto t0 = steady::now();
    cr_assert(!a.try_acquire_for(50ms));
    cr_assert_geq(ms_since(t0), 50.0);
    named_semaphore moved = std::move(a);
    cr_assert(moved);
    cr_assert(!a);
    moved.release();
    cr_assert_eq(moved.value(), 1);
    moved.acquire();
    moved.unlink();
    try {
        named_semaphore c(name, open_mode::open_existing);
        cr_assert_fail("opened an unlinked semaphore");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), ENOENT);
    }
    cr_assert(!named_semaphore::unlink_if_exists(name));
    assert_no_leftovers();
}

// ---------------------------------------------------------------------------
// System V semaphores

Test(sync, sysv_semaphore_undo_restores_the_value_when_the_holder_is_killed) {
    sysv_semaphore_set set(ipc_key::private_key(), 2, open_mode::create_exclusive, 1);
    const int id = set.id();
    cr_assert_eq(set.size(), 2);
    for (int round = 0; round < 3; ++round) {
        auto ready = make_pipe();
        pid_t k = spawn_child([&] {
            set.acquire(0);  // SEM_UNDO
            tell(ready);
            pause();
            return 0;
        });
        cr_assert(heard(ready));
        cr_assert_eq(set.value(0), 0);
        cr_assert(!set.try_acquire(0));
        kill_child(k);
        cr_assert_eq(set.value(0), 1, "the kernel did not undo the dead holder's acquire");
        cr_assert(set.try_acquire_for(0, 5s));
        set.release(0);
    }
    // Without undo the unit is lost with its holder.
    pid_t k = spawn_child([&] {
        set.acquire(1, false);
        return 0;
    });
    cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(set.value(1), 0);
    auto t0 = steady::now();
    cr_assert(!set.try_acquire_for(1, 50ms));
    cr_assert_geq(ms_since(t0), 50.0);
    set.set_value(1, 5);
    cr_assert_eq(set.value(1), 5);
    set.remove();
    cr_assert(sem_set_gone(id));
}

Test(sync, sysv_semaphore_set_from_path_key) {
    char path[] = "/tmp/conc_sync_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_neq(fd, -1);
    close(fd);
    ipc_key key = ipc_key::from_path(path, 'Q');
    sysv_semaphore_set a(key, 3, open_mode::create_exclusive, 2);
    cr_assert(a.created());
    try {
        sysv_semaphore_set b(key, 3, open_mode::create_exclusive);
        cr_assert_fail("second exclusive semget succeeded");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), EEXIST);
        cr_assert(std::string(e.what()).rfind("semget key 0x", 0) == 0, "message: %s", e.what());
    }
    pid_t k = spawn_child([&] {
        sysv_semaphore_set mine(key, 0, open_mode::open_existing);
        if (mine.created() || mine.size() != 3 || mine.id() != a.id()) return 1;
        mine.acquire(2, false);
        return mine.value(2) == 1 ? 0 : 2;
    });
    cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(a.value(0), 2);
    cr_assert_eq(a.value(2), 1);
    {
        sysv_semaphore_set c(key, 3, open_mode::create_or_open);
        cr_assert(!c.created());
        cr_assert_eq(c.id(), a.id());
    }
    const int id = a.id();
    a.remove();
    cr_assert(sem_set_gone(id));
    try {
        sysv_semaphore_set d(key, 0, open_mode::open_existing);
        cr_assert_fail("opened a removed set");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), ENOENT);
    }
    unlink(path);
}

Test(sync, sysv_semaphore_as_a_lock_between_processes) {
    sysv_semaphore_set set(ipc_key::private_key(), 1, open_mode::create_exclusive, 1);
    auto counter = make_shared_object<long>(0);
    std::vector<pid_t> kids;
    for (int p = 0; p < 3; ++p)
        kids.push_back(spawn_child([&] {
            for (int i = 0; i < 5000; ++i) {
                set.acquire(0);
                ++*counter;
                set.release(0);
            }
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(*counter, 15000);
    cr_assert_eq(set.value(0), 1);
    const int id = set.id();
    set.remove();
    cr_assert(sem_set_gone(id));
}
