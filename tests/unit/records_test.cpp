#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/records.hpp"
#include "coro_test.hpp"

using namespace conc;

namespace {

// A child process that writes data into a pipe in chunks of [min_chunk, max_chunk]
// bytes, then exits; the read end comes back to the test.
struct feeder {
    unique_fd read;
    pid_t pid = -1;

    feeder(const std::string& data, std::size_t min_chunk, std::size_t max_chunk,
           unsigned seed = 1, int read_flags = 0) {
        auto p = make_pipe(read_flags);
        pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            p.read.reset();
            std::mt19937 rng(seed);
            std::uniform_int_distribution<std::size_t> size(min_chunk, max_chunk);
            std::size_t off = 0;
            while (off < data.size()) {
                std::size_t n = std::min(size(rng), data.size() - off);
                write_all(p.write.get(), data.data() + off, n);
                off += n;
            }
            _exit(0);
        }
        read = std::move(p.read);
    }
    // Asserts the writer finished cleanly.
    void join() {
        int st = 0;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        pid = -1;
    }
    ~feeder() {
        if (pid > 0) waitpid(pid, nullptr, 0);
    }
};

// Everything next() returns from data, as owned strings.
std::vector<std::string> read_records(const std::string& data, char delim = '\n',
                                      std::size_t bufsize = record_reader::default_bufsize) {
    feeder f(data, 1, 4096);
    record_reader rd(f.read.get(), delim, bufsize);
    std::vector<std::string> out;
    while (auto r = rd.next()) out.emplace_back(*r);
    cr_assert(rd.at_eof());
    cr_assert_eq(rd.bytes_consumed(), data.size());
    cr_assert_eq(rd.records_returned(), out.size());
    f.join();
    return out;
}

using strings = std::vector<std::string>;

// What the records of data must be: split on delim, a trailing delimiter ends
// the last record rather than starting an empty one.
strings split(const std::string& data, char delim) {
    strings out;
    std::size_t start = 0;
    while (start < data.size()) {
        std::size_t p = data.find(delim, start);
        if (p == std::string::npos) p = data.size();
        out.push_back(data.substr(start, p - start));
        start = p + 1;
    }
    return out;
}

std::string random_records(std::mt19937& rng, std::size_t count, std::size_t max_len, char delim,
                           bool terminate_last) {
    std::uniform_int_distribution<std::size_t> len(0, max_len);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s;
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t n = len(rng);
        for (std::size_t j = 0; j < n; ++j) {
            char c = char(byte(rng));
            s += c == delim ? char(delim + 1) : c;  // any byte but the delimiter
        }
        if (i + 1 < count || terminate_last) s += delim;
    }
    return s;
}

}  // namespace

Test(records, splits_on_newline) {
    cr_assert(read_records("a\nbb\nccc\n") == (strings{"a", "bb", "ccc"}));
}

Test(records, splits_on_nul) {
    std::string data("one\0two\0\nthree\0", 15);
    cr_assert(read_records(data, '\0') == (strings{"one", "two", "\nthree"}));
}

Test(records, splits_on_any_byte) {
    cr_assert(read_records("x|y\n|z", '|') == (strings{"x", "y\n", "z"}));
    std::string high = "a\xff" "b\xff";
    cr_assert(read_records(high, '\xff') == (strings{"a", "b"}));
}

Test(records, last_record_may_lack_its_terminator) {
    cr_assert(read_records("a\nlast") == (strings{"a", "last"}));
    cr_assert(read_records("only") == (strings{"only"}));
}

Test(records, trailing_delimiter_does_not_add_an_empty_record) {
    cr_assert(read_records("a\n") == (strings{"a"}));
}

Test(records, two_delimiters_in_a_row_are_an_empty_record) {
    cr_assert(read_records("a\n\nb") == (strings{"a", "", "b"}));
    cr_assert(read_records("\n") == (strings{""}));
    cr_assert(read_records("\n\n\n") == (strings{"", "", ""}));
}

Test(records, empty_input_has_no_records) {
    cr_assert(read_records("").empty());
}

