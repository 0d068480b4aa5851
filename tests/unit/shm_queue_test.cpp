// Unit tests for conc/shm_queue.hpp: the cross-process named queue.  Order by
// kind, bounds, blocking and waking (put, close, remove), timeouts, close,
// task_done/join, names and paths, racing creators, many producers and
// consumers in separate processes, and processes killed with SIGKILL at random
// moments while others keep going.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "conc/fd.hpp"
#include "conc/shm.hpp"
#include "conc/shm_queue.hpp"
#include "ipc_support.hpp"

using namespace conc;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// Every queue a test makes is named prefix()+tag, so leftovers are easy to find.
std::string prefix() { return "conc_shmq_test_" + std::to_string(getpid()) + "_"; }
std::string uniq(const std::string& tag) { return prefix() + tag; }

void assert_no_leftovers() { ipc::assert_no_leftovers(prefix()); }
void remove_leftovers() { ipc::remove_leftovers(prefix()); }
using ipc::spawn_child;
using ipc::wait_exit;
using ipc::kill_child;

constexpr queue_kind all_kinds[] = {queue_kind::fifo, queue_kind::lifo, queue_kind::priority};

queue_options opts(queue_kind k, std::uint64_t capacity = 1 << 16, std::uint64_t maxsize = 0) {
    queue_options o;
    o.kind = k;
    o.capacity = capacity;
    o.maxsize = maxsize;
    return o;
}

using ipc::ms_since;

// Waits (up to a minute) until process pid sleeps in the kernel: a child that
// is blocked in a queue wait.  Returns false if it never did.
bool asleep(pid_t pid) {
    for (int i = 0; i < 60000; ++i) {
        std::string stat;
        try {
            unique_fd fd = open_file("/proc/" + std::to_string(pid) + "/stat", O_RDONLY);
            stat = read_all(fd.get());
        } catch (const sys_error&) {
            return false;
        }
        auto close_paren = stat.rfind(')');
        if (close_paren != std::string::npos && close_paren + 2 < stat.size() && stat[close_paren + 2] == 'S')
            return true;
        usleep(1000);
    }
    return false;
}

// Exit codes that carry a queue_status from a child.
int code(queue_status s) { return 10 + int(s); }

// A test item: an 8-byte id, then a filler whose length and bytes follow from
// the id (NUL bytes included), so a torn or mixed-up item is caught.
std::string make_item(long id) {
    std::string s(8, '\0');
    std::memcpy(s.data(), &id, 8);
    std::size_t fill = std::size_t(id * 7 % 53);
    for (std::size_t i = 0; i < fill; ++i) s.push_back(char((id + long(i)) % 7 == 0 ? 0 : 'a' + (id + long(i)) % 26));
    return s;
}
// The id of a well-formed item, or -1.
long item_id(const std::string& s) {
    if (s.size() < 8) return -1;
    long id;
    std::memcpy(&id, s.data(), 8);
    if (id < 0 || make_item(id) != s) return -1;
    return id;
}

}  // namespace

TestSuite(shm_queue, .fini = remove_leftovers);

// ---------------------------------------------------------------------------
// Order.

Test(shm_queue, fifo_lifo_and_priority_order_with_fifo_among_equal_priorities) {
    const std::string name = uniq("order");
    {
        auto q = shm_queue::create(name + "f", opts(queue_kind::fifo));
        for (std::string s : {"a", "b", "", "c"}) cr_assert_eq(q.put(s), queue_status::ok);
        std::string got;
        for (std::string want : {"a", "b", "", "c"}) {
            cr_assert_eq(q.get(got), queue_status::ok);
            cr_assert_eq(got, want);
        }
    }
    {
        auto q = shm_queue::create(name + "l", opts(queue_kind::lifo));
        for (std::string s : {"a", "b", "", "c"}) cr_assert_eq(q.put(s), queue_status::ok);
        std::string got;
        for (std::string want : {"c", "", "b", "a"}) {
            cr_assert_eq(q.get(got), queue_status::ok);
            cr_assert_eq(got, want);
        }
    }
    {
        auto q = shm_queue::create(name + "p", opts(queue_kind::priority));
        const std::pair<const char*, long> in[] = {{"x1", 5}, {"y1", 1}, {"z1", -3}, {"y2", 1}, {"x2", 5},
                                                   {"y3", 1}, {"w", 100}, {"z2", -3}, {"big", 2}};
        for (auto& [s, p] : in) cr_assert_eq(q.put(s, p), queue_status::ok);
        std::string got;
        std::int64_t prio = 0;
        const std::pair<const char*, long> want[] = {{"z1", -3}, {"z2", -3}, {"y1", 1}, {"y2", 1}, {"y3", 1},
                                                     {"big", 2}, {"x1", 5},  {"x2", 5}, {"w", 100}};
        for (auto& [s, p] : want) {
            cr_assert_eq(q.get(got, &prio), queue_status::ok);
            cr_assert_eq(got, s);
            cr_assert_eq(prio, p);
        }
        cr_assert_eq(q.try_get(got), queue_status::empty);
    }
    for (const char* k : {"f", "l", "p"}) cr_assert(shm_queue::remove(name + k));
    assert_no_leftovers();
}

