#include "feed.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "conc/error.hpp"
#include "conc/fd.hpp"

namespace ppipe {

namespace {

// What /proc/sys/fs/pipe-max-size allows everyone by default.
constexpr std::size_t biggest_pipe = 1u << 20;

}  // namespace

void prepare_pipe(int fd, std::size_t want) {
    conc::set_nonblocking(fd);
    int size = int(std::min(std::max(want, std::size_t(65536)), biggest_pipe));
    if (::fcntl(fd, F_GETPIPE_SZ) < size) ::fcntl(fd, F_SETPIPE_SZ, size);   // a smaller pipe only costs wake-ups
}

conc::task<bool> feed_bytes(conc::loop& lp, int fd, std::string_view data) {
    while (!data.empty()) {
        long n = conc::write_some(fd, data.data(), data.size());
        if (n >= 0) {
            data.remove_prefix(std::size_t(n));
            continue;
        }
        if (errno == EPIPE) co_return false;
        co_await lp.writable(fd);
    }
    co_return true;
}

conc::task<std::size_t> read_ready(conc::loop& lp, int fd, char* buf, std::size_t len) {
    for (;;) {
        co_await lp.readable(fd);
        long n = conc::read_some(fd, buf, len);
        if (n >= 0) co_return std::size_t(n);
    }
}

conc::task<bool> feed_range(conc::loop& lp, int fd, int file, off_t offset, std::size_t length) {
    while (length > 0) {
        loff_t from = offset;
        ssize_t n = ::splice(file, &from, fd, nullptr, length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            offset += n;
            length -= std::size_t(n);
            continue;
        }
        if (n == 0) co_return true;   // the file shrank
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            co_await lp.writable(fd);
            continue;
        }
        if (errno == EPIPE) co_return false;
        if (errno != EINVAL && errno != ENOSYS) throw conc::sys_error("read standard input");
        // A file system without splice: through our memory.
        std::unique_ptr<char[]> chunk = std::make_unique_for_overwrite<char[]>(biggest_pipe);
        while (length > 0) {
            long got = conc::pread_some(file, chunk.get(), std::min(length, biggest_pipe), offset);
            if (got <= 0) co_return true;
            if (!co_await feed_bytes(lp, fd, std::string_view(chunk.get(), std::size_t(got)))) co_return false;
            offset += got;
            length -= std::size_t(got);
        }
    }
    co_return true;
}

}  // namespace ppipe
