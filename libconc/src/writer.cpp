#include "conc/writer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "conc/reorder.hpp"

namespace conc {

writer::writer(loop& lp, int fd, std::string name, std::size_t capacity)
    : lp_(&lp), fd_(fd), name_(std::move(name)), capacity_(capacity), out_(fd) {
    pump_.w = this;
    pump_.lp = &lp;
    pump_.events = POLLOUT;
    struct stat st {};
    int fl = ::fcntl(fd, F_GETFL);
    // Not open (or not open for writing): write(2) fails and that is reported.
    if (fl < 0 || ::fstat(fd, &st) < 0) return;
    int acc = fl & O_ACCMODE;
    if (acc != O_WRONLY && acc != O_RDWR) return;
    if (S_ISSOCK(st.st_mode)) {
        mode_ = mode::socket;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        std::string path = "/proc/self/fd/" + std::to_string(fd);
        int nfd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (nfd >= 0) {
            private_.reset(nfd);
            out_ = nfd;
        } else if (!(fl & O_NONBLOCK)) {
            mode_ = mode::pollout;
        }
    }
    pump_.fd = out_;
}

writer::~writer() {
    pump_.detach();
    while (auto* w = write_waiters_.pop_front()) w->fire();
    while (auto* w = flush_waiters_.pop_front()) w->fire();
}

std::string writer::error_message() const {
    if (state_ == state::open) return {};
    return "write error on " + name_ + ": " + std::strerror(err_);
}

void writer::on_error(std::function<void()> fn) {
    if (state_ != state::open) {
        if (fn) fn();
        return;
    }
    on_error_ = std::move(fn);
}

long writer::write_now(const char* p, std::size_t n) {
    for (;;) {
        ssize_t r;
        switch (mode_) {
        case mode::socket:
            r = ::send(out_, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r < 0 && errno == ENOTSOCK) {
                mode_ = mode::plain;
                continue;
            }
            break;
        case mode::pollout: {
            // A blocking fd: write only what poll(2) says there is room for.
            pollfd pfd{out_, POLLOUT, 0};
            int k = ::poll(&pfd, 1, 0);
            if (k < 0) {
                if (errno == EINTR) continue;
                return -1;
            }
            if (k == 0) {
                errno = EAGAIN;
                return -1;
            }
            r = ::write(out_, p, std::min<std::size_t>(n, PIPE_BUF));
            break;
        }
        default:
            r = ::write(out_, p, n);
            break;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 && n > 0) {   // a device that takes nothing and says no error
            errno = EAGAIN;
            return -1;
        }
        return long(r);
    }
}

static bool would_block(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK; }

bool writer::write_direct(std::string_view& data) {
    while (!data.empty()) {
        long n = write_now(data.data(), data.size());
        if (n < 0) {
            if (would_block(errno)) return true;
            fail(errno);
            return false;
        }
        data.remove_prefix(std::size_t(n));
    }
    return true;
}

bool writer::pump_out() {
    std::string_view rest(buf_.data() + head_, buf_.size() - head_);
    bool ok = write_direct(rest);
    if (!ok) return false;
    head_ = buf_.size() - rest.size();
    if (head_ == buf_.size()) {
        head_ = 0;
        buf_.clear();
        // A burst far beyond the capacity should not pin its memory for good.
        if (buf_.capacity() > 4 * capacity_ + 65536) std::string().swap(buf_);
    }
    return true;
}

void writer::arm() {
    if (!pump_.registered) detail::loop_access::add_fd(*lp_, pump_);
}

bool writer::accept(std::string_view data) {
    if (state_ != state::open) return true;
    if (buffered() == 0) {
        // Fast path: nothing waits ahead of these bytes, so write them now, uncopied.
        if (!write_direct(data)) return true;
        if (data.empty()) return true;
    }
    // Keep the buffer from growing only at its end: move the waiting bytes
    // down once at least as many have been written as still wait.
    if (head_ > 0 && head_ >= buf_.size() - head_) {
        buf_.erase(0, head_);
        head_ = 0;
    }
    buf_.append(data);
    arm();
    return buffered() <= capacity_;
}

void writer::on_writable() {
    if (state_ != state::open) return;
    if (!pump_out()) return;   // fail() woke everyone
    if (buffered() > 0) arm();
    wake_waiters();
}

void writer::wake_waiters() {
    if (buffered() <= capacity_)
        while (auto* w = write_waiters_.pop_front()) w->fire();
    if (buffered() == 0)
        while (auto* w = flush_waiters_.pop_front()) w->fire();
}

void writer::fail(int err) {
    state_ = err == EPIPE ? state::reader_gone : state::failed;
    err_ = err;
    buf_.clear();
    head_ = 0;
    pump_.detach();
    while (auto* w = write_waiters_.pop_front()) w->fire();
    while (auto* w = flush_waiters_.pop_front()) w->fire();
    // Last: the callback may stop the tool.
    auto fn = std::move(on_error_);
    on_error_ = nullptr;
    if (fn) fn();
}

task<void> writer::write(spool& s) {
    if (auto mem = s.in_memory()) {
        // All in memory: write() copies only what the fd does not take at once.
        co_await write(*mem);
        s.clear();
        co_return;
    }
    std::uint64_t pos = 0, size = s.size();
    const std::size_t piece = std::size_t(std::min<std::uint64_t>(size, 64 * 1024));
    auto buf = std::make_unique_for_overwrite<char[]>(piece);
    while (pos < size && state_ == state::open) {
        std::size_t n = s.read_at(pos, buf.get(), piece);
        if (n == 0) break;
        pos += n;
        co_await write(std::string_view(buf.get(), n));
    }
    s.clear();
}

}  // namespace conc