// Random operations against a model (std::deque), every kind, items of
// varying length that wrap the ring many times; check() after each step.
Test(shm_queue, random_operations_match_a_model_and_keep_the_structure_consistent) {
    std::mt19937 rng(12345);
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("model_") + to_string(k));
        auto q = shm_queue::create(name, opts(k, 700));
        // model: (priority, seq, item); fifo/lifo ignore priority
        struct entry {
            long prio;
            long seq;
            std::string item;
        };
        std::deque<entry> model;
        long seq_back = 0, seq_front = -1;
        std::uint64_t model_bytes = 0;
        auto next_index = [&]() -> std::size_t {
            if (k == queue_kind::fifo) return 0;
            if (k == queue_kind::lifo) return model.size() - 1;
            std::size_t best = 0;
            for (std::size_t i = 1; i < model.size(); ++i)
                if (std::pair(model[i].prio, model[i].seq) < std::pair(model[best].prio, model[best].seq)) best = i;
            return best;
        };
        for (int step = 0; step < 3000; ++step) {
            int op = int(rng() % 10);
            if (op < 5) {  // put
                std::string item(rng() % 120, '\0');
                for (auto& c : item) c = char(rng());
                long prio = long(rng() % 5);
                queue_status s = q.try_put(item, prio);
                if (s == queue_status::ok) {
                    model.push_back({prio, seq_back++, item});
                    model_bytes += item.size();
                } else {
                    cr_assert_eq(s, queue_status::full, "step %d: %s", step, to_string(s));
                }
            } else if (op < 8) {  // get
                std::string got;
                std::int64_t prio = -1;
                queue_status s = q.try_get(got, &prio);
                if (model.empty()) {
                    cr_assert_eq(s, queue_status::empty);
                } else {
                    cr_assert_eq(s, queue_status::ok);
                    std::size_t i = next_index();
                    cr_assert(got == model[i].item, "step %d: wrong item", step);
                    if (k == queue_kind::priority) cr_assert_eq(prio, model[i].prio);
                    model_bytes -= got.size();
                    // sometimes put it back: it must come out next again
                    if (rng() % 4 == 0) {
                        cr_assert_eq(q.unget(got, prio), queue_status::ok);
                        if (k == queue_kind::priority) model[i].seq = seq_front--;
                        model_bytes += got.size();
                    } else {
                        model.erase(model.begin() + long(i));
                    }
                }
            } else if (op == 8) {  // get_many, then put part of it back
                item_batch b;
                std::size_t max = 1 + rng() % 6;
                batch_result r = q.get_many(b, max, 0ns);
                if (model.empty()) {
                    cr_assert_eq(r.status, queue_status::empty);
                    continue;
                }
                cr_assert_eq(r.status, queue_status::ok);
                cr_assert_eq(r.count, std::min(max, model.size()));
                cr_assert_eq(b.size(), r.count);
                std::vector<entry> taken;
                for (std::size_t j = 0; j < r.count; ++j) {
                    std::size_t i = next_index();
                    cr_assert(b[j] == model[i].item, "step %d: wrong batch item %zu", step, j);
                    if (k == queue_kind::priority) cr_assert_eq(b.priority(j), model[i].prio);
                    taken.push_back(model[i]);
                    model.erase(model.begin() + long(i));
                }
                std::size_t first = rng() % (r.count + 1);
                cr_assert_eq(q.unget_many(b, first), queue_status::ok);
                for (std::size_t j = r.count; j-- > first;) {
                    entry e = taken[j];
                    if (k == queue_kind::priority) e.seq = seq_front--;
                    if (k == queue_kind::lifo) model.push_back(e);
                    else model.push_front(e);
                }
                model_bytes = 0;
                for (auto& e : model) model_bytes += e.item.size();
            } else {  // put_many
                item_batch b;
                std::size_t n = 1 + rng() % 5;
                for (std::size_t j = 0; j < n; ++j) b.push_back(std::string(rng() % 60, char('A' + j)), long(rng() % 5));
                batch_result r = q.put_many(b, 0ns);
                cr_assert(r.status == queue_status::ok || r.status == queue_status::full);
                for (std::size_t j = 0; j < r.count; ++j) {
                    model.push_back({b.priority(j), seq_back++, std::string(b[j])});
                    model_bytes += b[j].size();
                }
            }
            cr_assert_eq(q.size(), model.size(), "step %d", step);
            std::string problem = q.check();
            cr_assert(problem.empty(), "%s step %d: %s", to_string(k), step, problem.c_str());
            cr_assert_eq(q.stats().bytes_used, model_bytes);
        }
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

Test(shm_queue, unget_many_puts_the_rest_of_a_batch_back_in_front_in_order) {
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("unget_") + to_string(k));
        auto q = shm_queue::create(name, opts(k));
        for (std::string s : {"1", "2", "3", "4", "5"}) cr_assert_eq(q.put(s, 7), queue_status::ok);
        item_batch b;
        cr_assert_eq(q.get_many(b, 3).count, 3u);
        cr_assert_eq(q.unget_many(b, 1), queue_status::ok);  // b[1], b[2] back; b[1] next out
        std::string got;
        cr_assert_eq(q.get(got), queue_status::ok);
        cr_assert_eq(got, std::string(b[1]), "%s", to_string(k));
        cr_assert_eq(q.get(got), queue_status::ok);
        cr_assert_eq(got, std::string(b[2]), "%s", to_string(k));
        auto st = q.stats();
        cr_assert_eq(st.puts, 5u);
        cr_assert_eq(st.gets, 3u);
        cr_assert_eq(st.items, 2u);
        cr_assert_eq(st.unfinished, 5u);
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

Test(shm_queue, get_many_stops_at_max_items_and_max_bytes_but_takes_one_item_at_least) {
    const std::string name = uniq("getmany");
    auto q = shm_queue::create(name);
    for (int i = 0; i < 10; ++i) cr_assert_eq(q.put(std::string(10, char('a' + i))), queue_status::ok);
    item_batch b;
    batch_result r = q.get_many(b, 3);
    cr_assert_eq(r.count, 3u);
    cr_assert_eq(b.size(), 3u);
    cr_assert_eq(b.bytes(), 30u);
    r = q.get_many(b, 100, std::nullopt, 25);  // appends: two more (20 bytes), a third would pass 25
    cr_assert_eq(r.count, 2u);
    cr_assert_eq(b.size(), 5u);
    cr_assert_eq(b[4], std::string(10, 'e'));
    r = q.get_many(b, 100, std::nullopt, 1);  // one item even though it is larger than max_bytes
    cr_assert_eq(r.count, 1u);
    r = q.get_many(b, 100);
    cr_assert_eq(r.count, 4u);
    cr_assert_eq(b[9], std::string(10, 'j'));
    r = q.get_many(b, 100, 0ns);
    cr_assert_eq(r.count, 0u);
    cr_assert_eq(r.status, queue_status::empty);
    r = q.get_many(b, 100, 20ms);
    cr_assert_eq(r.status, queue_status::timeout);
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
}

// ---------------------------------------------------------------------------
// Bounds.

Test(shm_queue, maxsize_bounds_the_items_and_full_says_so) {
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("maxsize_") + to_string(k));
        auto q = shm_queue::create(name, opts(k, 1 << 16, 3));
        for (int i = 0; i < 3; ++i) {
            cr_assert(!q.full());
            cr_assert_eq(q.try_put("x"), queue_status::ok);
        }
        cr_assert(q.full());
        cr_assert_eq(q.try_put("y"), queue_status::full);
        cr_assert_eq(q.put_for("y", 10ms), queue_status::timeout);
        std::string s;
        cr_assert_eq(q.get(s), queue_status::ok);
        cr_assert_eq(q.try_put("y"), queue_status::ok);
        cr_assert_eq(q.size(), 3u);
        // unget ignores maxsize: the item was counted in already
        cr_assert_eq(q.unget(s), queue_status::ok);
        cr_assert_eq(q.size(), 4u);
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

Test(shm_queue, byte_capacity_bounds_the_items_and_an_item_of_the_whole_capacity_fits_alone) {
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("bytes_") + to_string(k));
        auto q = shm_queue::create(name, opts(k, 1000));
        const std::string whole(1000, 'w');
        cr_assert_eq(q.try_put(whole), queue_status::ok, "%s", to_string(k));
        cr_assert(q.full());
        cr_assert_eq(q.try_put(""), queue_status::full);
        std::string got;
        cr_assert_eq(q.get(got), queue_status::ok);
        cr_assert_eq(got, whole);
        // Many small items fill it before bytes_used reaches the capacity.
        int n = 0;
        while (q.try_put(std::string(100, 'x')) == queue_status::ok) ++n;
        cr_assert(n >= 8 && n < 10, "%s: %d items of 100 bytes in 1000", to_string(k), n);
        auto st = q.stats();
        cr_assert_eq(st.bytes_used, std::uint64_t(n) * 100);
        cr_assert_eq(st.capacity, 1000u);
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