Test(records, ten_mib_single_record_arrives_whole) {
    std::string big(10 << 20, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4093) big[i] = char(i % 7);  // NULs too, no '\n'
    std::string data = big + "\nafter";
    feeder f(data, 1, 1 << 16);
    record_reader rd(f.read.get());
    auto r = rd.next();
    cr_assert(r.has_value());
    cr_assert_eq(r->size(), big.size());
    cr_assert(*r == big);
    cr_assert_geq(rd.capacity(), big.size());
    r = rd.next();
    cr_assert(r.has_value());
    cr_assert(*r == "after");
    cr_assert(!rd.next());
    cr_assert_eq(rd.records_returned(), 2u);
    cr_assert_eq(rd.bytes_consumed(), data.size());
    f.join();
}

Test(records, short_records_reuse_the_buffer_instead_of_growing) {
    std::string data;
    for (int i = 0; i < 20000; ++i) data += "record" + std::to_string(i % 1000) + "\n";
    feeder f(data, 1, 777);
    record_reader rd(f.read.get(), '\n', 64);
    std::size_t n = 0;
    while (auto r = rd.next()) {
        cr_assert(*r == "record" + std::to_string(n % 1000));
        ++n;
    }
    cr_assert_eq(n, 20000u);
    cr_assert_eq(rd.capacity(), 64u);
    f.join();
}

Test(records, records_straddling_reads_arrive_once_in_order) {
    for (unsigned round = 0; round < 60; ++round) {
        std::mt19937 rng(round);
        char delim = round % 3 == 0 ? '\n' : round % 3 == 1 ? '\0' : ';';
        bool tiny = round % 4 == 0;
        std::size_t max_len = round % 5 == 0 ? 5000 : 60;
        std::string data = random_records(rng, tiny ? 300 : 2000, max_len, delim, round % 2);
        strings want = split(data, delim);

        std::size_t bufsize = round % 3 == 0 ? 64 : round % 3 == 1 ? 1000 : record_reader::default_bufsize;
        feeder f(data, 1, tiny ? 3 : 3000, round);
        record_reader rd(f.read.get(), delim, bufsize);
        std::size_t i = 0;
        while (auto r = rd.next()) {
            cr_assert_lt(i, want.size(), "round %u: extra record", round);
            cr_assert(*r == want[i], "round %u: record %zu differs", round, i);
            ++i;
        }
        cr_assert_eq(i, want.size(), "round %u: %zu of %zu records", round, i, want.size());
        cr_assert_eq(rd.bytes_consumed(), data.size());
        f.join();
    }
}

Test(records, block_is_smallest_run_of_whole_records_at_least_approx) {
    feeder f("aa\nbbbb\nc\ndd\n", 64, 64);
    f.join();  // all written: the reader sees EOF only after the data
    record_reader rd(f.read.get());
    auto b = rd.next_block(4);
    cr_assert(b && *b == "aa\nbbbb\n");
    b = rd.next_block(4);
    cr_assert(b && *b == "c\ndd\n");
    cr_assert(!rd.next_block(4));
}

Test(records, block_of_one_byte_is_one_record) {
    feeder f("a\n\nbc\nd", 64, 64);
    record_reader rd(f.read.get());
    strings got;
    while (auto b = rd.next_block(1)) got.emplace_back(*b);
    cr_assert(got == (strings{"a\n", "\n", "bc\n", "d"}));
    f.join();
}

Test(records, long_record_comes_alone_and_whole_in_a_block) {
    std::string data = "s\n" + std::string(1000, 'L') + "\nt\nu";
    feeder f(data, 7, 7);
    record_reader rd(f.read.get(), '\n', 64);
    strings got;
    while (auto b = rd.next_block(10)) got.emplace_back(*b);
    cr_assert(got == (strings{"s\n" + std::string(1000, 'L') + "\n", "t\nu"}));
    f.join();
}

