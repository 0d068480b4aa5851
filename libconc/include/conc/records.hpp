// conc/records.hpp: records (newline, NUL or any delimiter) and record-aligned
// blocks read from a file descriptor, handed out as views into one buffer.
//
// Why views: a tool that reads millions of short lines should not allocate per
// line.  A returned view points into the reader's buffer and stays valid until
// the next call of next(), next_block() or fill(), which may move the buffer;
// try_next() and try_next_block() never move it, so several of their views may
// be held at once.  Copy what you keep longer.
//
// Two ways to drive it:
//   blocking:       while (auto r = rd.next()) use(*r);
//   from a loop:    std::optional<std::string_view> r;
//                   while (!(r = rd.try_next())) {
//                       if (rd.at_eof()) break;          // no more records
//                       co_await readable(fd);
//                       rd.fill();
//                   }
//   or, the same:   async_record_reader (below): co_await in.next_record()
#pragma once
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "conc/task.hpp"

namespace conc {

// What one fill() did, so an event loop knows whether to wait for readiness.
enum class fill_result {
    data,         // read(2) returned bytes; try_next() may now succeed
    eof,          // end of file seen (now or earlier); try_next() drains what is left
    would_block,  // non-blocking fd had nothing; wait for POLLIN and fill() again
};

// Splits the bytes of a fd into records.  Does not own the fd (the caller's
// unique_fd does).  Any byte other than the delimiter may appear in a record;
// records have no length limit: the buffer grows (doubling) for a long one and
// otherwise reuses the space of consumed records.
class record_reader {
public:
    static constexpr std::size_t default_bufsize = 64 * 1024;

    // bufsize is the initial buffer, and so the size of a typical read(2).
    explicit record_reader(int fd, char delim = '\n', std::size_t bufsize = default_bufsize);

    record_reader(record_reader&&) noexcept = default;
    record_reader& operator=(record_reader&&) noexcept = default;
    record_reader(const record_reader&) = delete;
    record_reader& operator=(const record_reader&) = delete;

    // ---- blocking use -------------------------------------------------------

    // The next record without its delimiter; nullopt at end of file.  Reads as
    // needed (waits in poll(2) if the fd is non-blocking).  An empty view is an
    // empty record ("a\n\nb" is "a", "", "b"); a final record without its
    // delimiter is still returned; a trailing delimiter does not add an empty one.
    // Throws sys_error if read(2) fails.
    std::optional<std::string_view> next();

    // The smallest run of whole records, delimiters included, that is at least
    // approx bytes, so a block can be handed to a worker without cutting a record.
    // A record longer than approx comes alone and whole.  At end of file the
    // rest (fewer than approx bytes, the unterminated tail included) comes as
    // the last block.  nullopt once everything was returned.  approx 0 means 1.
    std::optional<std::string_view> next_block(std::size_t approx);

    // ---- non-blocking protocol (for an event loop) -------------------------

    // The next record from buffered data only, never reading.  nullopt means
    // "fill() first" unless at_eof(); the unterminated tail is returned only
    // after end of file was seen.
    std::optional<std::string_view> try_next();

    // next_block() from buffered data only, never reading.
    std::optional<std::string_view> try_next_block(std::size_t approx);

    // Exactly one read(2) (retried on EINTR) into the buffer, making room first.
    // After end of file it reads no more and returns eof.  Throws sys_error.
    fill_result fill();

    // End of file was seen: once try_next() returns nullopt, there is nothing more.
    bool at_eof() const noexcept { return eof_; }

    // ---- accounting --------------------------------------------------------

    // Bytes handed out so far by every call, delimiters included.
    std::uint64_t bytes_consumed() const noexcept { return bytes_; }
    // Records returned by next()/try_next() (blocks are not split to count them).
    std::uint64_t records_returned() const noexcept { return records_; }
    // Bytes read but not yet handed out.
    std::size_t buffered() const noexcept { return end_ - begin_; }
    // Current buffer size: shows whether it had to grow.
    std::size_t capacity() const noexcept { return cap_; }

    int fd() const noexcept { return fd_; }
    char delimiter() const noexcept { return delim_; }

private:
    std::size_t find_delim(std::size_t from);  // position of a delimiter >= from, or end_
    std::optional<std::string_view> take(std::size_t len);
    void make_room();
    void wait_readable();

    int fd_;
    char delim_;
    std::unique_ptr<char[]> buf_;
    std::size_t cap_;
    std::size_t begin_ = 0;       // first byte not handed out
    std::size_t end_ = 0;         // one past the last byte read
    std::size_t clean_from_ = 0;  // [clean_from_, clean_to_) is known to hold
    std::size_t clean_to_ = 0;    // no delimiter, so a long record is scanned once
    bool eof_ = false;
    std::uint64_t bytes_ = 0;
    std::uint64_t records_ = 0;
};

class loop;

// record_reader on the loop: next_record() and next_block() are awaited, and
// the task waits for POLLIN, not in read(2), so the loop's other tasks run
// meanwhile.  Works on regular files, pipes, FIFOs, sockets and terminals,
// blocking or not (a read after POLLIN does not block; the fd's flags are
// left alone), and never seeks.
//
//     conc::async_record_reader in(lp, STDIN_FILENO);
//     while (auto r = co_await in.next_record()) use(*r);
//
// A record already in the buffer costs no allocation and no trip through the
// loop; only a refill (one per buffer) runs a small coroutine.  Views are
// valid until the next call, as with record_reader.  Not copyable or movable:
// an await in progress points at the reader.  It must not outlive the loop.
class async_record_reader {
    using result = std::optional<std::string_view>;
    struct awaiter {
        async_record_reader* r;
        std::size_t approx;   // for a block
        bool block;
        result value;
        task<result> refill;  // runs only when the buffer holds no whole record
        bool await_ready() {
            value = block ? r->rd_.try_next_block(approx) : r->rd_.try_next();
            return value || r->rd_.at_eof();
        }
        bool await_suspend(std::coroutine_handle<> h) {
            refill = r->wait_and_fill(block, approx);
            return detail::start_task(refill.handle(), h);   // as co_await refill would do
        }
        result await_resume() {
            if (refill.valid()) return refill.handle().promise().take();
            return value;
        }
    };

public:
    async_record_reader(loop& lp, int fd, char delim = '\n', std::size_t bufsize = record_reader::default_bufsize);
    async_record_reader(const async_record_reader&) = delete;
    async_record_reader& operator=(const async_record_reader&) = delete;

    // Awaitable -> std::optional<std::string_view>: the next record without its
    // delimiter; nullopt at end of file.  As record_reader::next().  Throws
    // sys_error if read(2) fails, cancelled_error if the task is cancelled
    // while it waits (nothing is lost: the next call goes on where it stopped).
    awaiter next_record() { return awaiter{this, 0, false, {}, {}}; }
    // Awaitable -> std::optional<std::string_view>: as record_reader::next_block().
    awaiter next_block(std::size_t approx) { return awaiter{this, approx, true, {}, {}}; }

    // The underlying reader, for its accounting (bytes_consumed() and the rest).
    record_reader& records() noexcept { return rd_; }
    const record_reader& records() const noexcept { return rd_; }
    int fd() const noexcept { return rd_.fd(); }

private:
    task<result> wait_and_fill(bool block, std::size_t approx);

    loop* lp_;
    record_reader rd_;
};

}  // namespace conc