Test(shm_queue, an_item_larger_than_the_capacity_is_refused_and_nothing_is_put) {
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("large_") + to_string(k));
        auto q = shm_queue::create(name, opts(k, 1000));
        cr_assert_eq(q.put("small"), queue_status::ok);
        const std::string big(1001, 'b');
        cr_assert_eq(q.put(big), queue_status::too_large);
        cr_assert_eq(q.try_put(big), queue_status::too_large);
        cr_assert_eq(q.put_for(big, 1s), queue_status::too_large);
        std::string_view three[] = {"a", big, "c"};
        batch_result r = q.put_many(three);
        cr_assert_eq(r.status, queue_status::too_large);
        cr_assert_eq(r.count, 1u);  // "a" went in, big was refused, "c" was not tried
        auto st = q.stats();
        cr_assert_eq(st.items, 2u);
        cr_assert_eq(st.puts, 2u);
        cr_assert_eq(st.bytes_used, 6u);
        cr_assert(q.check().empty());
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

// ---------------------------------------------------------------------------
// Blocking, waking, timeouts.

Test(shm_queue, a_blocked_get_in_another_process_is_woken_by_put) {
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("wakeput_") + to_string(k));
        auto q = shm_queue::create(name, opts(k));
        pid_t child = spawn_child([&] {
            auto mine = shm_queue::open(name);
            std::string got;
            queue_status s = mine.get(got);
            return s == queue_status::ok && got == "hello" ? 0 : code(s);
        });
        cr_assert(asleep(child));
        cr_assert_eq(q.put("hello"), queue_status::ok);
        cr_assert_eq(wait_exit(child), 0);
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

Test(shm_queue, wait_for_items_waits_as_get_does_and_takes_nothing) {
    using namespace std::chrono_literals;
    const std::string name = uniq("waititems");
    auto q = shm_queue::create(name, opts(queue_kind::fifo));
    cr_assert_eq(q.wait_for_items(0ns), queue_status::empty);
    cr_assert_eq(q.wait_for_items(1ms), queue_status::timeout);
    // A waiter in another process is woken by a put, and the item stays.
    pid_t child = spawn_child([&] { return code(shm_queue::open(name).wait_for_items()); });
    cr_assert(asleep(child));
    cr_assert_eq(q.put("kept"), queue_status::ok);
    cr_assert_eq(wait_exit(child), code(queue_status::ok));
    cr_assert_eq(q.wait_for_items(0ns), queue_status::ok);
    cr_assert_eq(q.size(), 1u);
    cr_assert_eq(q.stats().gets, 0u);
    // Closed: ok while an item is left, closed once drained; a closed waiter wakes.
    auto c = shm_queue::create(name + "_c", opts(queue_kind::fifo));
    pid_t closed_waiter = spawn_child([&] { return code(shm_queue::open(name + "_c").wait_for_items(60s)); });
    cr_assert(asleep(closed_waiter));
    cr_assert(q.close() && c.close());
    cr_assert_eq(wait_exit(closed_waiter), code(queue_status::closed));
    cr_assert_eq(q.wait_for_items(), queue_status::ok);
    std::string got;
    cr_assert_eq(q.get(got), queue_status::ok);
    cr_assert_eq(got, "kept");
    cr_assert_eq(q.wait_for_items(), queue_status::closed);
    // Removed: a waiter wakes with removed.
    auto r = shm_queue::create(name + "_r", opts(queue_kind::fifo));
    pid_t removed_waiter = spawn_child([&] { return code(shm_queue::open(name + "_r").wait_for_items()); });
    cr_assert(asleep(removed_waiter));
    cr_assert(shm_queue::remove(name + "_r"));
    cr_assert_eq(wait_exit(removed_waiter), code(queue_status::removed));
    cr_assert_eq(r.wait_for_items(), queue_status::removed);
    cr_assert(shm_queue::remove(name));
    cr_assert(shm_queue::remove(name + "_c"));
    assert_no_leftovers();
}

Test(shm_queue, a_blocked_put_in_another_process_is_woken_by_get) {
    const std::string name = uniq("wakeget");
    auto q = shm_queue::create(name, opts(queue_kind::fifo, 1 << 16, 1));
    cr_assert_eq(q.put("first"), queue_status::ok);
    pid_t child = spawn_child([&] {
        auto mine = shm_queue::open(name);
        queue_status s = mine.put("second");
        return s == queue_status::ok ? 0 : code(s);
    });
    cr_assert(asleep(child));
    std::string got;
    cr_assert_eq(q.get(got), queue_status::ok);
    cr_assert_eq(got, "first");
    cr_assert_eq(wait_exit(child), 0);
    cr_assert_eq(q.get(got), queue_status::ok);
    cr_assert_eq(got, "second");
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
}

Test(shm_queue, close_wakes_blocked_gets_and_puts_with_closed) {
    const std::string name = uniq("wakeclose");
    auto q = shm_queue::create(name, opts(queue_kind::fifo, 1 << 16, 1));
    const std::string full_name = name + "_full";
    auto f = shm_queue::create(full_name, opts(queue_kind::fifo, 1 << 16, 1));
    cr_assert_eq(f.put("x"), queue_status::ok);
    std::vector<pid_t> getters, putters;
    for (int i = 0; i < 3; ++i) {
        getters.push_back(spawn_child([&] {
            std::string got;
            return code(shm_queue::open(name).get(got));
        }));
        putters.push_back(spawn_child([&] { return code(shm_queue::open(full_name).put("y")); }));
    }
    for (pid_t p : getters) cr_assert(asleep(p));
    for (pid_t p : putters) cr_assert(asleep(p));
    cr_assert(q.close());
    cr_assert(!q.close());
    cr_assert(f.close());
    for (pid_t p : getters) cr_assert_eq(wait_exit(p), code(queue_status::closed));
    for (pid_t p : putters) cr_assert_eq(wait_exit(p), code(queue_status::closed));
    cr_assert(shm_queue::remove(name));
    cr_assert(shm_queue::remove(full_name));
    assert_no_leftovers();
}