Test(records, blocks_never_cut_records_and_concatenate_to_the_input) {
    for (unsigned round = 0; round < 40; ++round) {
        std::mt19937 rng(1000 + round);
        char delim = round % 2 ? '\n' : '\0';
        std::string data = random_records(rng, 3000, round % 4 == 0 ? 3000 : 80, delim, round % 3 != 0);
        std::size_t approx = std::size_t(1) << (round % 17);  // 1 B .. 64 KiB
        feeder f(data, 1, round % 5 == 0 ? 5 : 5000, round);
        record_reader rd(f.read.get(), delim, round % 2 ? 100 : record_reader::default_bufsize);
        std::string joined;
        std::size_t blocks = 0;
        while (auto b = rd.next_block(approx)) {
            cr_assert(!b->empty());
            bool last = joined.size() + b->size() == data.size();
            if (!last) {
                cr_assert_eq(b->back(), delim, "round %u: block %zu cuts a record", round, blocks);
                cr_assert_geq(b->size(), approx);
            }
            // Smallest: dropping its final record leaves fewer than approx bytes.
            std::string_view body = b->back() == delim ? b->substr(0, b->size() - 1) : *b;
            std::size_t prev = body.rfind(delim);
            std::size_t without_last = prev == std::string_view::npos ? 0 : prev + 1;
            cr_assert_lt(without_last, approx, "round %u: block %zu too big", round, blocks);
            joined.append(*b);
            ++blocks;
        }
        cr_assert(joined == data, "round %u: blocks do not join to the input", round);
        cr_assert_eq(rd.bytes_consumed(), data.size());
        f.join();
    }
}

Test(records, nonblocking_protocol_step_by_step) {
    auto p = make_pipe(O_NONBLOCK);
    record_reader rd(p.read.get());
    cr_assert(rd.fill() == fill_result::would_block);
    cr_assert(!rd.try_next());
    cr_assert(!rd.at_eof());

    write_all(p.write.get(), "ab\ncd");
    cr_assert(rd.fill() == fill_result::data);
    auto r = rd.try_next();
    cr_assert(r && *r == "ab");
    cr_assert(!rd.try_next(), "unterminated tail must wait for EOF");
    cr_assert(!rd.try_next_block(1), "unterminated tail must wait for EOF");
    cr_assert(rd.fill() == fill_result::would_block);

    write_all(p.write.get(), "e\nf");
    cr_assert(rd.fill() == fill_result::data);
    r = rd.try_next();
    cr_assert(r && *r == "cde");

    p.write.reset();
    cr_assert(rd.fill() == fill_result::eof);
    cr_assert(rd.at_eof());
    r = rd.try_next();
    cr_assert(r && *r == "f");
    cr_assert(!rd.try_next());
    cr_assert(rd.fill() == fill_result::eof);
    cr_assert_eq(rd.records_returned(), 3u);
    cr_assert_eq(rd.bytes_consumed(), 8u);
}

Test(records, try_next_views_stay_valid_together) {
    auto p = make_pipe(O_NONBLOCK);
    write_all(p.write.get(), "one\ntwo\nthree\n");
    record_reader rd(p.read.get());
    cr_assert(rd.fill() == fill_result::data);
    auto a = rd.try_next(), b = rd.try_next(), c = rd.try_next();
    cr_assert(a && b && c);
    cr_assert(*a == "one" && *b == "two" && *c == "three");
}

Test(records, event_loop_protocol_on_nonblocking_pipe) {
    for (unsigned round = 0; round < 20; ++round) {
        std::mt19937 rng(500 + round);
        std::string data = random_records(rng, 1500, round % 3 == 0 ? 4000 : 50, '\n', round % 2);
        strings want = split(data, '\n');
        feeder f(data, 1, round % 2 ? 10 : 4000, round, O_NONBLOCK);
        record_reader rd(f.read.get(), '\n', 128);
        std::size_t i = 0, would_block = 0;
        for (;;) {
            std::optional<std::string_view> r;
            while (!(r = rd.try_next())) {
                if (rd.at_eof()) break;
                pollfd pfd{f.read.get(), POLLIN, 0};
                cr_assert_eq(poll(&pfd, 1, 10000), 1);  // co_await readable(fd)
                if (rd.fill() == fill_result::would_block) ++would_block;
            }
            if (!r) break;
            cr_assert_lt(i, want.size());
            cr_assert(*r == want[i], "round %u: record %zu differs", round, i);
            ++i;
        }
        cr_assert_eq(i, want.size(), "round %u", round);
        cr_assert_eq(would_block, 0u, "poll said readable, so fill() must not block");
        f.join();
    }
}

