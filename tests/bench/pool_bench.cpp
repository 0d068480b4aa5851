// pool_bench: throughput of thread_pool and fork_pool against a plain
// mutex+condvar queue of std::threads and std::async.  Prints, per figure,
// the median of RUNS runs as "name<TAB>items_per_s".
// Usage: pool_bench [N [FIGURE]]; with FIGURE, only that figure is measured.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "conc/pool.hpp"

using clock_type = std::chrono::steady_clock;

static int runs = 5;

template <class Fn>
static double median_rate(std::size_t items, Fn&& fn) {
    std::vector<double> rates;
    for (int r = 0; r < runs; ++r) {
        auto t0 = clock_type::now();
        fn();
        double s = std::chrono::duration<double>(clock_type::now() - t0).count();
        rates.push_back(double(items) / s);
    }
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

static void report(const char* name, double rate) {
    std::printf("%s\t%.0f\n", name, rate);
    std::fflush(stdout);
}

// The peer: the textbook pool, one std::function a task in a std::queue.
class plain_pool {
public:
    explicit plain_pool(unsigned n) {
        for (unsigned i = 0; i < n; ++i)
            threads_.emplace_back([this] {
                for (;;) {
                    std::function<void()> job;
                    {
                        std::unique_lock lk(m_);
                        cv_.wait(lk, [&] { return stop_ || !q_.empty(); });
                        if (q_.empty()) return;
                        job = std::move(q_.front());
                        q_.pop();
                    }
                    job();
                }
            });
    }
    ~plain_pool() {
        {
            std::lock_guard lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    void push(std::function<void()> f) {
        {
            std::lock_guard lk(m_);
            q_.push(std::move(f));
        }
        cv_.notify_one();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::queue<std::function<void()>> q_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

static std::string square_of(std::string_view s) {
    long v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v * v);
    return std::string(buf, r.ptr);
}

int main(int argc, char** argv) {
    std::size_t n = 1000000;
    if (argc > 1) n = std::strtoul(argv[1], nullptr, 10);
    if (const char* r = std::getenv("RUNS")) runs = std::max(1, std::atoi(r));
    const char* only = argc > 2 ? argv[2] : nullptr;
    auto want = [&](const char* name) { return !only || std::strcmp(only, name) == 0; };
    unsigned threads = conc::detail::online_cpus();

    if (want("thread_pool_submit") || want("thread_pool_imap_chunk1000")) {
        conc::thread_pool pool(threads);
        if (want("thread_pool_submit"))
        report("thread_pool_submit", median_rate(n, [&] {
                   std::vector<conc::future<void>> fs;
                   fs.reserve(n);
                   for (std::size_t i = 0; i < n; ++i) fs.push_back(pool.submit([] {}));
                   for (auto& f : fs) f.get();
               }));
        std::vector<int> in(n);
        for (std::size_t i = 0; i < n; ++i) in[i] = int(i);
        if (want("thread_pool_imap_chunk1000"))
        report("thread_pool_imap_chunk1000", median_rate(n, [&] {
                   long sum = 0;
                   for (int v : pool.imap([](int x) { return x + 1; }, in, 1000)) sum += v;
                   if (sum == 42) std::puts("");
               }));
    }
    if (want("plain_queue_submit")) {
        plain_pool pool(threads);
        report("plain_queue_submit", median_rate(n, [&] {
                   std::atomic<std::size_t> done{0};
                   std::mutex m;
                   std::condition_variable cv;
                   for (std::size_t i = 0; i < n; ++i)
                       pool.push([&] {
                           if (done.fetch_add(1) + 1 == n) {
                               std::lock_guard lk(m);
                               cv.notify_all();
                           }
                       });
                   std::unique_lock lk(m);
                   cv.wait(lk, [&] { return done.load() == n; });
               }));
    }
    if (want("std_async")) {
        std::size_t na = std::min<std::size_t>(n, 100000);
        report("std_async", median_rate(na, [&] {
                   // In batches: one thread a call, and threads are a limited resource.
                   std::vector<std::future<void>> fs;
                   for (std::size_t i = 0; i < na; i += 256) {
                       for (std::size_t j = i; j < std::min(na, i + 256); ++j)
                           fs.push_back(std::async(std::launch::async, [] {}));
                       for (auto& f : fs) f.get();
                       fs.clear();
                   }
               }));
    }
    if (want("fork_pool_imap_chunk1000")) {
        // The same work as the Python peer in libconc.sh (parse, square,
        // format), with no allocation: results fit std::string's inline buffer.
        std::vector<std::string> items(n);
        for (std::size_t i = 0; i < n; ++i) items[i] = std::to_string(i);
        conc::fork_pool pool(square_of, 2);
        report("fork_pool_imap_chunk1000", median_rate(n, [&] {
                   std::size_t got = 0;
                   for (auto& r : pool.imap(items, 1000)) got += r.size();
                   if (got == 0) std::puts("");
               }));
        pool.close();
        pool.join();
    }
}
