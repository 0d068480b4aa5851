// fork_pool's link to one worker: the fork, the frames sent down its task
// pipe, the replies read from its result pipe.
#include <fcntl.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include "after_fork.hpp"
#include "conc/error.hpp"
#include "fork_pool_parts.hpp"

namespace conc::detail {

// ---- the fd registry

namespace {
// Held from pipe creation through fork, so a child sees the set whole.
std::mutex registry_m;
std::set<int> registry;
}  // namespace

void fork_registry_add(int fd) {
    std::lock_guard lk(registry_m);
    registry.insert(fd);
}

void fork_registry_forget(int fd) {
    std::lock_guard lk(registry_m);
    registry.erase(fd);
}

void fork_registry_close(unique_fd& fd) {
    if (!fd) return;
    std::lock_guard lk(registry_m);
    registry.erase(fd.get());
    fd.reset();
}

// ---- start and stop

void worker_link::start(const fork_pool::function& fn, const sigset_t& mask) {
    std::fflush(nullptr);  // or the child would flush the parent's buffered output again
    std::unique_lock lk(registry_m);
    auto tp = make_pipe();
    auto rp = make_pipe();
    int fds[4] = {tp.read.get(), tp.write.get(), rp.read.get(), rp.write.get()};
    for (int fd : fds) registry.insert(fd);
    pid_t pid = ::fork();
    if (pid == 0) {
        forget_loops_after_fork();  // the pool's thread runs a loop
        ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
        for (int fd : registry)
            if (fd != tp.read.get() && fd != rp.write.get()) ::close(fd);
        run_pool_worker(fn, tp.read.get(), rp.write.get());
    }
    int err = errno;
    registry.erase(fds[0]);
    registry.erase(fds[3]);
    if (pid < 0) {
        registry.erase(fds[1]);
        registry.erase(fds[2]);
        throw sys_error(err, "fork");
    }
    lk.unlock();
    pid_ = pid;
    task_w_ = std::move(tp.write);
    result_r_ = std::move(rp.read);
    set_nonblocking(task_w_.get());
    set_nonblocking(result_r_.get());
    // Room for several chunks each way: fewer wake-ups and system calls a
    // chunk.  Best effort (the user's pipe-size limit may refuse it).
    ::fcntl(task_w_.get(), F_SETPIPE_SZ, 1 << 20);
    ::fcntl(result_r_.get(), F_SETPIPE_SZ, 1 << 20);
    outstanding_.clear();
    write_idx_ = write_off_ = 0;
    in_begin_ = in_end_ = 0;
    given_ = 0;
}

void worker_link::hang_up() { fork_registry_close(task_w_); }

exit_status worker_link::stop(bool kill_first) {
    if (kill_first) ::kill(pid_, SIGKILL);
    fork_registry_close(task_w_);
    exit_status st;
    try {
        st = reap(pid_);
    } catch (const sys_error&) {  // not our child any more: nothing to wait for
    }
    fork_registry_close(result_r_);
    pid_ = -1;
    return st;
}

// ---- sending

void worker_link::push(std::unique_ptr<fork_job> job) {
    outstanding_.push_back(std::move(job));
    ++given_;
}

worker_link::send_result worker_link::send() {
    constexpr std::size_t max_iov = 64;
    iovec iov[max_iov];
    while (wants_write()) {
        std::size_t n = 0;
        for (std::size_t i = write_idx_; i < outstanding_.size() && n < max_iov; ++i, ++n) {
            auto& job = *outstanding_[i];
            std::size_t skip = n == 0 ? write_off_ : 0;
            iov[n] = {const_cast<char*>(job.frame_data()) + skip, job.frame_size() - skip};
        }
        ssize_t w = ::writev(task_w_.get(), iov, int(n));
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return send_result::would_block;
            if (errno == EPIPE) return send_result::broken;
            throw sys_error("write");
        }
        // Moves past what was written: whole frames, then part of one.
        auto left = std::size_t(w);
        for (std::size_t i = 0; i < n && left; ++i) {
            if (left < iov[i].iov_len) {
                write_off_ += left;
                break;
            }
            left -= iov[i].iov_len;
            ++write_idx_;
            write_off_ = 0;
        }
    }
    return send_result::all_sent;
}

// ---- receiving

bool worker_link::receive() {
    // Reads land behind what is there; what is left of a frame moves to the
    // front only when less than `least` bytes of room remain.
    constexpr std::size_t least = 1 << 15;
    if (in_.empty()) in_.resize(1 << 18);
    for (;;) {
        std::size_t want = least;  // or the rest of the frame that has begun, if longer
        if (in_end_ - in_begin_ >= wire_length_size)
            want = std::max(want, std::size_t(wire_load<std::uint64_t>(in_.data() + in_begin_)) + wire_length_size -
                                      (in_end_ - in_begin_));
        if (in_.size() - in_end_ < want) {
            std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
            in_end_ -= in_begin_;
            in_begin_ = 0;
            if (in_.size() - in_end_ < want) in_.resize(in_end_ + want);
        }
        std::size_t room = in_.size() - in_end_;
        long n = read_some(result_r_.get(), in_.data() + in_end_, room);
        if (n < 0) return true;  // drained
        if (n == 0) return false;
        in_end_ += std::size_t(n);
        while (in_end_ - in_begin_ >= wire_length_size) {
            auto len = wire_load<std::uint64_t>(in_.data() + in_begin_);
            if (in_end_ - in_begin_ - wire_length_size < len) break;
            if (!outstanding_.empty()) {
                auto job = std::move(outstanding_.front());
                outstanding_.pop_front();
                --write_idx_;
                job->complete(in_.data() + in_begin_ + wire_length_size, len);
            }
            in_begin_ += wire_length_size + len;
        }
        if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
        if (std::size_t(n) < room) return true;  // drained
    }
}

std::deque<std::unique_ptr<fork_job>> worker_link::take_unanswered() {
    auto jobs = std::move(outstanding_);
    outstanding_.clear();
    write_idx_ = write_off_ = 0;
    return jobs;
}

}  // namespace conc::detail
