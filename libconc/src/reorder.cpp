#include "conc/reorder.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace conc {

spill_store::spill_store(std::size_t memory_limit, std::string dir) : limit_(memory_limit), dir_(std::move(dir)) {
    if (dir_.empty()) dir_ = temp_dir();
}

bool spill_store::reserve(std::size_t n) noexcept {
    if (used_ + n > limit_) return false;
    used_ += n;
    return true;
}

std::uint64_t spill_store::append(std::string_view data) {
    if (!file_) {
        // O_TMPFILE: never has a name, so nothing is left behind even on a crash.
        int fd = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
            std::string templ = dir_ + "/conc-spill-XXXXXX";
            fd = ::mkostemp(templ.data(), O_CLOEXEC);
            if (fd < 0) throw sys_error("create a temporary file in '" + dir_ + "'");
            ::unlink(templ.c_str());
        }
        file_.reset(fd);
    }
    std::uint64_t off = end_;
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(file_.get(), data.data() + done, data.size() - done, off_t(off + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw sys_error("write to the temporary file in '" + dir_ + "'");
        }
        done += std::size_t(n);
    }
    end_ += data.size();
    spilled_ += data.size();
    return off;
}

void spill_store::copy_out(std::uint64_t off, std::uint64_t len, int fd) {
    char buf[65536];
    while (len > 0) {
        std::size_t want = len < sizeof buf ? std::size_t(len) : sizeof buf;
        ssize_t n = ::pread(file_.get(), buf, want, off_t(off));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw sys_error("read the temporary file");
        }
        if (n == 0) throw sys_error(EIO, "read the temporary file");
        write_all(fd, buf, std::size_t(n));
        off += std::uint64_t(n);
        len -= std::uint64_t(n);
    }
}

std::size_t spill_store::read(std::uint64_t off, char* buf, std::size_t len) const {
    std::size_t done = 0;
    while (done < len) {
        ssize_t n = ::pread(file_.get(), buf + done, len - done, off_t(off + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw sys_error("read the temporary file");
        }
        if (n == 0) throw sys_error(EIO, "read the temporary file");
        done += std::size_t(n);
    }
    return done;
}

void spill_store::discard(std::uint64_t off, std::uint64_t len) noexcept {
    ::fallocate(file_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(off), off_t(len));   // best effort
}

spool::spool(spool&& o) noexcept
    : store_(o.store_), mem_(std::move(o.mem_)), extents_(std::move(o.extents_)), size_(o.size_) {
    o.mem_.clear();
    o.extents_.clear();
    o.size_ = 0;
}

spool& spool::operator=(spool&& o) noexcept {
    if (this != &o) {
        clear();
        store_ = o.store_;
        mem_ = std::move(o.mem_);
        extents_ = std::move(o.extents_);
        size_ = o.size_;
        o.mem_.clear();
        o.extents_.clear();
        o.size_ = 0;
    }
    return *this;
}

void spool::append(std::string_view data) {
    if (data.empty()) return;
    if (extents_.empty() && store_->reserve(data.size())) {
        mem_.append(data);
    } else {
        std::uint64_t off = store_->append(data);
        if (!extents_.empty() && extents_.back().first + extents_.back().second == off)
            extents_.back().second += data.size();
        else
            extents_.emplace_back(off, data.size());
    }
    size_ += data.size();
}

void spool::write_to(int fd) {
    write_all(fd, mem_);
    for (auto& [off, len] : extents_) store_->copy_out(off, len, fd);
    clear();
}

std::size_t spool::read_at(std::uint64_t pos, char* buf, std::size_t n) const {
    std::size_t done = 0;
    if (pos < mem_.size()) {
        done = std::min<std::uint64_t>(n, mem_.size() - pos);
        std::memcpy(buf, mem_.data() + pos, done);
    }
    std::uint64_t start = mem_.size();   // where the current extent begins in the spool
    for (auto& [off, len] : extents_) {
        if (done == n) break;
        std::uint64_t at = pos + done;
        if (at < start + len) {
            std::uint64_t skip = at - start;
            std::size_t want = std::min<std::uint64_t>(n - done, len - skip);
            done += store_->read(off + skip, buf + done, want);
        }
        start += len;
    }
    return done;
}

std::optional<std::string_view> spool::in_memory() const noexcept {
    if (!extents_.empty()) return std::nullopt;
    return std::string_view(mem_);
}

void spool::clear() noexcept {
    store_->release(mem_.size());
    std::string().swap(mem_);
    for (auto& [off, len] : extents_) store_->discard(off, len);
    extents_.clear();
    size_ = 0;
}

}  // namespace conc
