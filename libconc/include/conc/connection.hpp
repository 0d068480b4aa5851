// conc/connection.hpp: Python's multiprocessing.Pipe() and Connection.
//
// conc::pipe() makes two connected ends; each end sends and receives whole
// messages, of bytes or of any type conc::codec handles (conc/codec.hpp).
// Made before a fork (conc::forked_process), one end goes to the child and
// one stays in the parent:
//
//     auto [here, there] = conc::pipe();
//     conc::forked_process p([](conc::connection c) {
//         auto [a, b] = c.recv<std::pair<int, int>>();
//         c.send(a + b);
//     }, std::move(there));
//     p.start();
//     here.send(std::pair{2, 3});
//     int sum = here.recv<int>();              // 5
//
// A message is a frame as in fork_pool's wire format (conc/detail/pool_wire.hpp):
// a u64 length in host byte order, then the bytes.  send() and recv() block;
// async_send() and async_recv() are the same on a conc::loop.  A message of
// any size goes through (several MB is fine), as long as the other side
// reads while this one writes: like Python, two ends that both send a big
// message before either receives wait for each other for ever.
//
// Ends of file: recv() on an end whose peer is closed (in every process that
// held it) throws conc::eof_error, Python's EOFError.  send() to a closed
// peer throws sys_error with EPIPE: MSG_NOSIGNAL on the socket of a duplex
// pipe; a one-way pipe raises SIGPIPE as every pipe does, so ignore it
// (conc::ignore_sigpipe) to get the error instead of dying.
//
// In the child of a conc::forked_process, the connections that are part of
// its function or its arguments (held by value, not through a pointer,
// reference or container) stay open; every other connection end of the
// parent is closed there, so that the child holds no copy of the parent's
// end, and end of file works both ways without closing anything by hand (in
// Python the child must close the parent's ends itself).  Using one of those
// in the child throws std::logic_error saying so.
//
// One end is used by one thread at a time, except that on a duplex end one
// thread may send while another receives.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "conc/codec.hpp"
#include "conc/detail/pool_wire.hpp"
#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/task.hpp"

namespace conc {

// recv() on a connection whose peer has been closed: Python's EOFError.
// what() is "connection closed", or "connection closed in the middle of a
// message" when the peer went away half way through one.
class eof_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
struct connection_list;
}

class connection {
public:
    connection() = default;   // closed
    // Takes fd (a socket or a pipe end) as one end; readable/writable say in
    // which directions this end may be used.
    connection(unique_fd fd, bool readable, bool writable);
    connection(connection&& o) noexcept;
    connection& operator=(connection&& o) noexcept;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    bool readable() const noexcept { return fd_ && readable_; }
    bool writable() const noexcept { return fd_ && writable_; }
    bool closed() const noexcept { return !fd_; }
    int fd() const noexcept { return fd_.get(); }
    // Closes this end (the destructor does too); messages read ahead and not
    // yet received are dropped.
    void close() noexcept;

    // Sends one message of these bytes; blocks until the kernel has all of
    // it.  Throws std::logic_error on a closed or read-only end, sys_error
    // (EPIPE: the peer is closed) when the write fails.
    void send_bytes(std::string_view bytes);
    // Sends v encoded with codec<T>; receive it with recv<T>().
    template <encodable T>
    void send(const T& v) {
        std::string f = frame(v);
        write_frame({}, f);
    }

    // Receives one message sent with send_bytes (or its bytes, whatever it
    // was).  Blocks until it is all here.  Throws eof_error when the peer is
    // closed, std::logic_error on a closed or write-only end, sys_error if
    // the read fails.
    std::string recv_bytes();
    // Receives one message sent with send<T>.  Throws decode_error if it does
    // not hold exactly a T (it is consumed all the same).
    template <encodable T>
    T recv() {
        return decode<T>(recv_bytes());
    }

    // Whether a message can be received now: a whole one is already read
    // ahead, or the descriptor is readable (new bytes, or the peer's end of
    // file: recv then throws eof_error at once).  Waits up to timeout for it;
    // std::nullopt waits without limit (Python's poll(None)).
    bool poll(std::optional<clock::duration> timeout = clock::duration::zero());

    // The same on the loop running on this thread: they suspend the task,
    // not the thread.  The connection must outlive the task.  A cancelled
    // async_recv loses nothing: the part of a message read so far stays for
    // the next recv.  A cancelled async_send may leave half a message in the
    // stream, after which the connection is unusable.  async_send returns
    // once the kernel has the whole message.
    task<void> async_send_bytes(std::string bytes);
    template <encodable T>
    task<void> async_send(const T& v) {
        return async_write({}, frame(v));
    }
    task<std::string> async_recv_bytes();
    template <encodable T>
    task<T> async_recv() {
        std::string bytes = co_await async_recv_bytes();
        co_return decode<T>(bytes);
    }

private:
    // A whole frame for v: the length, then v's encoding.
    template <encodable T>
    static std::string frame(const T& v) {
        std::string f(detail::wire_length_size, '\0');
        codec<T>::encode(v, f);
        detail::wire_store(f.data(), std::uint64_t(f.size() - detail::wire_length_size));
        return f;
    }
    void check(bool for_writing) const;
    void write_frame(std::string_view a, std::string_view b);   // a then b, every byte
    task<void> async_write(std::string a, std::string b);
    bool assemble();          // moves read-ahead bytes into the message; true once it is whole
    long read_once();         // one read(2): bytes read, 0 at end of file, -1 would block
    void end_of_file() const; // throws eof_error
    std::string take();       // the whole message, handed over
    bool wait_readable(int timeout_ms);

    // Every open connection is on one list, so that a forked_process child
    // can close the ends it was not given (conc/forked_process.hpp).
    friend struct detail::connection_list;
    void link() noexcept;     // these two with the list's lock held
    void unlink() noexcept;
    void move_from(connection& o) noexcept;

    static constexpr std::size_t chunk = 64 * 1024;
    connection* prev_ = nullptr;
    connection* next_ = nullptr;
    bool closed_by_fork_ = false;         // closed in a forked child: say so when used
    unique_fd fd_;
    bool readable_ = false, writable_ = false;
    bool socket_ = false;                 // send with MSG_NOSIGNAL
    std::unique_ptr<char[]> ahead_;       // bytes read ahead: [head_, tail_)
    std::size_t head_ = 0, tail_ = 0;
    bool have_length_ = false;            // the message being assembled:
    std::uint64_t length_ = 0;            //   its length (once have_length_)
    std::string message_;                 //   its bytes: [0, got_) are here
    std::size_t got_ = 0;
};

// Python's Pipe(duplex): two connected ends.  Duplex (a socketpair): both
// send and receive.  One-way (a pipe): first is read-only, second is
// write-only.  Both descriptors are close-on-exec: a forked child has them,
// a command it execs does not.  Throws sys_error.
std::pair<connection, connection> pipe(bool duplex = true);

}  // namespace conc
