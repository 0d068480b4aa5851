// shm_queue_bench: how fast conc::shm_queue moves short items, and POSIX
// message queues (mq_send / mq_receive) doing the same between two processes.
// Prints "name<TAB>items per second", each the median of RUNS runs (default 5):
//
//   shmq_put_get_1proc        put then get of one 8-byte item, one process
//   shmq_many_1proc           put_many then get_many, batches of 1000, one process
//   *_cpu                     the same two per second of the process's CPU time:
//                             what they cost, whatever else the machine is doing
//   shmq_1x1_single           one producer process, one consumer: put / get
//   mq_1x1                    the same shape over a POSIX message queue
//   shmq_1x1_many             one producer, one consumer, batches of 1000
//   shmq_2x2_single           two producer processes, two consumers: put / get
//   shmq_2x2_many             the same with batches of 1000
//
// Usage: shm_queue_bench [N [FIGURE...]]   (N items a run; default 2000000)
#include <fcntl.h>
#include <mqueue.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "conc/shm_queue.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using conc::queue_status;

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// The last one-process run's rate per CPU second (printed as NAME_cpu).
double last_cpu_rate = 0;

std::string qname(const char* tag) { return "bench_" + std::to_string(getpid()) + "_" + tag; }

void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

// Children report failure by exit status; the parent checks every one.
void wait_all(const std::vector<pid_t>& kids) {
    for (pid_t k : kids) {
        int st = 0;
        if (waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            std::fprintf(stderr, "shm_queue_bench: a child failed (status %d)\n", st);
            std::exit(1);
        }
    }
}

template <class F>
pid_t child(F f) {
    pid_t pid = fork();
    if (pid == -1) die("fork");
    if (pid == 0) {
        int rc = 1;
        try {
            rc = f();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "shm_queue_bench child: %s\n", e.what());
        }
        _exit(rc);
    }
    return pid;
}

double put_get_1proc(long n) {
    auto name = qname("1p");
    auto q = conc::shm_queue::create(name);
    char item[8] = "1234567";
    std::string out;
    auto t0 = clock_type::now();
    double c0 = cpu_seconds();
    for (long i = 0; i < n; ++i) {
        std::memcpy(item, &i, 4);
        if (q.put(std::string_view(item, 8)) != queue_status::ok) die("put");
        if (q.get(out) != queue_status::ok || out.size() != 8) die("get");
    }
    double r = double(n) / seconds_since(t0);
    last_cpu_rate = double(n) / (cpu_seconds() - c0);
    conc::shm_queue::remove(name);
    return r;
}

constexpr std::size_t batch = 1000;

conc::item_batch make_batch() {
    conc::item_batch b;
    for (std::size_t i = 0; i < batch; ++i) {
        char item[8];
        std::snprintf(item, sizeof item, "%07zu", i);
        b.push_back(std::string_view(item, 8));
    }
    return b;
}

double many_1proc(long n) {
    auto name = qname("m1p");
    auto q = conc::shm_queue::create(name);
    const conc::item_batch in = make_batch();
    conc::item_batch out;
    out.reserve(batch, batch * 8);
    long moved = 0;
    auto t0 = clock_type::now();
    double c0 = cpu_seconds();
    while (moved < n) {
        if (q.put_many(in).status != queue_status::ok) die("put_many");
        out.clear();
        auto r = q.get_many(out, batch);
        if (r.count != batch) die("get_many");
        moved += long(r.count);
    }
    double r = double(moved) / seconds_since(t0);
    last_cpu_rate = double(moved) / (cpu_seconds() - c0);
    conc::shm_queue::remove(name);
    return r;
}

