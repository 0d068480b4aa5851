// blocks.hpp: stdin cut into blocks that end on a record boundary.
//
// block_cutter is the rule (pure, unit-tested): given the bytes from a block's
// start, where the block ends.  block_source applies it to a file descriptor:
// from a pipe, blocks are read into memory; from a regular file cut by size,
// boundaries are found by reading a little around each cut and a block is only
// a range of the file, which the copy's stdin then receives with splice(2).
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "conc/loop.hpp"
#include "conc/task.hpp"
#include "ppipe.hpp"

namespace ppipe {

class block_cutter {
public:
    explicit block_cutter(const cut_rules& r) : r_(r) {}
    // data holds the bytes from the block's start; between two calls it may
    // only have grown at its end.  Returns the block's length, or 0 when more
    // bytes are needed to decide.  At end of input (eof) it returns a length
    // whenever data is not empty.  Call reset() before the next block.
    std::size_t find(std::string_view data, bool eof);
    void reset() noexcept { scanned_ = 0, count_ = 0, fits_ = 0; }

private:
    const cut_rules& r_;
    std::size_t scanned_ = 0;   // bytes looked at
    std::uint64_t count_ = 0;   // records ended in them
    std::size_t fits_ = 0;      // the longest allowed cut within r_.block so far
};

struct block {
    std::uint64_t seq = 0;                // 1, 2, ...: {#}
    std::unique_ptr<char[]> memory;       // read from a pipe: bytes holds into it
    std::string_view bytes;
    off_t offset = -1;                    // from a regular file: [offset, offset + length)
    std::size_t length = 0;
    bool in_file() const noexcept { return offset >= 0; }
    std::size_t size() const noexcept { return in_file() ? length : bytes.size(); }
};

class block_source {
public:
    // fd is not owned.  A regular file cut by size is read in place (in_file() blocks).
    block_source(conc::loop& lp, int fd, const cut_rules& r);
    // The next block; nullopt at the end.  Throws sys_error when reading fails.
    conc::task<std::optional<block>> next();
    // --header's records, delimiters included; known after the first next().
    const std::string& header() const noexcept { return header_; }
    int fd() const noexcept { return fd_; }
    std::uint64_t bytes_read() const noexcept { return bytes_; }

private:
    conc::task<void> fill();
    conc::task<void> read_header();
    block take(std::size_t n);
    std::optional<block> next_range();
    std::size_t find_in_file(off_t from, off_t to, bool last);

    conc::loop& lp_;
    int fd_;
    const cut_rules& r_;
    block_cutter cut_;
    bool in_place_ = false;          // a regular file cut by size
    off_t pos_ = 0, end_ = 0;        // in place: the next block's start, the file's end
    std::unique_ptr<char[]> buf_;    // from a pipe: [0, len_) read and not yet handed out
    std::size_t cap_ = 0, len_ = 0;
    bool eof_ = false;
    bool header_read_ = false;
    std::string header_;
    std::uint64_t seq_ = 0, bytes_ = 0;
};

}  // namespace ppipe
