#include "conc/connection.hpp"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>

#include "conc/writer.hpp"

#include "after_fork.hpp"

namespace conc {

namespace {

bool is_socket(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// Milliseconds for poll(2), rounded up so that a short wait is not a busy one; -1: no limit.
int poll_ms(clock::duration d) {
    if (d <= clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
    return ms > INT_MAX ? INT_MAX : int(ms);
}

}  // namespace

// ---- the list of open connections ------------------------------------------

namespace detail {

// Open connections, linked through their prev_/next_.  Its lock is held
// across fork by forked_process::start, so that the child finds it whole.
struct connection_list {
    static std::mutex m;
    static connection* head;

    static void close_outside(const char* begin, const char* end) noexcept {
        for (connection* c = head; c;) {
            connection* next = c->next_;
            auto* p = reinterpret_cast<const char*>(c);
            if (p < begin || p >= end) {
                c->unlink();
                c->fd_.reset();
                c->closed_by_fork_ = true;
            }
            c = next;
        }
    }
};
std::mutex connection_list::m;
connection* connection_list::head = nullptr;

void lock_connections() noexcept { connection_list::m.lock(); }
void unlock_connections() noexcept { connection_list::m.unlock(); }
void close_connections_outside(const void* keep, std::size_t size) noexcept {
    auto* b = static_cast<const char*>(keep);
    connection_list::close_outside(b, b + size);
}

}  // namespace detail

using detail::connection_list;

void connection::link() noexcept {
    prev_ = nullptr;
    next_ = connection_list::head;
    if (next_) next_->prev_ = this;
    connection_list::head = this;
}

void connection::unlink() noexcept {
    if (prev_) prev_->next_ = next_;
    else if (connection_list::head == this) connection_list::head = next_;
    if (next_) next_->prev_ = prev_;
    prev_ = next_ = nullptr;
}

// Linked exactly while fd_ is open.  Descriptors are opened into and closed
// out of a connection with the list's lock held: a fork in another thread
// sees each one either listed or gone.
connection::connection(unique_fd fd, bool readable, bool writable)
    : readable_(readable), writable_(writable), socket_(fd && is_socket(fd.get())) {
    std::lock_guard g(connection_list::m);
    fd_ = std::move(fd);
    if (fd_) link();
}

void connection::move_from(connection& o) noexcept {
    if (o.fd_) o.unlink();
    fd_ = std::move(o.fd_);
    if (fd_) link();
    readable_ = o.readable_;
    writable_ = o.writable_;
    socket_ = o.socket_;
    closed_by_fork_ = o.closed_by_fork_;
    ahead_ = std::move(o.ahead_);
    head_ = std::exchange(o.head_, 0);
    tail_ = std::exchange(o.tail_, 0);
    have_length_ = std::exchange(o.have_length_, false);
    length_ = std::exchange(o.length_, 0);
    message_ = std::move(o.message_);
    got_ = std::exchange(o.got_, 0);
}

connection::connection(connection&& o) noexcept {
    std::lock_guard g(connection_list::m);
    move_from(o);
}

connection& connection::operator=(connection&& o) noexcept {
    if (this != &o) {
        std::lock_guard g(connection_list::m);
        if (fd_) unlink();
        fd_.reset();
        move_from(o);
    }
    return *this;
}

connection::~connection() {
    if (!fd_) return;
    std::lock_guard g(connection_list::m);
    unlink();
    fd_.reset();
}

void connection::close() noexcept {
    if (fd_) {
        std::lock_guard g(connection_list::m);
        unlink();
        fd_.reset();
    }
    ahead_.reset();
    head_ = tail_ = 0;
    have_length_ = false;
    message_ = {};
    got_ = 0;
}

void connection::check(bool for_writing) const {
    if (!fd_ && closed_by_fork_)
        throw std::logic_error("conc::connection: closed in this forked child (only the connections given "
                               "to its function stay open)");
    if (!fd_) throw std::logic_error("conc::connection: the connection is closed");
    if (for_writing && !writable_) throw std::logic_error("conc::connection: this end is read-only");
    if (!for_writing && !readable_) throw std::logic_error("conc::connection: this end is write-only");
}

// ---- sending ---------------------------------------------------------------

void connection::send_bytes(std::string_view bytes) {
    char header[detail::wire_length_size];
    detail::wire_store(header, std::uint64_t(bytes.size()));
    write_frame({header, sizeof header}, bytes);
}

// One writev (sendmsg on a socket) for both pieces, so a big message is never
// copied and a small one costs one system call.
void connection::write_frame(std::string_view a, std::string_view b) {
    check(true);
    iovec iov[2] = {{const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
    iovec* v = iov;
    int count = 2;
    while (count && v->iov_len == 0) ++v, --count;
    while (count) {
        long n;
        if (socket_) {
            msghdr m{};
            m.msg_iov = v;
            m.msg_iovlen = std::size_t(count);
            n = ::sendmsg(fd_.get(), &m, MSG_NOSIGNAL);
        } else {
            n = ::writev(fd_.get(), v, count);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {   // someone made the fd non-blocking
                pollfd p{fd_.get(), POLLOUT, 0};
                ::poll(&p, 1, -1);
                continue;
            }
            throw sys_error("send on a connection");
        }
        std::size_t done = std::size_t(n);
        while (count && done >= v->iov_len) done -= v->iov_len, ++v, --count;
        if (count) {
            v->iov_base = static_cast<char*>(v->iov_base) + done;
            v->iov_len -= done;
        }
    }
}

task<void> connection::async_send_bytes(std::string bytes) {
    std::string header(detail::wire_length_size, '\0');
    detail::wire_store(header.data(), std::uint64_t(bytes.size()));
    return async_write(std::move(header), std::move(bytes));
}

// Through a writer of its own, made for this message: it writes without
// blocking the loop (send(MSG_DONTWAIT) on a socket, a private non-blocking
// open of a pipe), and holds nothing between messages.
task<void> connection::async_write(std::string a, std::string b) {
    check(true);
    writer w(loop::current(), fd_.get(), "connection");
    if (!a.empty()) co_await w.write(a);
    if (!b.empty()) co_await w.write(b);
    co_await w.flush();
    if (w.status() != writer::state::open) throw sys_error(w.error(), "send on a connection");
}

// ---- receiving -------------------------------------------------------------

bool connection::assemble() {
    if (!have_length_) {
        if (tail_ - head_ < detail::wire_length_size) return false;
        length_ = detail::wire_load<std::uint64_t>(ahead_.get() + head_);
        head_ += detail::wire_length_size;
        have_length_ = true;
        message_.resize(std::size_t(length_));
        got_ = 0;
    }
    std::size_t take = std::min<std::size_t>(tail_ - head_, std::size_t(length_) - got_);
    std::memcpy(message_.data() + got_, ahead_.get() + head_, take);
    head_ += take;
    got_ += take;
    if (head_ == tail_) head_ = tail_ = 0;
    return got_ == length_;
}

// Straight into the message when much of it is missing (a big message is not
// copied twice), else into the read-ahead buffer (small messages: one read
// for several).
long connection::read_once() {
    long n;
    if (have_length_ && length_ - got_ >= chunk) {
        n = read_some(fd_.get(), message_.data() + got_, std::size_t(length_) - got_);
        if (n > 0) got_ += std::size_t(n);
        return n;
    }
    if (!ahead_) ahead_ = std::make_unique<char[]>(chunk);
    if (head_ > 0) {   // assemble() left less than a length here: move it to the front
        std::memmove(ahead_.get(), ahead_.get() + head_, tail_ - head_);
        tail_ -= head_;
        head_ = 0;
    }
    n = read_some(fd_.get(), ahead_.get() + tail_, chunk - tail_);
    if (n > 0) tail_ += std::size_t(n);
    return n;
}

void connection::end_of_file() const {
    if (!have_length_ && head_ == tail_) throw eof_error("connection closed");
    throw eof_error("connection closed in the middle of a message");
}

std::string connection::take() {
    have_length_ = false;
    got_ = 0;
    return std::exchange(message_, std::string());
}

bool connection::wait_readable(int timeout_ms) {
    pollfd p{fd_.get(), POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms);   // EINTR: ask again (for at most the same time)
    while (r < 0 && errno == EINTR);
    if (r < 0) throw sys_error("poll on a connection");
    return r > 0;
}

std::string connection::recv_bytes() {
    check(false);
    for (;;) {
        if (assemble()) return take();
        long n = read_once();
        if (n == 0) end_of_file();
        if (n < 0) wait_readable(-1);   // someone made the fd non-blocking
    }
}

task<std::string> connection::async_recv_bytes() {
    check(false);
    loop& lp = loop::current();
    for (;;) {
        if (assemble()) co_return take();
        co_await lp.readable(fd_.get());
        long n = read_once();
        if (n == 0) end_of_file();
    }
}

bool connection::poll(std::optional<clock::duration> timeout) {
    check(false);
    if (assemble()) return true;
    if (!timeout) return wait_readable(-1);
    auto deadline = clock::now() + *timeout;
    for (;;) {   // poll(2) may wake early on EINTR or round down: wait out the rest
        if (wait_readable(poll_ms(deadline - clock::now()))) return true;
        if (clock::now() >= deadline) return false;
    }
}

std::pair<connection, connection> pipe(bool duplex) {
    if (!duplex) {
        pipe_pair p = make_pipe();
        return {connection(std::move(p.read), true, false), connection(std::move(p.write), false, true)};
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw sys_error("socketpair");
    unique_fd a(sv[0]), b(sv[1]);
    return {connection(std::move(a), true, true), connection(std::move(b), true, true)};
}

}  // namespace conc
