// Unit tests for conc/shm.hpp: segments, mapped files, shared_value/array.
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "conc/fd.hpp"
#include "conc/shm.hpp"
#include "ipc_support.hpp"

using namespace conc;

namespace {

// Every name a test makes starts with this, so leftovers are easy to find.
std::string prefix() { return "conc_shm_test_" + std::to_string(getpid()) + "_"; }
std::string uniq(const char* tag) { return "/" + prefix() + tag; }

void assert_no_leftovers() { ipc::assert_no_leftovers(prefix()); }
void remove_leftovers() { ipc::remove_leftovers(prefix()); }
using ipc::spawn_child;
using ipc::wait_exit;
using ipc::kill_child;

bool sysv_shm_gone(int id) {
    shmid_ds ds;
    return shmctl(id, IPC_STAT, &ds) == -1 && (errno == EINVAL || errno == EIDRM);
}

}  // namespace

TestSuite(shm, .fini = remove_leftovers);

Test(shm, shared_value_four_processes_million_increments_each_is_exact) {
    auto v = shared_value<long>::create(0);
    constexpr int procs = 4;
    constexpr long each = 1000000;
    std::vector<pid_t> kids;
    for (int p = 0; p < procs; ++p)
        kids.push_back(spawn_child([&] {
            for (long i = 0; i < each; ++i) {
                std::lock_guard g(v->get_lock());
                ++v->value();
            }
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(v->get(), procs * each);
}

Test(shm, shared_value_get_set_and_with_lock) {
    auto v = shared_value<double>::create(1.5);
    cr_assert_eq(v->get(), 1.5);
    v->set(2.5);
    cr_assert_eq(v->value(), 2.5);
    {
        // get()/set() may be used while holding the (recursive) lock
        std::lock_guard g(v->get_lock());
        v->set(v->get() * 2);
    }
    double seen = v->with_lock([](double& x) { return x += 1; });
    cr_assert_eq(seen, 6.0);
    cr_assert_eq(v->get(), 6.0);
}

Test(shm, shared_array_children_fill_their_slots) {
    auto a = shared_array<int, 10>::create(-1);
    cr_assert_eq(a->size(), 10u);
    for (int i = 0; i < 10; ++i) cr_assert_eq((*a)[i], -1);
    std::vector<pid_t> kids;
    for (int c = 0; c < 10; ++c)
        kids.push_back(spawn_child([&, c] {
            for (int r = 0; r < 1000; ++r) {
                std::lock_guard g(a->get_lock());
                (*a)[c] = (*a)[c] < 0 ? 1 : (*a)[c] + 1;
            }
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    long sum = a->with_lock([](int* items) {
        long s = 0;
        for (int i = 0; i < 10; ++i) s += items[i];
        return s;
    });
    cr_assert_eq(sum, 10 * 1000);
    for (int i = 0; i < 10; ++i) cr_assert_eq(a->get(i), 1000);
    a->set(3, 7);
    cr_assert_eq((*a)[3], 7);
}

// ---------------------------------------------------------------------------
// shared_array<T>: the size chosen at run time

namespace {
std::size_t mapping_count() {
    std::size_t n = 0;
    if (FILE* f = std::fopen("/proc/self/maps", "r")) {
        for (int c; (c = std::fgetc(f)) != EOF;)
            if (c == '\n') ++n;
        std::fclose(f);
    }
    return n;
}
}  // namespace

Test(shm, shared_array_sized_at_run_time_counts_exactly_across_processes) {
    for (std::size_t n : {std::size_t(1), std::size_t(7), std::size_t(1000), std::size_t(100000)}) {
        auto a = shared_array<long>::create(n, 5);
        cr_assert_eq(a.size(), n);
        cr_assert_eq(a.end() - a.begin(), long(n));
        for (std::size_t i = 0; i < n; ++i) cr_assert_eq(a[i], 5);
        constexpr int procs = 4, rounds = 20;
        std::vector<pid_t> kids;
        for (int p = 0; p < procs; ++p)
            kids.push_back(spawn_child([&] {
                for (int r = 0; r < rounds; ++r) {
                    // A read-modify-write of every element under the one lock
                    std::lock_guard g(a.get_lock());
                    for (long& x : a) ++x;
                    a.set(0, a.get(0) + 1);  // get/set under the held (recursive) lock
                }
                return 0;
            }));
        for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
        std::vector<long> snap = a.snapshot();
        cr_assert_eq(snap.size(), n);
        cr_assert_eq(snap[0], 5 + 2 * procs * rounds);
        for (std::size_t i = 1; i < n; ++i) cr_assert_eq(snap[i], 5 + procs * rounds, "element %zu", i);
        long sum = a.with_lock([](std::span<long> s) {
            long t = 0;
            for (long x : s) t += x;
            return t;
        });
        cr_assert_eq(sum, long(n) * (5 + procs * rounds) + procs * rounds);
    }
}

Test(shm, shared_array_sized_at_run_time_checks_indexes_and_fills) {
    auto a = shared_array<double>::create(3);
    cr_assert_eq(a.get(2), 0.0);
    a.set(1, 2.5);
    cr_assert_eq(a[1], 2.5);
    try {
        a.get(3);
        cr_assert_fail("get past the end");
    } catch (const std::out_of_range& e) {
        cr_assert_str_eq(e.what(), "conc::shared_array: index 3 out of range (size 3)");
    }
    cr_assert_throw(a.set(7, 1.0), std::out_of_range);
    a.fill(-1.0);
    for (double x : a.snapshot()) cr_assert_eq(x, -1.0);
    auto fixed = shared_array<int, 4>::create();
    cr_assert_throw(fixed->get(4), std::out_of_range);

    // Moves hand the mapping over; destroying handles unmaps every view.
    shared_array<double> b = std::move(a);
    cr_assert(!a);
    cr_assert_eq(b.size(), 3u);
    cr_assert_eq(a.size(), 0u);
    std::size_t before = mapping_count();
    for (int i = 0; i < 200; ++i) {
        auto t = shared_array<char>::create(std::size_t(i) * 4096 + 1);
        t.set(0, 'x');
    }
#ifndef __SANITIZE_THREAD__   // TSan maps shadow memory of its own as the test runs
    cr_assert_eq(mapping_count(), before, "mappings leaked");
#else
    (void)before;
#endif
    auto empty = shared_array<int>::create(0);
    cr_assert_eq(empty.size(), 0u);
    cr_assert(empty.snapshot().empty());
}

Test(shm, shared_array_sized_at_run_time_in_a_named_segment) {
    const std::string name = uniq("rtarray");
    const std::size_t n = 5000;
    const std::size_t at = 64;
    {
        posix_shm seg(name, open_mode::create_exclusive, at + shared_array<int>::bytes_needed(n));
        auto a = shared_array<int>::construct_in(seg, at, n, 1);
        std::vector<pid_t> kids;
        for (int p = 0; p < 3; ++p)
            kids.push_back(spawn_child([&] {
                posix_shm mine(name, open_mode::open_existing);
                auto b = shared_array<int>::attach_to(mine, at);  // finds n by itself
                if (b.size() != n) return 1;
                for (std::size_t i = 0; i < n; ++i) {
                    std::lock_guard g(b.get_lock());
                    b[i] += int(i);
                }
                return 0;
            }));
        for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
        for (std::size_t i = 0; i < n; ++i) cr_assert_eq(a.get(i), 1 + 3 * int(i));

        // Not an array there, another element type, or a segment too small.
        cr_assert_throw(shared_array<int>::attach_to(seg, 0), std::invalid_argument);
        cr_assert_throw(shared_array<long>::attach_to(seg, at), std::invalid_argument);
        cr_assert_throw(shared_array<int>::construct_in(seg, at, n + 1), std::out_of_range);
        cr_assert_throw(shared_array<int>::bytes_needed(SIZE_MAX / 2), std::length_error);
        seg.unlink();
    }
    assert_no_leftovers();
}

// ---------------------------------------------------------------------------
// shared_map

Test(shm, shared_map_get_set_erase_and_snapshots) {
    auto m = shared_map<long>::create(4);
    cr_assert_eq(m.capacity(), 4u);
    cr_assert(m.empty());
    cr_assert(!m.get("a"));
    cr_assert_eq(m.get("a", -1), -1);
    m.set("a", 1);
    m.set("b", 2);
    m.set("a", 10);  // replaced
    cr_assert_eq(m.size(), 2u);
    cr_assert_eq(*m.get("a"), 10);
    cr_assert(m.contains("b"));
    cr_assert(!m.insert("b", 99));
    cr_assert_eq(*m.get("b"), 2);
    cr_assert(m.insert("", 7));  // the empty key is a key
    cr_assert_eq(m.update("c", [](long& v) { return v += 5; }), 5);
    cr_assert_eq(m.update("c", [](long& v) { return v += 5; }), 10);
    cr_assert_eq(m.size(), 4u);
    using kv = std::pair<std::string, long>;
    auto items = m.items();
    std::sort(items.begin(), items.end());
    cr_assert_eq(items.size(), 4u);
    cr_assert(items[0] == kv("", 7));
    cr_assert(items[1] == kv("a", 10));
    cr_assert(items[3] == kv("c", 10));
    auto keys = m.keys();
    cr_assert_eq(keys.size(), 4u);

    // Full: a new key is refused, nothing changes; an existing one is still set.
    try {
        m.set("d", 4);
        cr_assert_fail("set into a full map");
    } catch (const shared_map_full& e) {
        cr_assert_str_eq(e.what(), "conc::shared_map: full (capacity 4), key 'd' not added");
    }
    cr_assert_throw(m.update("d", [](long&) {}), std::length_error);
    cr_assert_eq(m.size(), 4u);
    cr_assert(!m.contains("d"));
    m.set("a", 11);
    cr_assert(m.erase("a"));
    cr_assert(!m.erase("a"));
    m.set("d", 4);
    cr_assert_eq(m.size(), 4u);

    // Keys up to max_key_length bytes.
    std::string longest(shared_map<long>::max_key_length, 'k');
    m.clear();
    cr_assert_eq(m.size(), 0u);
    m.set(longest, 1);
    cr_assert_eq(*m.get(longest), 1);
    try {
        m.set(longest + "k", 2);
        cr_assert_fail("a key longer than the maximum was accepted");
    } catch (const std::invalid_argument& e) {
        cr_assert_str_eq(e.what(), "conc::shared_map: key of 64 bytes is longer than the 63 allowed");
    }
    cr_assert(!m.contains(longest + "k"));
    cr_assert(!m.erase(longest + "k"));
    cr_assert_eq(m.size(), 1u);

    // Many rounds of filling and emptying: no node is lost.
    for (int round = 0; round < 200; ++round) {
        m.clear();
        for (int i = 0; i < 4; ++i) m.set("r" + std::to_string(round * 4 + i), i);
        cr_assert_throw(m.set("one more", 0), shared_map_full);
        for (int i = 0; i < 4; i += 2) cr_assert(m.erase("r" + std::to_string(round * 4 + i)));
        cr_assert_eq(m.size(), 2u);
    }
}

struct point {
    double x, y;
};

Test(shm, shared_map_many_processes_count_under_distinct_and_shared_keys) {
    constexpr int procs = 4, rounds = 2000, shared_keys = 3;
    auto m = shared_map<long>::create(64);
    auto pts = shared_map<point, 15>::create(8);
    std::vector<pid_t> kids;
    for (int p = 0; p < procs; ++p)
        kids.push_back(spawn_child([&, p] {
            const std::string own = "proc" + std::to_string(p);
            const std::string tmp = "tmp" + std::to_string(p);
            for (int r = 0; r < rounds; ++r) {
                m.update(own, [](long& v) { ++v; });
                m.update("shared" + std::to_string(r % shared_keys), [](long& v) { ++v; });
                {
                    // Python's "with lock: d[k] = d.get(k, 0) + 1", through the map's own lock
                    std::lock_guard g(m.get_lock());
                    m.set("total", m.get("total", 0) + 1);
                }
                m.set(tmp, r);  // churn: in and out again
                if (*m.get(tmp) != r || !m.erase(tmp)) return 1;
                pts.update(own, [r](point& q) { q.x += 1, q.y += r; });
            }
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    long shared_total = 0;
    for (int j = 0; j < shared_keys; ++j) shared_total += m.get("shared" + std::to_string(j), 0);
    cr_assert_eq(shared_total, long(procs) * rounds);
    for (int p = 0; p < procs; ++p) {
        cr_assert_eq(m.get("proc" + std::to_string(p), 0), rounds);
        point q = *pts.get("proc" + std::to_string(p));
        cr_assert_eq(q.x, double(rounds));
        cr_assert_eq(q.y, double(rounds) * (rounds - 1) / 2);
    }
    cr_assert_eq(*m.get("total"), long(procs) * rounds);
    cr_assert_eq(m.size(), std::size_t(procs + shared_keys + 1));
    cr_assert_eq(m.items().size(), m.size());
}

// Processes killed at random in the middle of map calls: the map stays whole
// (unique keys, count equal to the entries, values as written, no lost room).
Test(shm, shared_map_survives_processes_killed_in_the_middle_of_calls) {
    constexpr std::size_t cap = 32;
    auto m = shared_map<long>::create(cap);
    std::mt19937 rng{static_cast<unsigned>(getpid())};
    auto churn = [&] {
        std::mt19937 r{static_cast<unsigned>(getpid())};
        for (;;) {
            std::string k = "key" + std::to_string(r() % 48);  // more keys than room
            try {
                if (r() % 3 == 0) m.erase(k);
                else m.set(k, long(k.size()) * 1000 + long(k.back()));
            } catch (const shared_map_full&) {
            }
        }
        return 0;
    };
    pid_t kids[2] = {spawn_child(churn), spawn_child(churn)};
    for (int round = 0; round < 100; ++round) {
        int i = int(rng() % 2);
        usleep(useconds_t(rng() % 300));
        kill_child(kids[i]);
        kids[i] = spawn_child(churn);
    }
    for (pid_t k : kids) {
        kill(k, SIGKILL);
        wait_exit(k);
    }
    auto items = m.items();
    cr_assert_eq(items.size(), m.size());
    cr_assert_leq(items.size(), cap);
    std::sort(items.begin(), items.end());
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) cr_assert_neq(items[i].first, items[i - 1].first, "a key twice");
        const std::string& k = items[i].first;
        cr_assert_eq(items[i].second, long(k.size()) * 1000 + long(k.back()), "value of %s", k.c_str());
    }
    // Every node can still be used.
    m.clear();
    for (std::size_t i = 0; i < cap; ++i) m.set("n" + std::to_string(i), long(i));
    cr_assert_throw(m.set("over", 0), shared_map_full);
    cr_assert_eq(m.size(), cap);
}

Test(shm, shared_map_in_a_named_segment_is_shared_by_attachers) {
    const std::string name = uniq("map");
    {
        posix_shm seg(name, open_mode::create_exclusive, shared_map<int>::bytes_needed(100));
        auto m = shared_map<int>::construct_in(seg, 0, 100);
        std::vector<pid_t> kids;
        for (int p = 0; p < 3; ++p)
            kids.push_back(spawn_child([&, p] {
                posix_shm mine(name, open_mode::open_existing);
                auto mm = shared_map<int>::attach_to(mine, 0);
                if (mm.capacity() != 100) return 1;
                for (int i = 0; i < 30; ++i) mm.set("p" + std::to_string(p) + "." + std::to_string(i), i);
                return 0;
            }));
        for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
        cr_assert_eq(m.size(), 90u);
        cr_assert_eq(*m.get("p2.29"), 29);
        cr_assert_throw((shared_map<int, 15>::attach_to(seg, 0)), std::invalid_argument);
        cr_assert_throw(shared_map<long>::attach_to(seg, 0), std::invalid_argument);
        cr_assert_throw(shared_array<int>::attach_to(seg, 0), std::invalid_argument);
        seg.unlink();
    }
    assert_no_leftovers();
}

Test(shm, posix_shm_create_exclusive_fails_with_eexist_when_it_exists) {
    const std::string name = uniq("excl");
    posix_shm first(name, open_mode::create_exclusive, 4096);
    cr_assert(first.created());
    cr_assert_eq(first.size(), 4096u);
    cr_assert_eq(first.name(), name);
    try {
        posix_shm second(name, open_mode::create_exclusive, 4096);
        cr_assert_fail("second exclusive create succeeded");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), EEXIST);
        cr_assert(std::string(e.what()).find("shm_open '" + name + "'") == 0, "message: %s", e.what());
    }
    posix_shm third(name, open_mode::create_or_open, 4096);
    cr_assert(!third.created());
    first.unlink();
    assert_no_leftovers();
}

Test(shm, posix_shm_open_of_missing_name_fails_with_enoent_and_a_clear_message) {
    const std::string name = uniq("missing");
    try {
        posix_shm s(name, open_mode::open_existing);
        cr_assert_fail("opened a segment that does not exist");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), ENOENT);
        std::string want = "shm_open '" + name + "': No such file or directory";
        cr_assert_eq(std::string(e.what()), want, "message: %s", e.what());
    }
    try {
        posix_shm::unlink(name);
        cr_assert_fail("unlinked a missing segment");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), ENOENT);
    }
    cr_assert(!posix_shm::unlink_if_exists(name));
    assert_no_leftovers();
}

Test(shm, posix_shm_name_without_slash_gets_one) {
    std::string bare = prefix() + "bare";
    posix_shm s(bare, open_mode::create_exclusive, 100);
    cr_assert_eq(s.name(), "/" + bare);
    struct stat st;
    cr_assert_eq(stat(("/dev/shm/" + bare).c_str(), &st), 0);
    cr_assert_eq(st.st_size, 100);
    posix_shm::unlink(bare);
    assert_no_leftovers();
}

Test(shm, posix_shm_is_shared_with_a_process_that_opens_it_by_name) {
    const std::string name = uniq("byname");
    posix_shm s(name, open_mode::create_exclusive, 1 << 16);
    auto* bytes = static_cast<unsigned char*>(s.data());
    for (int i = 0; i < 1 << 16; ++i) cr_assert_eq(bytes[i], 0);  // zero-filled
    pid_t k = spawn_child([&] {
        posix_shm mine(name, open_mode::open_existing);  // size 0: the whole segment
        if (mine.size() != 1u << 16 || mine.created()) return 1;
        auto* b = static_cast<unsigned char*>(mine.data());
        for (int i = 0; i < 1 << 16; ++i) b[i] = static_cast<unsigned char>(i * 31);
        return 0;
    });
    cr_assert_eq(wait_exit(k), 0);
    for (int i = 0; i < 1 << 16; ++i) cr_assert_eq(bytes[i], static_cast<unsigned char>(i * 31));
    s.unlink();
    assert_no_leftovers();
}

Test(shm, posix_shm_move_transfers_the_mapping) {
    const std::string name = uniq("move");
    posix_shm a(name, open_mode::create_exclusive, 64);
    void* p = a.data();
    posix_shm b = std::move(a);
    cr_assert_eq(b.data(), p);
    cr_assert_null(a.data());
    cr_assert(!a);
    posix_shm c;
    c = std::move(b);
    cr_assert_eq(c.data(), p);
    cr_assert_eq(c.size(), 64u);
    posix_shm::unlink(name);
    assert_no_leftovers();
}

Test(shm, shared_value_placed_in_named_segment_is_shared_by_attachers) {
    const std::string name = uniq("placed");
    posix_shm s(name, open_mode::create_exclusive, 4096);
    auto& counter = shared_value<long>::construct_in(s, 0, 10);
    const std::size_t arr_off = 256;
    auto& arr = shared_array<int, 4>::construct_in(s, arr_off);
    constexpr int procs = 3;
    constexpr int each = 20000;
    std::vector<pid_t> kids;
    for (int p = 0; p < procs; ++p)
        kids.push_back(spawn_child([&, p] {
            // A fresh mapping at another address: attach, do not construct.
            posix_shm mine(name, open_mode::open_existing);
            auto& c = shared_value<long>::attach_to(mine, 0);
            auto& a = shared_array<int, 4>::attach_to(mine, arr_off);
            for (int i = 0; i < each; ++i) {
                std::lock_guard g(c.get_lock());
                ++c.value();
            }
            a.set(std::size_t(p), p + 100);
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(counter.get(), 10 + procs * each);
    for (int p = 0; p < procs; ++p) cr_assert_eq(arr.get(std::size_t(p)), p + 100);
    cr_assert_eq(arr.get(3), 0);
    std::destroy_at(&arr);
    std::destroy_at(&counter);
    posix_shm::unlink(name);
    assert_no_leftovers();
}

Test(shm, placement_rejects_objects_that_do_not_fit_or_are_misaligned) {
    const std::string name = uniq("bounds");
    posix_shm s(name, open_mode::create_exclusive, 128);
    posix_shm::unlink(name);  // the mapping stays usable after unlink
    bool threw = false;
    try {
        construct_in<shared_array<long, 100>>(s, 0);
    } catch (const std::out_of_range&) {
        threw = true;
    }
    cr_assert(threw, "an 800-byte array fitted in 128 bytes");
    threw = false;
    try {
        attach_to<shared_value<long>>(s, 3);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    cr_assert(threw, "offset 3 accepted for an 8-aligned object");
    auto& v = construct_in<shared_value<int>>(s, 64, 5);
    cr_assert_eq(v.get(), 5);
    std::destroy_at(&v);
    assert_no_leftovers();
}

Test(shm, sysv_shm_private_segment_is_inherited_and_removed) {
    sysv_shm s(ipc_key::private_key(), 8192, open_mode::create_exclusive);
    cr_assert(s.created());
    cr_assert_eq(s.size(), 8192u);
    const int id = s.id();
    auto* words = static_cast<int*>(s.data());
    pid_t k = spawn_child([&] {
        for (int i = 0; i < 2048; ++i) words[i] = i * 3;
        return 0;
    });
    cr_assert_eq(wait_exit(k), 0);
    for (int i = 0; i < 2048; ++i) cr_assert_eq(words[i], i * 3);
    s.remove();
    cr_assert_eq(words[7], 21);  // still attached until detach
    s.detach();
    cr_assert_null(s.data());
    cr_assert(sysv_shm_gone(id));
}

Test(shm, sysv_shm_key_from_path_create_exclusive_then_open) {
    char path[] = "/tmp/conc_shm_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_neq(fd, -1);
    close(fd);
    ipc_key key = ipc_key::from_path(path, 'S');
    cr_assert(!key.is_private());
    sysv_shm a(key, 4096, open_mode::create_exclusive);
    const int id = a.id();
    try {
        sysv_shm b(key, 4096, open_mode::create_exclusive);
        cr_assert_fail("second exclusive shmget succeeded");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), EEXIST);
        cr_assert(std::string(e.what()).rfind("shmget key 0x", 0) == 0, "message: %s", e.what());
    }
    static_cast<char*>(a.data())[100] = 'x';
    {
        sysv_shm b(key, 0, open_mode::open_existing);
        cr_assert(!b.created());
        cr_assert_eq(b.id(), id);
        cr_assert_eq(b.size(), 4096u);
        cr_assert_eq(static_cast<char*>(b.data())[100], 'x');
    }
    a.remove();
    a.detach();
    cr_assert(sysv_shm_gone(id));
    try {
        sysv_shm c(key, 0, open_mode::open_existing);
        cr_assert_fail("opened a removed segment");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), ENOENT);
    }
    bool threw = false;
    unlink(path);
    try {
        ipc_key::from_path(path, 'S');
    } catch (const sys_error& e) {
        threw = true;
        cr_assert_eq(e.err(), ENOENT);
        cr_assert(std::string(e.what()).find("ftok '") == 0);
    }
    cr_assert(threw);
}

Test(shm, mapped_file_creates_extends_flushes_and_reopens) {
    char dir[] = "/tmp/conc_shm_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const std::string path = std::string(dir) + "/data";
    {
        mapped_file f(path, 10000);
        cr_assert(f.created());
        cr_assert_eq(f.size(), 10000u);
        std::memcpy(f.data(), "hello, disk", 11);
        f.flush();
        f.flush(true);
    }
    struct stat st;
    cr_assert_eq(stat(path.c_str(), &st), 0);
    cr_assert_eq(st.st_size, 10000);
    {
        mapped_file f(path, 0, open_mode::open_existing);
        cr_assert(!f.created());
        cr_assert_eq(f.size(), 10000u);
        cr_assert_eq(std::memcmp(f.data(), "hello, disk", 11), 0);
    }
    {
        mapped_file f(path, 20000);  // extends, keeps the contents
        cr_assert_eq(f.size(), 20000u);
        cr_assert_eq(std::memcmp(f.data(), "hello, disk", 11), 0);
        cr_assert_eq(static_cast<char*>(f.data())[15000], 0);
    }
    try {
        mapped_file f(path, 100, open_mode::create_exclusive);
        cr_assert_fail("exclusive create of an existing file succeeded");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), EEXIST);
        cr_assert_eq(std::string(e.what()).find("open '" + path + "'"), 0u, "message: %s", e.what());
    }
    cr_assert_eq(unlink(path.c_str()), 0);
    cr_assert_eq(rmdir(dir), 0);
}