Test(shm_queue, remove_wakes_every_blocked_process_with_removed) {
    const std::string name = uniq("wakeremove");
    auto q = shm_queue::create(name, opts(queue_kind::priority, 1 << 16, 1));
    cr_assert_eq(q.put("x"), queue_status::ok);  // full: puts block, join blocks
    std::vector<pid_t> kids;
    kids.push_back(spawn_child([&] { return code(shm_queue::open(name).put("y")); }));
    kids.push_back(spawn_child([&] { return code(shm_queue::open(name).join()); }));
    const std::string empty_name = name + "_e";
    auto e = shm_queue::create(empty_name);
    pid_t getter = spawn_child([&] {
        std::string got;
        return code(shm_queue::open(empty_name).get(got));
    });
    for (pid_t p : kids) cr_assert(asleep(p));
    cr_assert(asleep(getter));
    cr_assert(shm_queue::remove(name));
    cr_assert(shm_queue::remove(empty_name));
    for (pid_t p : kids) cr_assert_eq(wait_exit(p), code(queue_status::removed));
    cr_assert_eq(wait_exit(getter), code(queue_status::removed));
    // The handles still mapped answer removed from now on.
    std::string got;
    cr_assert_eq(q.put("z"), queue_status::removed);
    cr_assert_eq(q.get(got), queue_status::removed);
    cr_assert_eq(e.try_get(got), queue_status::removed);
    cr_assert(q.stats().removed);
    cr_assert(!shm_queue::remove(name));
    cr_assert_throw(shm_queue::open(name), sys_error);
    assert_no_leftovers();
}

// The failure of pthread condition variables that the queue's futex words
// avoid: waiters killed in their sleep must not stop later wake-ups.
Test(shm_queue, waiters_killed_in_their_sleep_do_not_stop_later_wakeups, .timeout = 120) {
    const std::string name = uniq("killedwaiters");
    auto q = shm_queue::create(name, opts(queue_kind::fifo, 1 << 16, 1));
    for (int round = 0; round < 3; ++round) {
        std::vector<pid_t> sleepers;
        for (int i = 0; i < 3; ++i)
            sleepers.push_back(spawn_child([&] {
                std::string got;
                return code(shm_queue::open(name).get(got));
            }));
        for (pid_t p : sleepers) cr_assert(asleep(p));
        for (pid_t p : sleepers) {
            kill_child(p);
        }
        pid_t getter = spawn_child([&] {
            std::string got;
            queue_status s = shm_queue::open(name).get(got);
            return s == queue_status::ok && got == "after" ? 0 : code(s);
        });
        cr_assert(asleep(getter));
        cr_assert_eq(q.put("after"), queue_status::ok);
        cr_assert_eq(wait_exit(getter), 0);
    }
    // The same for putters blocked on a full queue, and a joiner.
    cr_assert_eq(q.put("fill"), queue_status::ok);
    pid_t putter = spawn_child([&] { return code(shm_queue::open(name).put("x")); });
    pid_t joiner = spawn_child([&] { return code(shm_queue::open(name).join()); });
    cr_assert(asleep(putter));
    cr_assert(asleep(joiner));
    kill_child(putter);
    kill_child(joiner);
    putter = spawn_child([&] { return code(shm_queue::open(name).put("y")); });
    joiner = spawn_child([&] { return code(shm_queue::open(name).join()); });
    cr_assert(asleep(putter));
    std::string got;
    cr_assert_eq(q.get(got), queue_status::ok);
    cr_assert_eq(wait_exit(putter), code(queue_status::ok));
    cr_assert_eq(q.get(got), queue_status::ok);
    cr_assert_eq(got, "y");
    cr_assert_eq(q.task_done(q.stats().unfinished), queue_status::ok);
    cr_assert_eq(wait_exit(joiner), code(queue_status::ok));
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
}

Test(shm_queue, timeouts_end_get_put_and_join_after_the_time_and_not_much_later) {
    const std::string name = uniq("timeouts");
    auto q = shm_queue::create(name, opts(queue_kind::fifo, 1 << 16, 1));
    std::string got;
    auto t0 = steady::now();
    cr_assert_eq(q.get_for(got, 100ms), queue_status::timeout);
    double ms = ms_since(t0);
    cr_assert(ms >= 100 && ms < 10000, "get_for(100ms) took %.1f ms", ms);
    cr_assert_eq(q.put("x"), queue_status::ok);
    t0 = steady::now();
    cr_assert_eq(q.put_for("y", 100ms), queue_status::timeout);
    ms = ms_since(t0);
    cr_assert(ms >= 100 && ms < 10000, "put_for(100ms) took %.1f ms", ms);
    t0 = steady::now();
    cr_assert_eq(q.join_for(100ms), queue_status::timeout);
    ms = ms_since(t0);
    cr_assert(ms >= 100 && ms < 10000, "join_for(100ms) took %.1f ms", ms);
    item_batch b;
    t0 = steady::now();
    std::string_view one[] = {"z"};
    cr_assert_eq(q.put_many(one, 0, 100ms).status, queue_status::timeout);
    cr_assert(ms_since(t0) >= 100);
    // Zero timeouts do not wait at all.
    cr_assert_eq(q.put_for("y", 0ms), queue_status::timeout);
    cr_assert_eq(q.try_put("y"), queue_status::full);
    cr_assert_eq(q.get_for(got, 0ms), queue_status::ok);
    cr_assert_eq(q.get_for(got, 0ms), queue_status::timeout);
    cr_assert_eq(q.try_get(got), queue_status::empty);
    // A wait that ends in time returns the item.
    pid_t child = spawn_child([&] { return code(shm_queue::open(name).put("late")); });
    cr_assert_eq(q.get_for(got, 60s), queue_status::ok);
    cr_assert_eq(got, "late");
    cr_assert_eq(wait_exit(child), code(queue_status::ok));
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
}

// ---------------------------------------------------------------------------
// close, task_done, join.

Test(shm_queue, close_refuses_puts_and_lets_gets_drain_what_is_left) {
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("close_") + to_string(k));
        auto q = shm_queue::create(name, opts(k));
        cr_assert_eq(q.put("a"), queue_status::ok);
        cr_assert_eq(q.put("b"), queue_status::ok);
        cr_assert(!q.closed());
        cr_assert(q.close());
        cr_assert(q.closed());
        cr_assert(q.stats().closed);
        cr_assert_eq(q.put("c"), queue_status::closed);
        cr_assert_eq(q.try_put("c"), queue_status::closed);
        std::string_view more[] = {"d", "e"};
        batch_result r = q.put_many(more);
        cr_assert_eq(r.status, queue_status::closed);
        cr_assert_eq(r.count, 0u);
        std::string got;
        cr_assert_eq(q.get(got), queue_status::ok);
        // unget still works after close: the item was in the queue
        cr_assert_eq(q.unget(got), queue_status::ok);
        cr_assert_eq(q.get(got), queue_status::ok);
        cr_assert_eq(q.get(got), queue_status::ok);
        cr_assert_eq(q.get(got), queue_status::closed);
        cr_assert_eq(q.try_get(got), queue_status::closed);
        cr_assert_eq(q.get_for(got, 1s), queue_status::closed);
        item_batch b;
        cr_assert_eq(q.get_many(b, 10).status, queue_status::closed);
        // a reopened handle sees it closed too
        cr_assert(shm_queue::open(name).closed());
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

