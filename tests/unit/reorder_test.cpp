#include <criterion/criterion.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "conc/fd.hpp"
#include "conc/reorder.hpp"

using namespace conc;

static std::string drain(spool& s) {
    char path[] = "/tmp/conc-reorder-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    s.write_to(fd);
    lseek(fd, 0, SEEK_SET);
    std::string out = read_all(fd);
    close(fd);
    return out;
}

Test(reorder, spool_keeps_small_output_in_memory) {
    spill_store store(1024);
    spool s(store);
    s.append("hello ");
    s.append("world");
    cr_assert_eq(s.size(), 11u);
    cr_assert(s.in_memory().has_value());
    cr_assert_eq(store.memory_used(), 11u);
    cr_assert_eq(drain(s), std::string("hello world"));
    cr_assert(s.empty());
    cr_assert_eq(store.memory_used(), 0u);
}

Test(reorder, spools_past_the_budget_spill_to_disk_in_order) {
    spill_store store(100);
    std::vector<spool> spools;
    std::vector<std::string> want(50);
    for (int i = 0; i < 50; ++i) spools.emplace_back(store);
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round)
        for (int i = 0; i < 50; ++i) {
            std::string piece(rng() % 20, char('a' + (i + round) % 26));
            piece += std::to_string(round);
            spools[i].append(piece);
            want[i] += piece;
        }
    cr_assert(store.memory_used() <= 100);
    cr_assert(store.spilled_bytes() > 0);
    for (int i = 49; i >= 0; --i) cr_assert(drain(spools[i]) == want[i], "spool %d", i);
    cr_assert_eq(store.memory_used(), 0u);
}

Test(reorder, moved_spool_keeps_its_bytes_and_budget) {
    spill_store store(10);
    spool a(store);
    a.append("0123456789abc");   // over the budget: to disk
    spool b(std::move(a));
    cr_assert(a.empty());
    cr_assert_eq(drain(b), std::string("0123456789abc"));
}

Test(reorder, reorder_buffer_releases_in_sequence) {
    reorder_buffer<int> rb;
    std::vector<int> order(1000);
    for (int i = 0; i < 1000; ++i) order[i] = i + 1;
    std::shuffle(order.begin(), order.end(), std::mt19937(3));
    std::vector<int> out;
    for (int seq : order) {
        rb.put(seq, seq * 10);
        while (auto v = rb.pop()) out.push_back(*v);
    }
    cr_assert_eq(out.size(), 1000u);
    for (int i = 0; i < 1000; ++i) cr_assert_eq(out[i], (i + 1) * 10);
    cr_assert_eq(rb.waiting(), 0u);
}