Test(shm, mapped_file_is_shared_between_processes) {
    char dir[] = "/tmp/conc_shm_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const std::string path = std::string(dir) + "/counter";
    mapped_file f(path, 4096);
    auto& v = shared_value<long>::construct_in(f, 0, 0);
    std::vector<pid_t> kids;
    for (int p = 0; p < 2; ++p)
        kids.push_back(spawn_child([&] {
            mapped_file mine(path, 0, open_mode::open_existing);
            auto& c = shared_value<long>::attach_to(mine, 0);
            for (int i = 0; i < 10000; ++i) c.with_lock([](long& x) { ++x; });
            return 0;
        }));
    for (pid_t k : kids) cr_assert_eq(wait_exit(k), 0);
    cr_assert_eq(v.get(), 20000);
    std::destroy_at(&v);
    cr_assert_eq(unlink(path.c_str()), 0);
    cr_assert_eq(rmdir(dir), 0);
}

Test(shm, no_segments_left_in_dev_shm) {
    // Each test checks its own names; this checks the common prefix for any
    // process of this suite that is no longer running.
    std::vector<std::string> stale;
    if (DIR* d = opendir("/dev/shm")) {
        while (dirent* e = readdir(d)) {
            const char* n = e->d_name;
            const char* p = std::strstr(n, "conc_shm_test_");
            if (!p) continue;
            pid_t owner = pid_t(std::atol(p + std::strlen("conc_shm_test_")));
            if (owner > 0 && kill(owner, 0) == -1 && errno == ESRCH) stale.emplace_back(n);
        }
        closedir(d);
    }
    cr_assert(stale.empty(), "stale: %s", stale.empty() ? "" : stale[0].c_str());
}