Test(shm_queue, task_done_and_join_count_every_item_ever_put) {
    const std::string name = uniq("join");
    auto q = shm_queue::create(name);
    cr_assert_eq(q.join(), queue_status::ok);  // nothing put yet
    for (int i = 0; i < 3; ++i) cr_assert_eq(q.put("t"), queue_status::ok);
    cr_assert_eq(q.stats().unfinished, 3u);
    cr_assert_eq(q.join_for(10ms), queue_status::timeout);
    std::string got;
    for (int i = 0; i < 3; ++i) cr_assert_eq(q.get(got), queue_status::ok);
    cr_assert_eq(q.join_for(10ms), queue_status::timeout);  // taken is not done
    cr_assert_eq(q.task_done(2), queue_status::ok);
    cr_assert_throw(q.task_done(2), std::logic_error);  // only one left: nothing changes
    cr_assert_eq(q.stats().unfinished, 1u);
    // A joiner in another process returns when the last task is done.
    pid_t joiner = spawn_child([&] { return code(shm_queue::open(name).join()); });
    cr_assert(asleep(joiner));
    cr_assert_eq(q.task_done(), queue_status::ok);
    cr_assert_eq(wait_exit(joiner), code(queue_status::ok));
    cr_assert_eq(q.join(), queue_status::ok);
    cr_assert_throw(q.task_done(), std::logic_error);
    cr_assert_eq(q.task_done(0), queue_status::ok);
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
}

// ---------------------------------------------------------------------------
// Names, paths, creation.

Test(shm_queue, bad_names_are_refused_with_a_reason) {
    cr_assert_eq(shm_queue::name_error(""), "empty name");
    cr_assert_eq(shm_queue::name_error(std::string(101, 'a')), "longer than 100 characters");
    cr_assert_eq(shm_queue::name_error(std::string(100, 'a')), "");
    cr_assert_eq(shm_queue::name_error("Jobs.v2_x-1"), "");
    for (const char* bad : {"../x", "a/b", "x y", "q\n", "é", "dir/"})
        cr_assert_neq(shm_queue::name_error(bad), "", "'%s' accepted", bad);
    cr_assert_eq(shm_queue::name_error("./q"), "");
    cr_assert_eq(shm_queue::name_error("/tmp/q"), "");
    cr_assert_neq(shm_queue::name_error("/tmp/"), "");
    cr_assert(shm_queue::is_path("./q"));
    cr_assert(shm_queue::is_path("/tmp/q"));
    cr_assert(!shm_queue::is_path("q"));
    cr_assert(!shm_queue::is_path("../q"));
    try {
        shm_queue q("../x", open_mode::create_or_open);
        cr_assert_fail("opened '../x'");
    } catch (const std::invalid_argument& e) {
        cr_assert(std::string(e.what()).starts_with("bad queue name '../x': "), "%s", e.what());
    }
    cr_assert_throw(shm_queue::remove(""), std::invalid_argument);
    cr_assert_throw(shm_queue::create(uniq("zero"), opts(queue_kind::fifo, 0)), std::invalid_argument);
    assert_no_leftovers();
}

Test(shm_queue, open_modes_create_mismatch_and_missing_queues) {
    const std::string name = uniq("modes");
    try {
        shm_queue::open(name);
        cr_assert_fail("opened a missing queue");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), ENOENT);
        cr_assert_eq(std::string(e.what()), "shm_open '/conc.q." + name + "': No such file or directory");
    }
    auto q = shm_queue::create(name, opts(queue_kind::lifo, 4096, 5));
    cr_assert(q.created());
    cr_assert_eq(q.name(), name);
    cr_assert_eq(q.path(), "/dev/shm/conc.q." + name);
    auto again = shm_queue::create(name, opts(queue_kind::lifo, 4096, 5));  // same settings: fine
    cr_assert(!again.created());
    try {
        shm_queue::create(name, opts(queue_kind::fifo, 4096, 5));
        cr_assert_fail("create with other settings succeeded");
    } catch (const queue_mismatch& e) {
        cr_assert(std::string(e.what()).find("lifo, maxsize 5, capacity 4096") != std::string::npos, "%s", e.what());
    }
    auto other = shm_queue::open_or_create(name, opts(queue_kind::priority));  // keeps the queue's settings
    cr_assert(!other.created());
    cr_assert_eq(other.stats().kind, queue_kind::lifo);
    try {
        shm_queue x(name, open_mode::create_exclusive);
        cr_assert_fail("exclusive create of an existing queue");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), EEXIST);
    }
    // what one handle puts, another takes
    cr_assert_eq(q.put("shared"), queue_status::ok);
    std::string got;
    cr_assert_eq(other.get(got), queue_status::ok);
    cr_assert_eq(got, "shared");
    auto names = shm_queue::list();
    cr_assert(std::find(names.begin(), names.end(), name) != names.end());
    cr_assert(shm_queue::remove(name));
    names = shm_queue::list();
    cr_assert(std::find(names.begin(), names.end(), name) == names.end());
    cr_assert(!shm_queue::remove(name));
    assert_no_leftovers();
}

