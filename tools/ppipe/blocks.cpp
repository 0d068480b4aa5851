#include "blocks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "conc/error.hpp"
#include "conc/fd.hpp"

namespace ppipe {

namespace {

constexpr std::size_t window = 64 * 1024;   // bytes read around a cut in a file, and a pipe's read beyond a block

std::size_t after(const char* base, const void* hit) {
    return std::size_t(static_cast<const char*>(hit) - base) + 1;
}

}  // namespace

std::size_t block_cutter::find(std::string_view d, bool eof) {
    const char delim = r_.delimiter;
    if (!r_.records && r_.recsize == 1) {   // by size: the last record end within the block
        if (d.size() <= r_.block) return eof ? d.size() : 0;
        if (const void* p = ::memrchr(d.data(), delim, r_.block)) return after(d.data(), p);
        scanned_ = std::max(scanned_, r_.block);   // one record longer than the block: up to its end
        if (const void* p = std::memchr(d.data() + scanned_, delim, d.size() - scanned_)) return after(d.data(), p);
        scanned_ = d.size();
        return eof ? d.size() : 0;
    }
    while (scanned_ < d.size()) {   // counting records
        const void* p = std::memchr(d.data() + scanned_, delim, d.size() - scanned_);
        if (!p) {
            scanned_ = d.size();
            break;
        }
        std::size_t cut = after(d.data(), p);
        scanned_ = cut;
        ++count_;
        if (r_.records) {
            if (count_ == r_.records) return cut;
        } else if (count_ % r_.recsize == 0) {
            if (cut > r_.block) return fits_ ? fits_ : cut;
            fits_ = cut;
        }
    }
    // Past the block, no later record end can fit in it.
    if (!r_.records && fits_ && d.size() > r_.block) return fits_;
    return eof ? d.size() : 0;
}

block_source::block_source(conc::loop& lp, int fd, const cut_rules& r) : lp_(lp), fd_(fd), r_(r), cut_(r) {
    struct stat st;
    if (!r.records && r.recsize == 1 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t here = ::lseek(fd, 0, SEEK_CUR);
        if (here >= 0) {
            in_place_ = true;
            pos_ = here;
            end_ = std::max(here, st.st_size);
            return;
        }
    }
    cap_ = r.block + window;
    buf_ = std::make_unique_for_overwrite<char[]>(cap_);
}

// From a pipe: one read(2) into the buffer, which grows when full.
conc::task<void> block_source::fill() {
    if (len_ == cap_) {
        cap_ *= 2;
        auto bigger = std::make_unique_for_overwrite<char[]>(cap_);
        std::memcpy(bigger.get(), buf_.get(), len_);
        buf_ = std::move(bigger);
    }
    for (;;) {
        co_await lp_.readable(fd_);
        long n = ::read(fd_, buf_.get() + len_, cap_ - len_);
        if (n > 0) {
            len_ += std::size_t(n);
            co_return;
        }
        if (n == 0) {
            eof_ = true;
            co_return;
        }
        if (errno != EINTR && errno != EAGAIN) throw conc::sys_error(errno, "read standard input");
    }
}

// The block [0, n) leaves with the buffer; the rest starts a new one.
block block_source::take(std::size_t n) {
    block b;
    b.seq = ++seq_;
    std::size_t rest = len_ - n;
    std::size_t cap = std::max(r_.block + window, rest + window);
    auto next = std::make_unique_for_overwrite<char[]>(cap);
    std::memcpy(next.get(), buf_.get() + n, rest);
    b.memory = std::exchange(buf_, std::move(next));
    b.bytes = std::string_view(b.memory.get(), n);
    cap_ = cap;
    len_ = rest;
    bytes_ += n;
    cut_.reset();
    return b;
}

conc::task<void> block_source::read_header() {
    header_read_ = true;
    if (!r_.header) co_return;
    cut_rules rules = r_;
    rules.records = r_.header;
    block_cutter header_cut(rules);
    if (in_place_) {   // read it, then blocks start after it
        std::string seen;
        char chunk[window];
        for (std::size_t n = 0;;) {
            long got = conc::pread_some(fd_, chunk, sizeof chunk, pos_ + off_t(seen.size()));
            seen.append(chunk, std::size_t(std::max(got, 0L)));
            if ((n = header_cut.find(seen, got <= 0)) || got <= 0) {
                header_ = seen.substr(0, n);
                pos_ += off_t(n);
                bytes_ += n;
                co_return;
            }
        }
    }
    for (;;) {
        std::size_t n = header_cut.find(std::string_view(buf_.get(), len_), eof_);
        if (n || eof_) {
            header_.assign(buf_.get(), n);
            std::memmove(buf_.get(), buf_.get() + n, len_ - n);
            len_ -= n;
            bytes_ += n;
            co_return;
        }
        co_await fill();
    }
}

conc::task<std::optional<block>> block_source::next() {
    if (!header_read_) co_await read_header();
    if (in_place_) co_return next_range();
    // By size, a cut is decided once a whole block is here; counting, as records come.
    std::size_t enough = r_.records ? 0 : r_.block;
    for (;;) {
        if (len_ > enough || eof_) {
            if (std::size_t n = cut_.find(std::string_view(buf_.get(), len_), eof_)) co_return take(n);
            if (eof_) co_return std::nullopt;
        }
        co_await fill();
    }
}

// In place: the end of the last record that ends before `to` (last), or of
// the first one that ends at or after `from` (!last); 0 when there is none.
std::size_t block_source::find_in_file(off_t from, off_t to, bool last) {
    char chunk[window];
    if (last) {
        for (off_t hi = to; hi > from;) {
            off_t lo = std::max(from, hi - off_t(window));
            long got = conc::pread_some(fd_, chunk, std::size_t(hi - lo), lo);
            if (got <= 0) return 0;
            if (const void* p = ::memrchr(chunk, r_.delimiter, std::size_t(got))) return std::size_t(lo - pos_) + after(chunk, p);
            hi = lo;
        }
        return 0;
    }
    for (off_t lo = from; lo < to;) {
        long got = conc::pread_some(fd_, chunk, std::size_t(std::min(off_t(window), to - lo)), lo);
        if (got <= 0) return 0;
        if (const void* p = std::memchr(chunk, r_.delimiter, std::size_t(got))) return std::size_t(lo - pos_) + after(chunk, p);
        lo += got;
    }
    return 0;
}

std::optional<block> block_source::next_range() {
    if (pos_ >= end_) {
        ::lseek(fd_, end_, SEEK_SET);   // as if read: a later reader of the same fd goes on after it
        return std::nullopt;
    }
    std::size_t n = std::size_t(end_ - pos_);
    if (n > r_.block) {
        off_t limit = pos_ + off_t(r_.block);
        n = find_in_file(pos_, limit, true);
        if (!n) n = find_in_file(limit, end_, false);
        if (!n) n = std::size_t(end_ - pos_);
    }
    block b;
    b.seq = ++seq_;
    b.offset = pos_;
    b.length = n;
    pos_ += off_t(n);
    bytes_ += n;
    return b;
}

}  // namespace ppipe
