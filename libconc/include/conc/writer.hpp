// conc/writer.hpp: output that never blocks the loop, with back-pressure.
//
// A writer takes bytes for one fd (standard output, a child's stdin, a
// socket) from tasks on the loop.  What the fd cannot take at once waits in
// a bounded buffer; a task that writes while more than `capacity` bytes wait
// is suspended until the fd has drained below that, so a fast producer runs
// at the pace of a slow reader and memory stays bounded.
//
//     conc::writer out(lp, STDOUT_FILENO, "standard output");
//     co_await out.write(line);
//     ...
//     co_await out.flush();
//     if (out.status() == conc::writer::state::failed) die(out.error_message());
//
// Errors are reported once and never thrown: after the first one, writes
// return at once and their bytes are dropped.  EPIPE (the reader went away)
// is state reader_gone, which a tool takes as a quiet stop; anything else is
// state failed.  SIGPIPE must be ignored (conc::ignore_sigpipe) for EPIPE to
// come back as an error instead of killing the process.
//
// Why the fd's own flags are left alone: setting O_NONBLOCK on an inherited
// standard output would change it for the user's shell and every process
// sharing it.  A pipe, FIFO or character device opened for writing is
// reopened through /proc/self/fd/N as a private, non-blocking open file
// description of the same object; where that fails, the writer writes only
// after poll(2) reports POLLOUT, at most PIPE_BUF bytes at a time (which a
// pipe then has room for).  A socket is written with send(MSG_DONTWAIT).  A
// regular file or block device is written plainly (never reopened: that would
// lose O_APPEND and the shared offset).  An fd not open for writing is not
// reopened either: its writes fail, and that is reported.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/task.hpp"

namespace conc {

class spool;

class writer {
public:
    enum class state { open, reader_gone, failed };

    // fd is not owned and must outlive the writer; so must the loop.  name is
    // the stream's name in messages ("standard output").  capacity: bytes that
    // may wait in the buffer before write() suspends.
    writer(loop& lp, int fd, std::string name, std::size_t capacity = 256 * 1024);
    // Never blocks: bytes not yet written are dropped (co_await flush() first).
    // Tasks still suspended in write() or flush() are resumed and must not
    // touch the writer again.
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

private:
    struct write_awaiter : detail::waiter {
        writer* w;
        std::string_view data;
        write_awaiter(writer* wr, std::string_view d) : w(wr), data(d) {}
        ~write_awaiter() override { detach(); }
        bool await_ready() { return w->accept(data); }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!detail::loop_access::begin_wait(*w->lp_, *this, h)) return false;
            w->write_waiters_.push_back(this);
            return true;
        }
        void await_resume() const { throw_if_cancelled(); }
    };
    struct flush_awaiter : detail::waiter {
        writer* w;
        explicit flush_awaiter(writer* wr) : w(wr) {}
        ~flush_awaiter() override { detach(); }
        bool await_ready() const noexcept { return w->buffered() == 0 || w->state_ != state::open; }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!detail::loop_access::begin_wait(*w->lp_, *this, h)) return false;
            w->flush_waiters_.push_back(this);
            return true;
        }
        void await_resume() const { throw_if_cancelled(); }
    };

public:
    // Awaitable -> void.  Writes what the fd takes at once without copying,
    // copies the rest into the buffer, and suspends while more than capacity
    // bytes wait.  data need only live until the co_await begins.  Accepted
    // bytes are written in order and never lost while the writer is open;
    // cancelling a suspended write() does not take its bytes back.  After an
    // error it returns at once and drops data.
    write_awaiter write(std::string_view data) { return write_awaiter(this, data); }

    // Awaitable -> void: until every buffered byte is written, or an error.
    flush_awaiter flush() { return flush_awaiter(this); }

    // Writes the spool's bytes (in memory and spilled) in pieces through the
    // buffer, never holding all of it in memory, then clears it.  After an
    // error the rest is dropped and the spool cleared.  If the task is
    // cancelled, the spool keeps its bytes and may have been written in part.
    // Throws sys_error if the spill file cannot be read.
    task<void> write(spool& s);

    // Bytes waiting in the buffer.
    std::size_t buffered() const noexcept { return buf_.size() - head_; }
    std::size_t capacity() const noexcept { return capacity_; }
    state status() const noexcept { return state_; }
    // errno of the failure (EPIPE for reader_gone); 0 while open.
    int error() const noexcept { return err_; }
    // "write error on standard output: No space left on device"; empty while open.
    std::string error_message() const;
    // fn runs once, on the loop's thread, when the first error happens (at once
    // if one already has), so a tool can stop promptly even while not writing.
    // It runs inside the write() or the loop turn that met the error, and
    // must not destroy the writer.
    void on_error(std::function<void()> fn);

    int fd() const noexcept { return fd_; }
    const std::string& name() const noexcept { return name_; }

private:
    enum class mode {
        plain,       // write(2): regular file, block device, private non-blocking fd, or not writable
        pollout,     // blocking pipe or device we could not reopen: POLLOUT first, PIPE_BUF at most
        socket,      // send(MSG_DONTWAIT | MSG_NOSIGNAL)
    };
    // The fd became writable: pump_out, then wake whoever may go on.
    struct pump : detail::fd_waiter {
        writer* w = nullptr;
        ~pump() override { detach(); }
        void fire() override { w->on_writable(); }
    };

    bool accept(std::string_view data);   // write() without waiting; true: do not suspend
    long write_now(const char* p, std::size_t n);   // >= 0 written; -1: errno (EAGAIN: would block)
    bool write_direct(std::string_view& data);      // false: failed (fail() was called)
    bool pump_out();                                // false: failed
    void arm();
    void on_writable();
    void wake_waiters();
    void fail(int err);

    loop* lp_;
    int fd_;
    std::string name_;
    std::size_t capacity_;
    unique_fd private_;   // our own non-blocking open of the same pipe or device
    int out_ = -1;        // the fd written to: private_ or fd_
    mode mode_ = mode::plain;
    std::string buf_;
    std::size_t head_ = 0;   // buf_[head_, size) waits
    state state_ = state::open;
    int err_ = 0;
    std::function<void()> on_error_;
    pump pump_;
    detail::waiter_list write_waiters_;
    detail::waiter_list flush_waiters_;
};

}  // namespace conc