Test(records, blocking_next_waits_on_a_nonblocking_fd) {
    std::string data;
    for (int i = 0; i < 3000; ++i) data += std::to_string(i) + "\n";
    feeder f(data, 1, 50, 7, O_NONBLOCK);
    record_reader rd(f.read.get());
    int n = 0;
    while (auto r = rd.next()) {
        cr_assert(*r == std::to_string(n));
        ++n;
    }
    cr_assert_eq(n, 3000);
    f.join();
}

// ---- async_record_reader ---------------------------------------------------
// Coroutines are free functions taking their state by reference (g++ 12: no
// coroutine lambdas in Test bodies, no cr_assert inside coroutines).

namespace {

// Writes data into fd from a thread, in pieces of odd sizes, then closes fd.
struct thread_feeder {
    std::thread t;
    thread_feeder(unique_fd fd, std::string data, unsigned seed)
        : t([fd = std::move(fd), data = std::move(data), seed]() mutable {
              std::mt19937 rng(seed);
              std::uniform_int_distribution<std::size_t> size(1, 997);
              for (std::size_t off = 0; off < data.size();) {
                  std::size_t n = std::min(size(rng) | 1, data.size() - off);
                  write_all(fd.get(), data.data() + off, n);
                  off += n;
              }
          }) {}
    ~thread_feeder() { t.join(); }
};

task<void> collect_records(async_record_reader& in, std::vector<std::string>& out) {
    while (auto r = co_await in.next_record()) out.emplace_back(*r);
}

task<void> collect_blocks(async_record_reader& in, std::size_t approx, std::vector<std::string>& out) {
    while (auto b = co_await in.next_block(approx)) out.emplace_back(*b);
}

std::string numbered(int n, char delim, bool last_delim) {
    std::string s;
    for (int i = 0; i < n; ++i) {
        s += "record " + std::to_string(i) + std::string(std::size_t(i % 37), 'x');
        if (i + 1 < n || last_delim) s += delim;
    }
    return s;
}

void check_numbered(const std::vector<std::string>& got, int n) {
    CHECK_EQ(got.size(), std::size_t(n));
    for (int i = 0; i < n && std::size_t(i) < got.size(); ++i)
        CHECK(got[std::size_t(i)] == "record " + std::to_string(i) + std::string(std::size_t(i % 37), 'x'));
}

}  // namespace

CORO_TEST(async_records, from_a_pipe_written_slowly_every_record_once_in_order) {
    for (unsigned round = 0; round < 10; ++round) {
        loop lp;
        auto p = make_pipe();
        const int n = 5000;
        std::vector<std::string> got;
        {
            thread_feeder feed(std::move(p.write), numbered(n, '\n', false), round);
            async_record_reader in(lp, p.read.get(), '\n', 64 + round * 100);   // small buffers: many refills
            lp.run(collect_records(in, got));
            CHECK_EQ(in.fd(), p.read.get());
            CHECK(in.records().at_eof());
            CHECK_EQ(in.records().records_returned(), std::uint64_t(n));
        }
        check_numbered(got, n);
        CHECK(!(fcntl(p.read.get(), F_GETFL) & O_NONBLOCK));   // left alone
    }
}

CORO_TEST(async_records, from_a_regular_file) {
    char path[] = "/tmp/conc-records-XXXXXX";
    unique_fd f(mkstemp(path));
    CHECK(bool(f));
    ::unlink(path);
    std::string data = numbered(20000, '\n', true);
    write_all(f.get(), data);
    CHECK_EQ(::lseek(f.get(), 0, SEEK_SET), 0);
    loop lp;
    async_record_reader in(lp, f.get(), '\n', 4096);
    std::vector<std::string> got;
    lp.run(collect_records(in, got));
    check_numbered(got, 20000);
    CHECK_EQ(in.records().bytes_consumed(), data.size());
}

