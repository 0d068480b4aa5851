#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "conc/fd.hpp"
#include "conc/records.hpp"

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
