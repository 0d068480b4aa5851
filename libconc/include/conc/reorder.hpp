// conc/reorder.hpp: output that must wait its turn.
//
// A spool holds one producer's bytes until they may be written out.  All the
// spools of a spill_store share one memory budget; past it, bytes go to one
// unlinked temporary file, so a thousand finished jobs waiting behind a slow
// first one cost disk, not memory, and nothing is lost.  reorder_buffer
// releases values strictly in sequence order (Pool.imap's order).
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conc/fd.hpp"

namespace conc {

class spill_store {
public:
    // memory_limit: bytes all spools together may keep in memory.
    // dir: where the temporary file goes ($TMPDIR, else /tmp, when empty).
    explicit spill_store(std::size_t memory_limit, std::string dir = {});
    spill_store(const spill_store&) = delete;
    spill_store& operator=(const spill_store&) = delete;

    std::size_t memory_limit() const noexcept { return limit_; }
    std::size_t memory_used() const noexcept { return used_; }
    std::uint64_t spilled_bytes() const noexcept { return spilled_; }   // ever written to the file

private:
    friend class spool;
    bool reserve(std::size_t n) noexcept;           // true: n more bytes may stay in memory
    void release(std::size_t n) noexcept { used_ -= n; }
    std::uint64_t append(std::string_view data);    // to the file; returns the offset
    void copy_out(std::uint64_t off, std::uint64_t len, int fd);
    std::size_t read(std::uint64_t off, char* buf, std::size_t len) const;   // pread, all of it
    void discard(std::uint64_t off, std::uint64_t len) noexcept;   // frees the disk space

    std::size_t limit_;
    std::size_t used_ = 0;
    std::string dir_;
    unique_fd file_;
    std::uint64_t end_ = 0;
    std::uint64_t spilled_ = 0;
};

class spool {
public:
    explicit spool(spill_store& store) noexcept : store_(&store) {}
    spool(spool&& o) noexcept;
    spool& operator=(spool&& o) noexcept;
    spool(const spool&) = delete;
    spool& operator=(const spool&) = delete;
    ~spool() { clear(); }

    void append(std::string_view data);
    std::uint64_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    // Writes everything, in order, to fd (blocking), then empties the spool.
    // Throws sys_error (EPIPE included) if fd cannot take it.
    void write_to(int fd);
    // Copies up to n bytes from position pos into buf (the memory part, then
    // the spilled part, read with pread); returns how many, fewer than n only
    // at the end.  Never needs the whole content in memory, and does not
    // change the spool.  Throws sys_error if the spill file cannot be read.
    std::size_t read_at(std::uint64_t pos, char* buf, std::size_t n) const;
    // The bytes held in memory, when nothing was spilled (for inspection and tests).
    std::optional<std::string_view> in_memory() const noexcept;
    void clear() noexcept;

private:
    spill_store* store_;
    std::string mem_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents_;   // in the spill file, after mem_
    std::uint64_t size_ = 0;
};

// Values put in any order, taken out in sequence order (first, first+1, ...).
template <class T>
class reorder_buffer {
public:
    explicit reorder_buffer(std::uint64_t first = 1) : next_(first) {}
    void put(std::uint64_t seq, T value) { waiting_.emplace(seq, std::move(value)); }
    // The next value in order, if it has arrived.
    std::optional<T> pop() {
        auto it = waiting_.find(next_);
        if (it == waiting_.end()) return std::nullopt;
        std::optional<T> v(std::move(it->second));
        waiting_.erase(it);
        ++next_;
        return v;
    }
    // The waiting value with the lowest number, gap or not (to drain at the end).
    std::optional<T> pop_first() {
        if (waiting_.empty()) return std::nullopt;
        auto it = waiting_.begin();
        std::optional<T> v(std::move(it->second));
        next_ = it->first + 1;
        waiting_.erase(it);
        return v;
    }
    std::uint64_t next() const noexcept { return next_; }
    std::size_t waiting() const noexcept { return waiting_.size(); }

private:
    std::uint64_t next_;
    std::map<std::uint64_t, T> waiting_;
};

}  // namespace conc