CORO_TEST(async_records, from_a_non_blocking_pipe) {
    loop lp;
    auto p = make_pipe(O_NONBLOCK);
    std::vector<std::string> got;
    {
        thread_feeder feed(std::move(p.write), numbered(8000, '\n', true), 5);
        async_record_reader in(lp, p.read.get(), '\n', 256);
        lp.run(collect_records(in, got));
    }
    check_numbered(got, 8000);
}

CORO_TEST(async_records, nul_delimiter) {
    loop lp;
    auto p = make_pipe();
    std::string data = numbered(3000, '\0', false);
    data.insert(0, std::string("new\nline\0", 9));   // a newline is data here
    std::vector<std::string> got;
    {
        thread_feeder feed(std::move(p.write), data, 9);
        async_record_reader in(lp, p.read.get(), '\0', 128);
        lp.run(collect_records(in, got));
    }
    CHECK(!got.empty() && got[0] == "new\nline");
    got.erase(got.begin());
    check_numbered(got, 3000);
}

CORO_TEST(async_records, blocks_never_cut_a_record) {
    for (std::size_t approx : {std::size_t(1), std::size_t(100), std::size_t(5000), std::size_t(1) << 20}) {
        loop lp;
        auto p = make_pipe();
        std::string data = numbered(10000, '\n', false);
        std::vector<std::string> blocks;
        {
            thread_feeder feed(std::move(p.write), data, unsigned(approx));
            async_record_reader in(lp, p.read.get(), '\n', 512);
            lp.run(collect_blocks(in, approx, blocks));
        }
        std::string joined;
        for (std::size_t i = 0; i < blocks.size(); ++i) {
            const auto& b = blocks[i];
            bool last = i + 1 == blocks.size();
            CHECK(!b.empty());
            if (!last) {
                CHECK(b.back() == '\n');                                     // ends at a record's end
                CHECK(b.size() >= approx);                                   // at least approx...
                auto prev = b.substr(0, b.size() - 1).rfind('\n');
                CHECK(prev == std::string::npos || prev + 1 < approx);       // ...and the smallest such run
            }
            joined += b;
        }
        CHECK(joined == data);
    }
}

namespace {
task<void> count_records(async_record_reader& in, std::size_t& n, std::uint64_t& sum) {
    while (auto r = co_await in.next_record()) {
        ++n;
        sum += std::uint64_t(std::stoul(std::string(*r)));
    }
}
}  // namespace

CORO_TEST(async_records, a_hundred_thousand_records) {
    loop lp;
    auto p = make_pipe();
    std::string data;
    for (int i = 0; i < 100000; ++i) data += std::to_string(i) + "\n";
    std::size_t n = 0;
    std::uint64_t sum = 0;
    {
        thread_feeder feed(std::move(p.write), data, 1);
        async_record_reader in(lp, p.read.get());
        lp.run(count_records(in, n, sum));
    }
    CHECK_EQ(n, 100000u);
    CHECK_EQ(sum, std::uint64_t(99999) * 100000 / 2);
}

namespace {
task<void> next_into(async_record_reader& in, std::string& out) {
    auto r = co_await in.next_record();
    if (r) out = *r;
}

task<void> cancel_a_waiting_read(async_record_reader& in, int wfd, std::string& first, std::vector<std::string>& rest,
                                 bool& was_cancelled) {
    auto& lp = loop::current();
    auto j = lp.spawn(next_into(in, first));
    co_await lp.yield();
    co_await lp.yield();   // j now waits for POLLIN: nothing was written
    j.cancel();
    try {
        co_await j;
    } catch (const cancelled_error&) {
    }
    was_cancelled = j.cancelled();
    write_all(wfd, "a\nb\nc");
    ::close(wfd);
    co_await collect_records(in, rest);
}
}  // namespace

CORO_TEST(async_records, a_cancelled_wait_loses_nothing) {
    loop lp;
    auto p = make_pipe();
    async_record_reader in(lp, p.read.get());
    std::string first;
    std::vector<std::string> rest;
    bool was_cancelled = false;
    lp.run(cancel_a_waiting_read(in, p.write.release(), first, rest, was_cancelled));
    CHECK(was_cancelled);
    CHECK(first.empty());
    std::vector<std::string> want{"a", "b", "c"};
    CHECK(rest == want);
}