Test(shm_queue, mode_is_set_exactly_and_stats_report_it_with_the_owner) {
    const std::string name = uniq("mode");
    mode_t old = umask(077);
    queue_options o;
    o.mode = 0640;
    auto q = shm_queue::create(name, o);
    umask(old);
    struct stat st;
    cr_assert_eq(stat(("/dev/shm/conc.q." + name).c_str(), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640u);
    auto s = q.stats();
    cr_assert_eq(s.mode, 0640u);
    cr_assert_eq(s.owner, getuid());
    cr_assert_eq(s.kind, queue_kind::fifo);
    cr_assert_eq(s.capacity, 16u << 20);
    cr_assert_eq(s.maxsize, 0u);
    cr_assert(shm_queue::remove(name));
    auto d = shm_queue::create(name);
    cr_assert_eq(d.stats().mode, 0600u);
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
}

Test(shm_queue, a_file_path_queue_is_shared_through_the_file_and_removed_with_it) {
    char dir[] = "/tmp/conc_shmq_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const std::string path = std::string(dir) + "/q";
    {
        queue_options o;
        o.kind = queue_kind::priority;
        o.capacity = 4096;
        o.mode = 0604;
        auto q = shm_queue::create(path, o);
        cr_assert(q.created());
        cr_assert_eq(q.path(), path);
        struct stat st;
        cr_assert_eq(stat(path.c_str(), &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0604u);
        cr_assert_eq(q.put("low", 9), queue_status::ok);
        pid_t child = spawn_child([&] { return code(shm_queue::open(path).put("high", 1)); });
        cr_assert_eq(wait_exit(child), code(queue_status::ok));
        std::string got;
        cr_assert_eq(q.get(got), queue_status::ok);
        cr_assert_eq(got, "high");
    }
    // the file keeps the item after every handle is gone
    {
        auto q = shm_queue::open(path);
        std::string got;
        cr_assert_eq(q.try_get(got), queue_status::ok);
        cr_assert_eq(got, "low");
    }
    // "./" names a path relative to the working directory
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(dir), 0);
    {
        auto q = shm_queue::open("./q");
        cr_assert_eq(q.stats().kind, queue_kind::priority);
    }
    cr_assert(shm_queue::remove("./q"));
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_neq(access(path.c_str(), F_OK), 0);
    cr_assert_eq(rmdir(dir), 0, "temporary files left in %s", dir);
}

Test(shm_queue, something_that_is_not_a_queue_is_refused_and_can_still_be_removed) {
    const std::string name = uniq("garbage");
    {
        unique_fd fd(shm_open(("/conc.q." + name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600));
        cr_assert(bool(fd));
        std::string junk(8192, 'j');
        write_all(fd.get(), junk);
    }
    cr_assert_throw(shm_queue::open(name), queue_format_error);
    cr_assert_throw(shm_queue::open_or_create(name), queue_format_error);
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
    // A file path that is not a queue is somebody's file: left alone.
    char dir[] = "/tmp/conc_shmq_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const std::string path = std::string(dir) + "/notes.txt";
    {
        unique_fd fd = open_file(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        write_all(fd.get(), "not a queue\n");
    }
    cr_assert_throw(shm_queue::open(path), queue_format_error);
    cr_assert_throw(shm_queue::remove(path), queue_format_error);
    cr_assert_eq(access(path.c_str(), F_OK), 0);
    cr_assert_eq(unlink(path.c_str()), 0);
    cr_assert_eq(rmdir(dir), 0);
}

Test(shm_queue, racing_creators_all_agree_on_one_whole_queue) {
    constexpr int procs = 12;
    for (int round = 0; round < 8; ++round) {
        const std::string name = uniq("race" + std::to_string(round));
        const queue_options o = opts(all_kinds[round % 3], 1 << 14);
        auto go = make_pipe();
        std::vector<pid_t> kids;
        for (int p = 0; p < procs; ++p)
            kids.push_back(spawn_child([&, p] {
                go.write.reset();
                char c;
                if (read_full(go.read.get(), &c, 1) != 0) return 1;  // EOF: everyone starts
                shm_queue q = round % 2 ? shm_queue::create(name, o) : shm_queue::open_or_create(name, o);
                auto st = q.stats();
                if (st.kind != o.kind || st.capacity != o.capacity || !q.check().empty()) return 2;
                if (q.put(std::to_string(p), p) != queue_status::ok) return 3;
                return q.created() ? 50 : 0;
            }));
        go.write.reset();
        int creators = 0;
        for (pid_t k : kids) {
            int rc = wait_exit(k);
            cr_assert(rc == 0 || rc == 50, "round %d: child exit %d", round, rc);
            creators += rc == 50;
        }
        cr_assert_eq(creators, 1, "round %d: %d creators", round, creators);
        auto q = shm_queue::open(name);
        cr_assert_eq(q.size(), std::uint64_t(procs));
        std::set<std::string> seen;
        std::string got;
        while (q.try_get(got) == queue_status::ok) seen.insert(got);
        cr_assert_eq(seen.size(), std::size_t(procs));
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
    cr_assert(ipc::leftovers("conc.tmp.").empty(), "temporary segment left in /dev/shm");
}

// ---------------------------------------------------------------------------
// Many processes.

namespace {

// Where consumer processes record what they got: one log each, in shared memory.
struct consumer_log {
    std::atomic<long> n{0};
    long ids[1];  // really max_log of them
};

class shared_logs {
public:
    shared_logs(int logs, long max_log)
        : max_(max_log), stride_(sizeof(consumer_log) + sizeof(long) * std::size_t(max_log)),
          map_(detail::map_shared(-1, stride_ * std::size_t(logs), "mmap logs")), logs_(logs) {
        for (int i = 0; i < logs; ++i) ::new (at(i)) consumer_log;
    }
    consumer_log& operator[](int i) const { return *at(i); }
    void record(int i, long id) const {
        consumer_log& l = *at(i);
        long n = l.n.load(std::memory_order_relaxed);
        if (n >= max_) _exit(90);
        l.ids[n] = id;
        l.n.store(n + 1, std::memory_order_release);
    }
    std::vector<long> all() const {
        std::vector<long> v;
        for (int i = 0; i < logs_; ++i)
            for (long j = 0; j < at(i)->n.load(); ++j) v.push_back(at(i)->ids[j]);
        return v;
    }

private:
    consumer_log* at(int i) const {
        return reinterpret_cast<consumer_log*>(static_cast<char*>(map_.data()) + stride_ * std::size_t(i));
    }
    long max_;
    std::size_t stride_;
    detail::mapping map_;
    int logs_;
};

constexpr long id_base = 1000000;  // id = producer * id_base + sequence

// Consumer: gets until closed, checks each item whole, records its id.
int consume(const std::string& name, const shared_logs& logs, int log, bool batches) {
    auto q = shm_queue::open(name);
    std::string got;
    item_batch b;
    for (;;) {
        if (batches) {
            b.clear();
            batch_result r = q.get_many(b, 7);
            if (r.status == queue_status::closed) return 0;
            if (r.status != queue_status::ok) return code(r.status);
            for (std::size_t i = 0; i < b.size(); ++i) {
                long id = item_id(std::string(b[i]));
                if (id < 0) return 3;
                logs.record(log, id);
            }
        } else {
            queue_status s = q.get(got);
            if (s == queue_status::closed) return 0;
            if (s != queue_status::ok) return code(s);
            long id = item_id(got);
            if (id < 0) return 3;
            logs.record(log, id);
        }
    }
}

// Per consumer log, the items of each producer come in increasing order.
void assert_fifo_per_producer(const shared_logs& logs, int nlogs) {
    for (int c = 0; c < nlogs; ++c) {
        std::map<long, long> last;
        for (long j = 0; j < logs[c].n.load(); ++j) {
            long id = logs[c].ids[j];
            long p = id / id_base, seq = id % id_base;
            auto it = last.find(p);
            cr_assert(it == last.end() || it->second < seq, "consumer %d: producer %ld item %ld after %ld", c, p, seq,
                      it == last.end() ? -1 : it->second);
            last[p] = seq;
        }
    }
}

}  // namespace

Test(shm_queue, four_producers_four_consumers_100000_items_each_exactly_once_fifo_per_producer,
     .timeout = 600) {
    constexpr int producers = 4, consumers = 4;
    constexpr long each = 100000;
    const std::string name = uniq("4x4");
    auto q = shm_queue::create(name, opts(queue_kind::fifo, 1 << 14));
    shared_logs logs(consumers, producers * each);
    std::vector<pid_t> cons, prods;
    for (int c = 0; c < consumers; ++c)
        cons.push_back(spawn_child([&, c] { return consume(name, logs, c, c % 2 == 1); }));
    for (int p = 0; p < producers; ++p)
        prods.push_back(spawn_child([&, p] {
            auto mine = shm_queue::open(name);
            item_batch b;
            for (long i = 0; i < each;) {
                if (p % 2 == 0) {  // one at a time
                    if (mine.put(make_item(p * id_base + i)) != queue_status::ok) return 2;
                    ++i;
                } else {  // in batches
                    b.clear();
                    for (long j = 0; j < 13 && i < each; ++j, ++i) b.push_back(make_item(p * id_base + i));
                    if (mine.put_many(b).status != queue_status::ok) return 2;
                }
            }
            return 0;
        }));
    for (pid_t p : prods) cr_assert_eq(wait_exit(p), 0);
    cr_assert(q.close());
    for (pid_t c : cons) cr_assert_eq(wait_exit(c), 0);
    std::vector<long> all = logs.all();
    cr_assert_eq(all.size(), std::size_t(producers * each));
    std::sort(all.begin(), all.end());
    for (int p = 0; p < producers; ++p)
        for (long i = 0; i < each; ++i) {
            long want = p * id_base + i;
            cr_assert_eq(all[std::size_t(p * each + i)], want, "item %ld missing or doubled", want);
        }
    assert_fifo_per_producer(logs, consumers);
    auto st = q.stats();
    cr_assert_eq(st.puts, std::uint64_t(producers * each));
    cr_assert_eq(st.gets, std::uint64_t(producers * each));
    cr_assert_eq(st.items, 0u);
    cr_assert(q.check().empty());
    cr_assert(shm_queue::remove(name));
    assert_no_leftovers();
}

namespace {

// What a producer process announces: the sequence number it is putting and
// the last one whose put returned ok.
struct producer_slot {
    std::atomic<long> inflight{-1};
    std::atomic<long> done{-1};
};

}  // namespace

// Producers and consumers are killed with SIGKILL at random moments (inside
// put and get, blocked or not, holding the lock or not) and replaced while the
// others go on.  Afterwards the queue is consistent and every item is
// accounted for: each item taken is whole and taken once; every item a
// producer saw put is taken unless a killed consumer took it (the queue's own
// gets counter says how many those took, and that is at most one each); a
// killed producer's in-flight item is wholly in or wholly out.
Test(shm_queue, processes_killed_at_random_moments_leave_the_queue_consistent_and_items_whole, .timeout = 900) {
    constexpr int rounds = 24;
    constexpr int max_procs = 24;
    constexpr long each = 1500;
    const unsigned seed = unsigned(getpid()) ^ unsigned(steady::now().time_since_epoch().count());
    std::mt19937 rng(seed);
    for (int round = 0; round < rounds; ++round) {
        const queue_kind kind = all_kinds[round % 3];
        const std::string name = uniq("kill" + std::to_string(round));
        auto q = shm_queue::create(name, opts(kind, 2048, 24));
        auto slots = make_shared_object<std::array<producer_slot, max_procs>>();
        shared_logs logs(max_procs, max_procs * each);
        enum role { producer, consumer };
        struct proc {
            pid_t pid;
            role r;
            int index;
        };
        std::vector<proc> live;
        int next_index = 0;
        auto start = [&](role r) {
            int index = next_index++;
            pid_t pid = spawn_child([&, r, index] {
                if (r == consumer) return consume(name, logs, index, index % 3 == 0);
                auto mine = shm_queue::open(name);
                producer_slot& slot = (*slots)[std::size_t(index)];
                for (long i = 0; i < each; ++i) {
                    slot.inflight.store(i);
                    if (mine.put(make_item(index * id_base + i)) != queue_status::ok) return 2;
                    slot.done.store(i);
                }
                return 0;
            });
            live.push_back({pid, r, index});
        };
        for (int i = 0; i < 2; ++i) start(producer);
        for (int i = 0; i < 2; ++i) start(consumer);
        std::uint64_t may_lose = 0;  // items killed consumers may have taken with them
        std::vector<int> killed_producers;
        const int kills = 2 + int(rng() % 4);
        for (int k = 0; k < kills && next_index + 1 < max_procs; ++k) {
            usleep(useconds_t(rng() % 4000));
            std::size_t v = rng() % live.size();
            proc victim = live[v];
            live.erase(live.begin() + long(v));
            kill(victim.pid, SIGKILL);
            int rc = wait_exit(victim.pid);
            if (rc != 128 + SIGKILL) {  // it had finished before the signal came
                cr_assert_eq(rc, 0, "seed %u round %d: child exit %d", seed, round, rc);
            } else if (victim.r == consumer) {
                may_lose += victim.index % 3 == 0 ? 7 : 1;  // a batch of up to 7, or one item
            } else {
                killed_producers.push_back(victim.index);
            }
            start(victim.r);  // others keep going; a replacement joins them
        }
        for (const proc& p : live)
            if (p.r == producer) cr_assert_eq(wait_exit(p.pid), 0, "seed %u round %d", seed, round);
        cr_assert(q.close());
        for (const proc& p : live)
            if (p.r == consumer) cr_assert_eq(wait_exit(p.pid), 0, "seed %u round %d", seed, round);

        std::string problem = q.check();
        cr_assert(problem.empty(), "seed %u round %d (%s): %s", seed, round, to_string(kind), problem.c_str());
        auto st = q.stats();
        cr_assert_eq(st.items, 0u);
        cr_assert_eq(st.puts, st.gets);
        std::vector<long> got = logs.all();
        std::sort(got.begin(), got.end());
        cr_assert(std::adjacent_find(got.begin(), got.end()) == got.end(), "seed %u round %d: an item taken twice",
                  seed, round);
        // Every item taken was announced by its producer.
        for (long id : got) {
            long p = id / id_base, i = id % id_base;
            cr_assert(p < next_index && i <= (*slots)[std::size_t(p)].inflight.load(),
                      "seed %u round %d: item %ld never put", seed, round, id);
        }
        // Items certainly in (their put returned), and the in-flight ones of killed producers.
        std::uint64_t certain = 0, maybe = 0;
        long missing = 0;
        for (int p = 0; p < next_index; ++p) {
            const producer_slot& s = (*slots)[std::size_t(p)];
            certain += std::uint64_t(s.done.load() + 1);
            if (s.inflight.load() > s.done.load()) ++maybe;
            for (long i = 0; i <= s.done.load(); ++i)
                if (!std::binary_search(got.begin(), got.end(), p * id_base + i)) ++missing;
        }
        cr_assert(st.puts >= certain && st.puts <= certain + maybe, "seed %u round %d: %lu puts, %lu certain, %lu maybe",
                  seed, round, (unsigned long)st.puts, (unsigned long)certain, (unsigned long)maybe);
        cr_assert_leq(maybe, killed_producers.size());
        // Taken by killed consumers: what the queue gave out minus what was recorded.
        cr_assert_geq(st.gets, got.size());
        const std::uint64_t lost = st.gets - got.size();
        cr_assert_leq(lost, may_lose, "seed %u round %d: %lu lost, at most %lu allowed", seed, round,
                      (unsigned long)lost, (unsigned long)may_lose);
        cr_assert_leq(std::uint64_t(missing), lost, "seed %u round %d: %ld items missing", seed, round, missing);
        if (kind == queue_kind::fifo) assert_fifo_per_producer(logs, next_index);
        cr_assert(shm_queue::remove(name));
    }
    assert_no_leftovers();
}

// ---------------------------------------------------------------------------
// Killed at every step of a commit.

namespace conc::detail {
extern void (*shm_queue_crash_hook)();  // the test seam in shm_queue.cpp
}

namespace {

long crash_countdown = 0;  // in a child: the step of the commit to die at
void die_at_countdown() {
    if (--crash_countdown == 0) raise(SIGKILL);
}

// What a queue holds, drained: (priority, item) in the order they come out.
std::vector<std::pair<std::int64_t, std::string>> drain(shm_queue& q) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    std::string s;
    std::int64_t p;
    while (q.try_get(s, &p) == queue_status::ok) out.emplace_back(p, s);
    return out;
}

using queue_op = queue_status (*)(shm_queue&);

shm_queue build(const std::string& name, queue_kind k) {
    shm_queue::remove(name);
    // A capacity the items wrap around in a fifo, and a heap a few levels deep.
    auto q = shm_queue::create(name, opts(k, 400));
    std::string s;
    for (int i = 0; i < 4; ++i) {
        q.put(std::string(40, char('a' + i)), (i * 5) % 7);
        q.try_get(s);
    }
    for (int i = 0; i < 5; ++i) q.put(std::string(30 + i, char('A' + i)), (i * 3) % 4);
    return q;
}

}  // namespace

// A process is killed at each step of an operation's commit in turn, and at
// each step of the repair of that by the next process.  Every time, the queue
// is consistent afterwards and holds what it held before the operation (killed
// before the commit point) or what it holds after it (killed at or after it).
Test(shm_queue, killed_at_every_step_of_a_commit_or_of_its_repair_the_item_is_wholly_in_or_out) {
    struct named_op {
        const char* name;
        queue_op op;
        bool single_commit_in_priority;
    };
    const named_op ops[] = {
        {"put", [](shm_queue& q) { return q.put(std::string(77, 'p'), 2); }, true},
        {"get", [](shm_queue& q) { std::string s; return q.get(s); }, true},
        {"unget", [](shm_queue& q) { return q.unget(std::string(50, 'u'), 1); }, true},
        {"put_many", [](shm_queue& q) {
             std::string_view two[] = {"x", "yy"};
             return q.put_many(two, 1).status;
         }, false},
        {"get_many", [](shm_queue& q) { item_batch b; return q.get_many(b, 3).status; }, false},
        {"task_done", [](shm_queue& q) { return q.task_done(2); }, true},
        {"close", [](shm_queue& q) { return q.close() ? queue_status::ok : queue_status::closed; }, true},
    };
    for (queue_kind k : all_kinds) {
        const std::string name = uniq(std::string("crash_") + to_string(k));
        for (const named_op& op : ops) {
            if (k == queue_kind::priority && !op.single_commit_in_priority) continue;
            // What it holds before and after the operation, with nobody killed.
            auto before_q = build(name, k);
            const auto before_stats = before_q.stats();
            const auto before = drain(before_q);
            auto after_q = build(name, k);
            cr_assert_eq(op.op(after_q), queue_status::ok, "%s %s", to_string(k), op.name);
            const auto after_stats = after_q.stats();
            const auto after = drain(after_q);
            cr_assert(before != after || op.op == ops[5].op || op.op == ops[6].op);
            bool finished = false;
            for (long step = 1; !finished; ++step) {
                for (long repair_step = 0; repair_step < 8; ++repair_step) {
                    auto q = build(name, k);
                    pid_t child = spawn_child([&] {
                        auto mine = shm_queue::open(name);
                        crash_countdown = step;
                        detail::shm_queue_crash_hook = die_at_countdown;
                        op.op(mine);
                        return 0;
                    });
                    int rc = wait_exit(child);
                    if (rc == 0) {  // it got through every step
                        finished = true;
                        break;
                    }
                    cr_assert_eq(rc, 128 + SIGKILL);
                    if (repair_step > 0) {
                        // The next process is killed while repairing.
                        pid_t fixer = spawn_child([&] {
                            auto mine = shm_queue::open(name);
                            crash_countdown = repair_step;
                            detail::shm_queue_crash_hook = die_at_countdown;
                            (void)mine.size();
                            return 0;
                        });
                        if (wait_exit(fixer) == 0) break;  // the repair had fewer steps
                    }
                    std::string problem = q.check();
                    cr_assert(problem.empty(), "%s %s step %ld/%ld: %s", to_string(k), op.name, step, repair_step,
                              problem.c_str());
                    auto st = q.stats();
                    const auto now = drain(q);
                    // Step 1 comes before the commit point, every later one after it.
                    const auto& want = step == 1 ? before : after;
                    const auto& want_stats = step == 1 ? before_stats : after_stats;
                    cr_assert(now == want, "%s %s killed at step %ld (repair %ld): %s", to_string(k), op.name, step,
                              repair_step, now == before ? "holds what it held before" : "holds something else");
                    cr_assert_eq(st.puts, want_stats.puts);
                    cr_assert_eq(st.gets, want_stats.gets);
                    cr_assert_eq(st.unfinished, want_stats.unfinished);
                    cr_assert_eq(st.closed, want_stats.closed);
                    cr_assert_eq(st.bytes_used, want_stats.bytes_used);
                    if (step == 1) break;  // nothing to repair
                }
                cr_assert(step < 1000);
            }
        }
        shm_queue::remove(name);
    }
    assert_no_leftovers();
}

// A file-backed queue kept across a reboot holds lock words of the old boot:
// here a lock word owned by a thread id that does not exist, which would
// block every locker forever.  The first open on the new boot renews them.
// (White box: layout version 2 keeps the boot id at offset 72 and the
// mutex's lock word at offset 128.)
Test(shm_queue, a_file_queue_from_an_earlier_boot_gets_fresh_lock_words, .timeout = 120) {
    char dir[] = "/tmp/conc_shmq_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const std::string path = std::string(dir) + "/q";
    {
        auto q = shm_queue::create(path, opts(queue_kind::fifo, 4096));
        cr_assert_eq(q.put("kept"), queue_status::ok);
    }
    {
        unique_fd fd = open_file(path, O_RDWR);
        const char old_boot[40] = "00000000-0000-0000-0000-000000000000";
        cr_assert_eq(pwrite(fd.get(), old_boot, sizeof old_boot, 72), ssize_t(sizeof old_boot));
        const std::uint32_t stale_owner = 0x3ffffff0;  // no such thread
        cr_assert_eq(pwrite(fd.get(), &stale_owner, sizeof stale_owner, 128), ssize_t(sizeof stale_owner));
    }
    auto q = shm_queue::open(path);
    std::string got;
    cr_assert_eq(q.try_get(got), queue_status::ok);
    cr_assert_eq(got, "kept");
    cr_assert(q.check().empty());
    cr_assert(shm_queue::remove(path));
    cr_assert_eq(rmdir(dir), 0);
}
