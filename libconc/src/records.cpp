#include "conc/records.hpp"

#include <poll.h>

#include <algorithm>
#include <cstring>

#include "conc/error.hpp"
#include "conc/fd.hpp"
#include "conc/loop.hpp"

namespace conc {

namespace {
// Below this the buffer could not hold a read worth a system call.
constexpr std::size_t min_bufsize = 64;
}  // namespace

record_reader::record_reader(int fd, char delim, std::size_t bufsize)
    : fd_(fd),
      delim_(delim),
      buf_(std::make_unique_for_overwrite<char[]>(std::max(bufsize, min_bufsize))),
      cap_(std::max(bufsize, min_bufsize)) {}

std::size_t record_reader::find_delim(std::size_t from) {
    if (from >= end_) return end_;
    // Skip what an earlier search already found free of delimiters, so a record
    // that arrives in many reads is scanned once, not once per read.
    bool cached = from >= clean_from_ && from <= clean_to_;
    std::size_t start = cached ? clean_to_ : from;
    if (start < end_) {
        auto p = static_cast<const char*>(std::memchr(buf_.get() + start, delim_, end_ - start));
        if (p) return static_cast<std::size_t>(p - buf_.get());
    }
    if (!cached) clean_from_ = from;
    clean_to_ = end_;
    return end_;
}

std::optional<std::string_view> record_reader::take(std::size_t len) {
    std::string_view v(buf_.get() + begin_, len);
    begin_ += len;
    bytes_ += len;
    return v;
}

std::optional<std::string_view> record_reader::try_next() {
    if (begin_ == end_) return std::nullopt;
    std::size_t pos = find_delim(begin_);
    if (pos < end_) {
        auto v = take(pos + 1 - begin_);
        ++records_;
        return v->substr(0, v->size() - 1);
    }
    if (!eof_) return std::nullopt;
    ++records_;
    return take(end_ - begin_);  // the last record, without its terminator
}

std::optional<std::string_view> record_reader::try_next_block(std::size_t approx) {
    if (begin_ == end_) return std::nullopt;
    std::size_t want = std::max<std::size_t>(approx, 1);
    // The block ends at the first delimiter at or after begin_ + want - 1.
    std::size_t pos = want - 1 < end_ - begin_ ? find_delim(begin_ + want - 1) : end_;
    if (pos < end_) return take(pos + 1 - begin_);
    if (!eof_) return std::nullopt;
    return take(end_ - begin_);
}

void record_reader::make_room() {
    if (begin_ == end_) begin_ = end_ = clean_from_ = clean_to_ = 0;
    if (cap_ - end_ >= cap_ / 4) return;  // room for a read worth making
    std::size_t live = end_ - begin_;
    // Moving the unconsumed bytes down is worth it when it frees at least half
    // the buffer (each byte moved buys a byte of read space); otherwise the
    // record in hand is long, and the buffer doubles.
    if (cap_ - live >= cap_ / 2) {
        std::memmove(buf_.get(), buf_.get() + begin_, live);
    } else {
        std::size_t ncap = cap_ * 2;
        auto nbuf = std::make_unique_for_overwrite<char[]>(ncap);
        std::memcpy(nbuf.get(), buf_.get() + begin_, live);
        buf_ = std::move(nbuf);
        cap_ = ncap;
    }
    clean_from_ = std::max(clean_from_, begin_) - begin_;
    clean_to_ = std::max(clean_to_, begin_) - begin_;
    begin_ = 0;
    end_ = live;
}

fill_result record_reader::fill() {
    if (eof_) return fill_result::eof;
    make_room();
    long n = read_some(fd_, buf_.get() + end_, cap_ - end_);
    if (n < 0) return fill_result::would_block;
    if (n == 0) {
        eof_ = true;
        return fill_result::eof;
    }
    end_ += static_cast<std::size_t>(n);
    return fill_result::data;
}

void record_reader::wait_readable() {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) throw sys_error("poll");
}

std::optional<std::string_view> record_reader::next() {
    for (;;) {
        if (auto r = try_next()) return r;
        if (eof_) return std::nullopt;
        if (fill() == fill_result::would_block) wait_readable();
    }
}

std::optional<std::string_view> record_reader::next_block(std::size_t approx) {
    for (;;) {
        if (auto r = try_next_block(approx)) return r;
        if (eof_) return std::nullopt;
        if (fill() == fill_result::would_block) wait_readable();
    }
}

async_record_reader::async_record_reader(loop& lp, int fd, char delim, std::size_t bufsize)
    : lp_(&lp), rd_(fd, delim, bufsize) {}

// The buffer holds no whole record: wait until the fd is readable, read once,
// and again if that was not enough (or a non-blocking fd had nothing after all).
task<async_record_reader::result> async_record_reader::wait_and_fill(bool block, std::size_t approx) {
    for (;;) {
        co_await lp_->readable(rd_.fd());
        if (rd_.fill() == fill_result::would_block) continue;
        result r = block ? rd_.try_next_block(approx) : rd_.try_next();
        if (r || rd_.at_eof()) co_return r;
    }
}

}  // namespace conc
