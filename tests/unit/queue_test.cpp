// conc::queue: queue.Queue, LifoQueue, PriorityQueue between threads.
#include <criterion/criterion.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conc/queue.hpp"

using namespace std::chrono_literals;
using conc::queue_status;

Test(queue, every_item_exactly_once_across_producers_and_consumers) {
    for (int round = 0; round < 20; ++round) {
        conc::queue<int> q(round % 2 ? 3 : 0);   // bounded and not
        const int producers = 3, consumers = 3, per = 2000;
        std::vector<std::vector<int>> got(consumers);
        std::vector<std::thread> ts;
        for (int c = 0; c < consumers; ++c)
            ts.emplace_back([&, c] {
                int v;
                while (q.get(v) == queue_status::ok) {
                    got[c].push_back(v);
                    q.task_done();
                }
            });
        std::vector<std::thread> ps;
        for (int p = 0; p < producers; ++p)
            ps.emplace_back([&, p] {
                for (int i = 0; i < per; ++i) cr_assert_eq(q.put(p * per + i), queue_status::ok);
            });
        for (auto& t : ps) t.join();
        q.join();   // every item taken and done
        cr_assert_eq(q.unfinished(), 0u);
        q.close();
        for (auto& t : ts) t.join();
        std::vector<int> seen(producers * per, 0);
        for (auto& g : got) {
            // each producer's items reach one consumer in the order they were put
            std::vector<int> last(producers, -1);
            for (int v : g) {
                ++seen[v];
                cr_assert_gt(v, last[v / per]);
                last[v / per] = v;
            }
        }
        for (int n : seen) cr_assert_eq(n, 1);
    }
}

Test(queue, lifo_and_priority_orders) {
    conc::lifo_queue<int> l;
    for (int i = 0; i < 5; ++i) l.put(i);
    int v;
    for (int i = 4; i >= 0; --i) {
        cr_assert_eq(l.try_get(v), queue_status::ok);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(l.try_get(v), queue_status::empty);

    // PriorityQueue of (priority, name): least first; equals in the order put.
    using job = std::pair<int, std::string>;
    struct by_priority {
        bool operator()(const job& a, const job& b) const { return a.first < b.first; }
    };
    conc::priority_queue<job, by_priority> p;
    p.put(job{2, "b1"});
    p.put(job{1, "a1"});
    p.put(job{2, "b2"});
    p.put(job{0, "z"});
    p.put(job{1, "a2"});
    p.put(job{2, "b3"});
    std::string order;
    job j;
    while (p.try_get(j) == queue_status::ok) order += j.second + " ";
    cr_assert_str_eq(order.c_str(), "z a1 a2 b1 b2 b3 ");
}

Test(queue, maxsize_full_and_timeouts) {
    conc::queue<std::string> q(2);
    cr_assert_eq(q.capacity(), 2u);
    std::string a = "a", c = "c";
    cr_assert_eq(q.put(a), queue_status::ok);
    cr_assert_eq(q.try_put(std::string("b")), queue_status::ok);
    cr_assert(q.full());
    cr_assert_eq(q.try_put(c), queue_status::full);
    cr_assert_str_eq(c.c_str(), "c", "not moved from when refused");
    cr_assert_eq(q.put_for(c, 1ms), queue_status::timeout);
    cr_assert_str_eq(c.c_str(), "c");
    std::string out;
    cr_assert_eq(q.get_for(out, 1ms), queue_status::ok);
    cr_assert_str_eq(out.c_str(), "a");
    cr_assert_eq(q.size(), 1u);
    cr_assert_eq(q.get(out), queue_status::ok);
    cr_assert(q.empty());
    cr_assert_eq(q.get_for(out, 1ms), queue_status::timeout);
    cr_assert_eq(q.join_for(1ms), queue_status::timeout, "two items put, none done");
    q.task_done(2);
    cr_assert_eq(q.join_for(1ms), queue_status::ok);
    cr_assert_throw(q.task_done(), std::logic_error);
}

Test(queue, a_blocked_put_goes_on_when_a_get_makes_room) {
    for (int round = 0; round < 200; ++round) {
        conc::queue<int> q(1);
        q.put(1);
        std::thread t([&] { cr_assert_eq(q.put(2), queue_status::ok); });
        int v;
        cr_assert_eq(q.get(v), queue_status::ok);
        cr_assert_eq(v, 1);
        cr_assert_eq(q.get(v), queue_status::ok);   // waits for the blocked put
        cr_assert_eq(v, 2);
        t.join();
    }
}

Test(queue, close_wakes_everyone_and_gets_drain_first) {
    for (int round = 0; round < 100; ++round) {
        conc::queue<int> full(1), empty;
        full.put(7);
        std::atomic<int> woke{0};
        std::thread putter([&] { if (full.put(8) == queue_status::closed) ++woke; });
        std::thread getter([&] { int v; if (empty.get(v) == queue_status::closed) ++woke; });
        full.close();
        empty.close();
        cr_assert(!full.close(), "twice: false");
        putter.join();
        getter.join();
        cr_assert_eq(woke.load(), 2);
        int v = 0;
        cr_assert_eq(full.get(v), queue_status::ok, "what was in is still taken");
        cr_assert_eq(v, 7);
        cr_assert_eq(full.get(v), queue_status::closed);
        cr_assert_eq(full.try_put(9), queue_status::closed);
    }
}

Test(queue, move_only_items) {
    conc::queue<std::unique_ptr<int>> q;
    auto p = std::make_unique<int>(42);
    cr_assert_eq(q.put(std::move(p)), queue_status::ok);
    cr_assert(!p);
    std::unique_ptr<int> out;
    cr_assert_eq(q.get(out), queue_status::ok);
    cr_assert_eq(*out, 42);
}
