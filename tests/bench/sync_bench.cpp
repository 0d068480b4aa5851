// sync_bench: what robustness and process-sharing cost.  Prints one figure a
// line, "name<TAB>value" (lock/unlock pairs per second unless the name says
// otherwise), each the median of 5 runs, then ratios (peer / conc: how many
// times faster the peer is; goal <= 1.5).
//
// Uncontended lock/unlock, one thread:
//   conc::mutex (robust, pshared: futex word + the thread's robust list);
//   a default pthread_mutex_t while the process has never had a second
//   thread: glibc then drops the lock prefix from its private mutexes (an
//   ordinary load and store instead of two atomic read-modify-writes), which
//   no lock shared with another process may do;
//   the same default pthread_mutex_t once the process has started a thread
//   (the state of any program that uses a pool, a timer or a loop thread);
//   a pshared pthread_mutex_t (not robust) and glibc's robust pshared one.
// Contended: lock/increment/unlock by two processes, conc::mutex and a plain
// pshared pthread mutex.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "conc/shm.hpp"
#include "conc/sync.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int runs = 5;

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class F>
double rate(long ops, F body) {
    auto t0 = clock_type::now();
    body();
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    return double(ops) / s;
}

// Keeps the compiler from dropping the loop body.
volatile long sink;

double uncontended_conc(long n) {
    conc::mutex m;
    long c = 0;
    return rate(n, [&] {
        for (long i = 0; i < n; ++i) {
            m.lock();
            ++c;
            m.unlock();
        }
        sink = c;
    });
}

// A default pthread mutex, a pshared one, or one with conc::mutex's
// attributes as glibc provides them (robust, pshared).
enum class kind { plain, pshared, robust };
double uncontended_pthread(long n, kind k = kind::plain) {
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    if (k != kind::plain) {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        if (k == kind::robust) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        pthread_mutex_init(&m, &a);
        pthread_mutexattr_destroy(&a);
    }
    long c = 0;
    double r = rate(n, [&] {
        for (long i = 0; i < n; ++i) {
            pthread_mutex_lock(&m);
            ++c;
            pthread_mutex_unlock(&m);
        }
        sink = c;
    });
    pthread_mutex_destroy(&m);
    return r;
}

struct pshared_pthread_mutex {
    pshared_pthread_mutex() {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutex_init(&m, &a);
        pthread_mutexattr_destroy(&a);
    }
    ~pshared_pthread_mutex() { pthread_mutex_destroy(&m); }
    void lock() { pthread_mutex_lock(&m); }
    void unlock() { pthread_mutex_unlock(&m); }
    pthread_mutex_t m;
};

template <class Mutex>
struct arena {
    Mutex m;
    conc::event go;
    long counter = 0;
};

// Two processes, each n lock/increment/unlock; rate of all 2n.
template <class Mutex>
double contended(long n) {
    auto a = conc::make_shared_object<arena<Mutex>>();
    pid_t kids[2];
    for (pid_t& k : kids) {
        k = fork();
        if (k == -1) throw conc::sys_error("fork");
        if (k == 0) {
            a->go.wait();
            for (long i = 0; i < n; ++i) {
                std::lock_guard g(a->m);
                ++a->counter;
            }
            _exit(0);
        }
    }
    auto t0 = clock_type::now();
    a->go.set();
    for (pid_t k : kids) waitpid(k, nullptr, 0);
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (a->counter != 2 * n) {
        std::fprintf(stderr, "sync_bench: lost updates: %ld of %ld\n", a->counter, 2 * n);
        _exit(1);
    }
    return double(2 * n) / s;
}

template <class F>
double median_of_runs(F f) {
    std::vector<double> v;
    for (int r = 0; r < runs; ++r) v.push_back(f());
    return median(v);
}

}  // namespace

int main() {
    try {
        const long n_uncontended = 5'000'000;
        const long n_contended = 2'000'000;
        uncontended_conc(n_uncontended / 10);  // warm up
        uncontended_pthread(n_uncontended / 10);
        double conc_u = median_of_runs([&] { return uncontended_conc(n_uncontended); });
        double pthr_u = median_of_runs([&] { return uncontended_pthread(n_uncontended); });
        double pshared_u = median_of_runs([&] { return uncontended_pthread(n_uncontended, kind::pshared); });
        double robust_u = median_of_runs([&] { return uncontended_pthread(n_uncontended, kind::robust); });
        // From here on glibc knows the process is multi-threaded.
        std::thread([] {}).join();
        double conc_t = median_of_runs([&] { return uncontended_conc(n_uncontended); });
        double pthr_t = median_of_runs([&] { return uncontended_pthread(n_uncontended); });
        std::printf("conc_mutex_uncontended\t%.0f\n", conc_u);
        std::printf("pthread_mutex_uncontended_single_threaded\t%.0f\n", pthr_u);
        std::printf("pthread_pshared_mutex_uncontended\t%.0f\n", pshared_u);
        std::printf("pthread_robust_pshared_mutex_uncontended\t%.0f\n", robust_u);
        std::printf("conc_mutex_uncontended_threaded\t%.0f\n", conc_t);
        std::printf("pthread_mutex_uncontended_threaded\t%.0f\n", pthr_t);
        std::printf("ratio_pthread_single_threaded_over_conc\t%.2f\n", pthr_u / conc_u);
        std::printf("ratio_pthread_threaded_over_conc\t%.2f\n", pthr_t / conc_t);
        std::printf("ratio_pthread_pshared_over_conc\t%.2f\n", pshared_u / conc_u);
        std::printf("ratio_pthread_robust_over_conc\t%.2f\n", robust_u / conc_u);
        std::fflush(stdout);
        double conc_c = median_of_runs([&] { return contended<conc::mutex>(n_contended); });
        double pthr_c = median_of_runs([&] { return contended<pshared_pthread_mutex>(n_contended); });
        std::printf("conc_mutex_contended_2proc\t%.0f\n", conc_c);
        std::printf("pthread_pshared_mutex_contended_2proc\t%.0f\n", pthr_c);
        std::printf("ratio_pthread_over_conc_contended_2proc\t%.2f\n", pthr_c / conc_c);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sync_bench: %s\n", e.what());
        return 1;
    }
}
