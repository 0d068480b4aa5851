// task_group.hpp: the bound, slot numbers, limits that change, errors, cancellation.
#include <set>
#include <stdexcept>
#include <vector>

#include "conc/task_group.hpp"
#include "coro_test.hpp"

using namespace conc;

struct tally {
    int running = 0, peak = 0, done = 0;
    std::vector<int> seen;            // items, each once
    std::set<unsigned> slots_in_use;  // no two members share a slot
    bool slot_clash = false;
    unsigned max_slot = 0;
};

static task<void> member(tally& t, int item, unsigned slot, int yields) {
    if (!t.slots_in_use.insert(slot).second) t.slot_clash = true;
    t.max_slot = std::max(t.max_slot, slot);
    t.peak = std::max(t.peak, ++t.running);
    for (int i = 0; i < yields; ++i) co_await loop::current().yield();
    t.slots_in_use.erase(slot);
    --t.running;
    ++t.done;
    t.seen.push_back(item);
}

static task<void> run_items(tally& t, std::size_t limit, int items) {
    task_group g(limit);
    for (int i = 0; i < items; ++i)
        co_await g.start([&t, i](unsigned slot) { return member(t, i, slot, 1 + (i * 7) % 5); });
    co_await g.join();
}

CORO_TEST(task_group, at_most_n_at_once_each_item_once_slots_within_1_to_n) {
    for (std::size_t limit : {1u, 2u, 3u, 8u}) {
        for (int round = 0; round < 20; ++round) {
            loop lp;
            tally t;
            lp.run(run_items(t, limit, 200));
            CHECK_EQ(t.done, 200);
            CHECK(t.peak <= int(limit));
            CHECK_EQ(t.peak, int(limit));
            CHECK(!t.slot_clash);
            CHECK(t.max_slot <= limit);
            std::set<int> items(t.seen.begin(), t.seen.end());
            CHECK_EQ(items.size(), std::size_t(200));
        }
    }
}

struct gates {
    std::vector<co::event> open{8};
    std::vector<unsigned> started;   // slot of each start, in order
};

static task<void> gated(gates& g, int i) { co_await g.open[i].wait(); }

static task<std::vector<unsigned>> lowest_slot_first() {
    gates gs;
    task_group g(3);
    for (int i = 0; i < 3; ++i) gs.started.push_back(co_await g.start([&gs, i](unsigned) { return gated(gs, i); }));
    gs.open[1].set();                                                              // slot 2 frees
    gs.started.push_back(co_await g.start([&gs](unsigned) { return gated(gs, 3); }));  // waits, gets 2
    gs.open[0].set();
    gs.open[2].set();
    gs.open[3].set();
    co_await g.join();
    co_return gs.started;
}

CORO_TEST(task_group, a_new_member_takes_the_lowest_free_slot) {
    loop lp;
    std::vector<unsigned> want{1, 2, 3, 2};
    CHECK(lp.run(lowest_slot_first()) == want);
}

static task<void> limit_changes(tally& t) {
    task_group g(1);
    std::vector<co::event> open(6);
    auto held = [](tally& t, co::event& e, unsigned slot) -> task<void> {
        t.peak = std::max(t.peak, ++t.running);
        t.max_slot = std::max(t.max_slot, slot);
        co_await e.wait();
        --t.running;
    };
    co_await g.start([&](unsigned s) { return held(t, open[0], s); });
    g.set_limit(3);   // two more may start at once
    co_await g.start([&](unsigned s) { return held(t, open[1], s); });
    co_await g.start([&](unsigned s) { return held(t, open[2], s); });
    CHECK_EQ(g.running(), std::size_t(3));
    g.set_limit(1);   // the three keep running; no new one until two have ended
    auto starter = loop::current().spawn(g.start([&](unsigned s) { return held(t, open[3], s); }));
    co_await loop::current().yield();
    co_await loop::current().yield();
    CHECK(!starter.done());
    open[0].set();
    co_await loop::current().yield();
    co_await loop::current().yield();
    CHECK(!starter.done());   // 2 running, limit 1
    open[1].set();
    open[2].set();
    unsigned slot = co_await starter;
    CHECK_EQ(slot, 1u);
    open[3].set();
    co_await g.join();
}

CORO_TEST(task_group, the_limit_may_grow_and_shrink_while_members_run) {
    loop lp;
    tally t;
    lp.run(limit_changes(t));
    CHECK_EQ(t.peak, 3);
    CHECK_EQ(t.running, 0);
}

static task<void> boom_after(int yields) {
    for (int i = 0; i < yields; ++i) co_await loop::current().yield();
    throw std::runtime_error("boom");
}
static task<void> forever(int& cancelled) {
    co_await loop::current().sleep_for(std::chrono::hours(1));
    (void)cancelled;
}
static task<void> counted_forever(int& cancelled) {
    try {
        co_await forever(cancelled);
    } catch (const cancelled_error&) {
        ++cancelled;
        throw;
    }
}

static task<std::string> first_error(int& cancelled) {
    task_group g(4);
    co_await g.start([&cancelled](unsigned) { return counted_forever(cancelled); });
    co_await g.start([&cancelled](unsigned) { return counted_forever(cancelled); });
    co_await g.start([](unsigned) { return boom_after(3); });
    try {
        co_await g.join();
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "no error";
}

CORO_TEST(task_group, the_first_error_cancels_the_others_and_comes_out_of_join) {
    loop lp;
    int cancelled = 0;
    CHECK_EQ(lp.run(first_error(cancelled)), std::string("boom"));
    CHECK_EQ(cancelled, 2);
}

static task<int> cancel_all(int& cancelled) {
    task_group g(2);
    co_await g.start([&cancelled](unsigned) { return counted_forever(cancelled); });
    co_await g.start([&cancelled](unsigned) { return counted_forever(cancelled); });
    auto waiting = loop::current().spawn(g.start([&cancelled](unsigned) { return counted_forever(cancelled); }));
    co_await loop::current().yield();
    g.cancel();
    co_await g.join();
    int refused = 0;
    try {
        co_await waiting;
    } catch (const cancelled_error&) {
        refused = 1;
    }
    co_return refused + 10 * int(g.running());
}

CORO_TEST(task_group, cancel_stops_members_and_refuses_new_ones) {
    loop lp;
    int cancelled = 0;
    CHECK_EQ(lp.run(cancel_all(cancelled)), 1);
    CHECK_EQ(cancelled, 2);
}