// producers x consumers processes moving n items in all, singly or in batches.
// The consumers stop at close(), which the parent calls once every producer is done.
double cross(long n, int producers, int consumers, bool many) {
    auto name = qname("x");
    conc::queue_options o;
    o.capacity = 1 << 20;
    auto q = conc::shm_queue::create(name, o);
    const long each = n / producers;
    // Every consumer reports how many it got through a pipe.
    int fds[2];
    if (pipe(fds) == -1) die("pipe");
    auto t0 = clock_type::now();
    std::vector<pid_t> cons, prods;
    for (int c = 0; c < consumers; ++c)
        cons.push_back(child([&] {
            auto mine = conc::shm_queue::open(name);
            long got = 0;
            if (many) {
                conc::item_batch out;
                for (;;) {
                    out.clear();
                    auto r = mine.get_many(out, batch);
                    if (r.status == queue_status::closed) break;
                    if (r.status != queue_status::ok) return 2;
                    got += long(r.count);
                }
            } else {
                std::string item;
                queue_status s;
                while ((s = mine.get(item)) == queue_status::ok) ++got;
                if (s != queue_status::closed) return 2;
            }
            return write(fds[1], &got, sizeof got) == sizeof got ? 0 : 3;
        }));
    for (int p = 0; p < producers; ++p)
        prods.push_back(child([&] {
            auto mine = conc::shm_queue::open(name);
            char item[8] = "abcdefg";
            if (many) {
                const conc::item_batch in = make_batch();
                for (long i = 0; i < each; i += long(batch))
                    if (mine.put_many(in).status != queue_status::ok) return 2;
            } else {
                for (long i = 0; i < each; ++i)
                    if (mine.put(std::string_view(item, 8)) != queue_status::ok) return 2;
            }
            return 0;
        }));
    wait_all(prods);
    q.close();
    wait_all(cons);
    double s = seconds_since(t0);
    long total = 0;
    for (int c = 0; c < consumers; ++c) {
        long got = 0;
        if (read(fds[0], &got, sizeof got) != sizeof got) die("read");
        total += got;
    }
    close(fds[0]);
    close(fds[1]);
    conc::shm_queue::remove(name);
    const long want = many ? producers * ((each + long(batch) - 1) / long(batch)) * long(batch) : producers * each;
    if (total != want) {
        std::fprintf(stderr, "shm_queue_bench: moved %ld items, expected %ld\n", total, want);
        std::exit(1);
    }
    return double(total) / s;
}

// One sender, one receiver, 8-byte messages over a POSIX message queue (with
// the system's default depth limit, /proc/sys/fs/mqueue/msg_max).
double mq_1x1(long n) {
    std::string name = "/" + qname("mq");
    mq_attr attr{};
    attr.mq_maxmsg = 10;
    attr.mq_msgsize = 8;
    mqd_t mq = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    if (mq == mqd_t(-1)) die("mq_open");
    auto t0 = clock_type::now();
    pid_t recv = child([&] {
        char buf[8];
        for (long i = 0; i < n; ++i)
            if (mq_receive(mq, buf, sizeof buf, nullptr) != 8) return 2;
        return 0;
    });
    pid_t send = child([&] {
        char item[8] = "abcdefg";
        for (long i = 0; i < n; ++i)
            if (mq_send(mq, item, 8, 0) != 0) return 2;
        return 0;
    });
    wait_all({send, recv});
    double r = double(n) / seconds_since(t0);
    mq_close(mq);
    mq_unlink(name.c_str());
    return r;
}

struct figure {
    const char* name;
    double (*run)(long n);
    long scale;  // n is multiplied by this (the batched figures need more items to last)
};

const figure figures[] = {
    {"shmq_put_get_1proc", put_get_1proc, 1},
    {"shmq_many_1proc", many_1proc, 10},
    {"shmq_1x1_single", [](long n) { return cross(n, 1, 1, false); }, 1},
    {"mq_1x1", mq_1x1, 1},
    {"shmq_1x1_many", [](long n) { return cross(n, 1, 1, true); }, 10},
    {"shmq_2x2_single", [](long n) { return cross(n, 2, 2, false); }, 1},
    {"shmq_2x2_many", [](long n) { return cross(n, 2, 2, true); }, 10},
};

}  // namespace

int main(int argc, char** argv) {
    long n = argc > 1 ? std::atol(argv[1]) : 2000000;
    int runs = std::getenv("RUNS") ? std::atoi(std::getenv("RUNS")) : 5;
    if (runs < 1) runs = 1;
    for (const figure& f : figures) {
        bool wanted = argc <= 2;
        for (int i = 2; i < argc; ++i) wanted = wanted || std::strcmp(argv[i], f.name) == 0;
        if (!wanted) continue;
        std::vector<double> rates, cpu_rates;
        for (int r = 0; r < runs; ++r) {
            last_cpu_rate = 0;
            rates.push_back(f.run(n * f.scale));
            cpu_rates.push_back(last_cpu_rate);
        }
        std::printf("%s\t%.0f\n", f.name, median(rates));
        if (median(cpu_rates) > 0) std::printf("%s_cpu\t%.0f\n", f.name, median(cpu_rates));
        std::fflush(stdout);
    }
}
