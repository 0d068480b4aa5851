#include "conc/fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

namespace conc {

void unique_fd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) ::close(fd_);  // close(2) may fail with EINTR; the fd is gone either way on Linux
    fd_ = fd;
}

pipe_pair make_pipe(int extra_flags) {
    int p[2];
    check(::pipe2(p, O_CLOEXEC | extra_flags), "pipe");
    return {unique_fd(p[0]), unique_fd(p[1])};
}

pipe_pair make_self_pipe() { return make_pipe(O_NONBLOCK); }

void notify_self_pipe(int write_fd, unsigned char byte) noexcept {
    int saved = errno;
    ssize_t r = ::write(write_fd, &byte, 1);
    (void)r;
    errno = saved;
}

void drain_self_pipe(int read_fd) {
    char buf[64];
    while (read_some(read_fd, buf, sizeof buf) > 0) {
    }
}

static void set_flag(int fd, int get, int set, int flag, bool on, const char* doing) {
    int f = check(::fcntl(fd, get), doing);
    int nf = on ? (f | flag) : (f & ~flag);
    if (nf != f) check(::fcntl(fd, set, nf), doing);
}

void set_nonblocking(int fd, bool on) { set_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on, "fcntl O_NONBLOCK"); }
void set_cloexec(int fd, bool on) { set_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on, "fcntl FD_CLOEXEC"); }
bool is_nonblocking(int fd) { return check(::fcntl(fd, F_GETFL), "fcntl F_GETFL") & O_NONBLOCK; }

long read_some(int fd, void* buf, std::size_t len) {
    for (;;) {
        ssize_t n = ::read(fd, buf, len);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
        throw sys_error("read");
    }
}

long pread_some(int fd, void* buf, std::size_t len, off_t offset) {
    for (;;) {
        ssize_t n = ::pread(fd, buf, len, offset);
        if (n >= 0) return n;
        if (errno != EINTR) throw sys_error("read");
    }
}

long write_some(int fd, const void* buf, std::size_t len) {
    for (;;) {
        ssize_t n = ::write(fd, buf, len);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EPIPE) return -1;
        throw sys_error("write");
    }
}

void write_all(int fd, const void* buf, std::size_t len) {
    auto p = static_cast<const char*>(buf);
    while (len > 0) {
        long n = write_some(fd, p, len);
        if (n < 0) {
            if (errno == EPIPE) throw sys_error(EPIPE, "write");
            pollfd pfd{fd, POLLOUT, 0};
            if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) throw sys_error("poll");
            continue;
        }
        p += n;
        len -= static_cast<std::size_t>(n);
    }
}

std::size_t read_full(int fd, void* buf, std::size_t len) {
    auto p = static_cast<char*>(buf);
    std::size_t got = 0;
    while (got < len) {
        long n = read_some(fd, p + got, len - got);
        if (n == 0) break;
        if (n < 0) {
            pollfd pfd{fd, POLLIN, 0};
            if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) throw sys_error("poll");
            continue;
        }
        got += static_cast<std::size_t>(n);
    }
    return got;
}

std::string read_all(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        std::size_t n = read_full(fd, buf, sizeof buf);
        out.append(buf, n);
        if (n < sizeof buf) return out;
    }
}

unique_fd open_file(const std::string& path, int flags, int mode) {
    for (;;) {
        int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
        if (fd >= 0) return unique_fd(fd);
        if (errno != EINTR) throw sys_error("open '" + path + "'");
    }
}

std::string temp_dir() {
    const char* t = ::getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

}  // namespace conc
