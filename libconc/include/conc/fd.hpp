// conc/fd.hpp: file descriptors that close themselves, pipes, and I/O that
// survives EINTR and short counts.
#pragma once
#include <sys/types.h>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "conc/error.hpp"

namespace conc {

// Owns one file descriptor; closes it on destruction.  Move-only.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

struct pipe_pair {
    unique_fd read;
    unique_fd write;
};

// pipe2(O_CLOEXEC | extra_flags); throws sys_error.
pipe_pair make_pipe(int extra_flags = 0);

// The self-pipe trick: a pipe that wakes a poll(2) loop from another thread
// or from a signal handler.  make_self_pipe() is make_pipe(O_NONBLOCK).
pipe_pair make_self_pipe();
// Writes one byte to the write end.  Async-signal-safe, keeps errno, never
// blocks: when the pipe is full it already holds a wake-up.
void notify_self_pipe(int write_fd, unsigned char byte = 0) noexcept;
// Reads and discards everything in the read end.
void drain_self_pipe(int read_fd);

void set_nonblocking(int fd, bool on = true);
void set_cloexec(int fd, bool on = true);
bool is_nonblocking(int fd);

// One read(2), retried on EINTR.  Returns bytes read (0 at end of file), or -1
// with errno EAGAIN on a non-blocking fd with nothing to read.  Throws on other errors.
long read_some(int fd, void* buf, std::size_t len);

// One pread(2) at offset, retried on EINTR.  Returns bytes read (0 at end of
// file).  Throws sys_error on errors.
long pread_some(int fd, void* buf, std::size_t len, off_t offset);

// One write(2), retried on EINTR.  Returns bytes written, or -1 with errno
// EAGAIN/EPIPE.  Throws on other errors.
long write_some(int fd, const void* buf, std::size_t len);

// Writes every byte, waiting with poll(2) when the fd is non-blocking.
// Throws sys_error (EPIPE included) if it cannot.
void write_all(int fd, const void* buf, std::size_t len);
inline void write_all(int fd, std::string_view s) { write_all(fd, s.data(), s.size()); }

// Reads until len bytes or end of file; returns how many were read.
std::size_t read_full(int fd, void* buf, std::size_t len);

// Reads everything up to end of file.
std::string read_all(int fd);

// Opens a file with O_CLOEXEC; throws sys_error("open 'path'").
unique_fd open_file(const std::string& path, int flags, int mode = 0666);

// Where temporary files go: $TMPDIR when set and not empty, else /tmp.
std::string temp_dir();

}  // namespace conc
