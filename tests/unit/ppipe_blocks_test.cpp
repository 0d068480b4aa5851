// ppipe's block cutting: the rule, and the same blocks from a pipe and from a file.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../tools/ppipe/blocks.hpp"
#include "conc/fd.hpp"
#include "conc/loop.hpp"

using namespace ppipe;

namespace {

// Cuts all of text with r, feeding the cutter in pieces of `step` bytes.
std::vector<std::string> cut_all(const cut_rules& r, const std::string& text, std::size_t step) {
    std::vector<std::string> blocks;
    block_cutter cut(r);
    std::size_t start = 0, have = 0;
    while (start < text.size()) {
        have = std::min(text.size(), have + step);
        bool eof = have == text.size();
        if (std::size_t n = cut.find(std::string_view(text).substr(start, have - start), eof)) {
            blocks.push_back(text.substr(start, n));
            start += n;
            cut.reset();
            have = start;
        } else {
            cr_assert(!eof, "no cut at the end of input");
        }
    }
    return blocks;
}

std::size_t records_in(const std::string& s, char d) { return std::size_t(std::count(s.begin(), s.end(), d)); }

std::string random_records(unsigned seed, std::size_t count, std::size_t longest, bool terminated) {
    std::mt19937 gen(seed);
    std::string text;
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t len = gen() % 4 == 0 ? gen() % longest : gen() % 40;
        for (std::size_t k = 0; k < len; ++k) text += char('a' + gen() % 26);
        text += '\n';
    }
    if (!terminated) text += "tail-without-newline";
    return text;
}

std::vector<std::string> read_blocks(int fd, const cut_rules& r, std::string* header = nullptr) {
    conc::loop lp;
    std::vector<std::string> blocks;
    block_source src(lp, fd, r);
    lp.run([&]() -> conc::task<void> {
        while (auto b = co_await src.next()) {
            if (b->in_file()) {
                std::string bytes(b->length, '\0');
                cr_assert_eq(std::size_t(conc::pread_some(fd, bytes.data(), b->length, b->offset)), b->length);
                blocks.push_back(bytes);
            } else {
                blocks.emplace_back(b->bytes);
            }
        }
    }());
    if (header) *header = src.header();
    return blocks;
}

std::vector<std::string> blocks_through_pipe(const std::string& text, const cut_rules& r, std::string* header = nullptr) {
    conc::pipe_pair p = conc::make_pipe();
    std::thread writer([&] {
        conc::write_all(p.write.get(), text);
        p.write.reset();
    });
    auto blocks = read_blocks(p.read.get(), r, header);
    writer.join();
    return blocks;
}

std::vector<std::string> blocks_from_file(const std::string& text, const cut_rules& r, std::string* header = nullptr) {
    char path[] = "/tmp/ppipe_blocks_XXXXXX";
    conc::unique_fd f(mkstemp(path));
    cr_assert(f.get() >= 0);
    unlink(path);
    conc::write_all(f.get(), text);
    lseek(f.get(), 0, SEEK_SET);
    return read_blocks(f.get(), r, header);
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& b : v) s += b;
    return s;
}

}  // namespace

Test(ppipe_blocks, by_size_blocks_end_on_a_record_and_fit_unless_one_record_is_longer) {
    cut_rules r;
    r.block = 100;
    for (unsigned seed = 1; seed <= 50; ++seed) {
        std::string text = random_records(seed, 300, 400, seed % 2);
        for (std::size_t step : {1u, 7u, 64u, 1000u}) {
            auto blocks = cut_all(r, text, step);
            cr_assert(joined(blocks) == text, "seed %u step %zu: bytes lost or changed", seed, step);
            for (std::size_t i = 0; i + 1 < blocks.size(); ++i) {
                cr_assert_eq(blocks[i].back(), '\n', "a block ends inside a record");
                if (blocks[i].size() > r.block) cr_assert_eq(records_in(blocks[i], '\n'), 1u, "an oversized block holds more than one record");
                // As full as allowed: the next record would not have fitted.
                std::size_t next = blocks[i + 1].find('\n');
                if (blocks[i].size() <= r.block && next != std::string::npos)
                    cr_assert_gt(blocks[i].size() + next + 1, r.block, "the block could have held the next record");
            }
        }
    }
}

Test(ppipe_blocks, records_cuts_exactly_n_records) {
    cut_rules r;
    r.records = 3;
    auto blocks = cut_all(r, "1\n2\n3\n4\n5\n6\n7", 2);
    cr_assert_eq(blocks.size(), 3u);
    cr_assert(blocks[0] == "1\n2\n3\n" && blocks[1] == "4\n5\n6\n" && blocks[2] == "7");
}

Test(ppipe_blocks, recsize_cuts_only_after_whole_groups) {
    cut_rules r;
    r.block = 10;
    r.recsize = 4;
    std::string text;
    for (int i = 0; i < 40; ++i) text += std::to_string(i % 10) + "\n";   // 2 bytes a record, 8 a group
    for (auto& b : cut_all(r, text, 3)) cr_assert_eq(records_in(b, '\n') % 4, 0u, "a block cut inside a group");
    r.block = 3;   // a group larger than the block: still whole
    for (auto& b : cut_all(r, text, 5)) cr_assert_eq(records_in(b, '\n'), 4u);
}

Test(ppipe_blocks, any_delimiter_and_nul_bytes_inside_records) {
    cut_rules r;
    r.block = 5;
    r.delimiter = '\0';
    std::string text("ab\ncd\0efgh\0ij\nk\0", 16);
    auto blocks = cut_all(r, text, 1);
    cr_assert(joined(blocks) == text);
    for (auto& b : blocks) cr_assert_eq(b.back(), '\0');
}

Test(ppipe_blocks, a_pipe_and_a_file_give_the_same_blocks) {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        cut_rules r;
        r.block = 1000 + seed * 37;
        std::string text = random_records(seed, 2000, 5000, seed % 3 != 0);
        auto piped = blocks_through_pipe(text, r);
        auto filed = blocks_from_file(text, r);
        cr_assert(joined(piped) == text, "seed %u: the pipe's blocks lost bytes", seed);
        cr_assert_eq(piped.size(), filed.size(), "seed %u: %zu blocks from the pipe, %zu from the file", seed, piped.size(), filed.size());
        for (std::size_t i = 0; i < piped.size(); ++i) cr_assert(piped[i] == filed[i], "seed %u: block %zu differs", seed, i + 1);
    }
}

Test(ppipe_blocks, the_header_is_read_once_and_blocks_start_after_it) {
    cut_rules r;
    r.block = 6;
    r.header = 2;
    std::string text = "h1\nh2\na\nb\nc\nd\ne";
    for (bool file : {false, true}) {
        std::string header;
        auto blocks = file ? blocks_from_file(text, r, &header) : blocks_through_pipe(text, r, &header);
        cr_assert(header == "h1\nh2\n", "header '%s'", header.c_str());
        cr_assert(joined(blocks) == "a\nb\nc\nd\ne");
        cr_assert(blocks[0] == "a\nb\nc\n");
    }
}

Test(ppipe_blocks, empty_input_gives_no_block) {
    cut_rules r;
    cr_assert(blocks_through_pipe("", r).empty());
    cr_assert(blocks_from_file("", r).empty());
}
