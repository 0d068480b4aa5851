#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/reorder.hpp"
#include "conc/signals.hpp"
#include "conc/co_sync.hpp"
#include "conc/wait.hpp"
#include "conc/writer.hpp"
#include "coro_test.hpp"

using namespace conc;

// Coroutines here are free functions taking their state by reference
// (g++ 12: no coroutine lambdas in Test bodies, no cr_assert in coroutines).

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = char(rng());
    return s;
}

// Pieces of random sizes in [1, max] that concatenate to data.
std::vector<std::string> cut(const std::string& data, std::size_t max, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> size(1, max);
    std::vector<std::string> out;
    for (std::size_t off = 0; off < data.size();) {
        std::size_t n = std::min(size(rng), data.size() - off);
        out.push_back(data.substr(off, n));
        off += n;
    }
    return out;
}

// Reads a non-blocking fd in small reads of random size until `expect` bytes or end of file.
task<void> drain(int fd, std::string& out, std::size_t expect, std::size_t max_read, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> size(1, max_read);
    std::vector<char> buf(max_read);
    while (out.size() < expect) {
        std::size_t n = co_await read_some_async(fd, buf.data(), size(rng));
        if (n == 0) break;
        out.append(buf.data(), n);
    }
}

task<void> produce(writer& w, const std::vector<std::string>& pieces) {
    for (const auto& p : pieces) co_await w.write(p);
    co_await w.flush();
}

task<void> write_one(writer& w, std::string data) {
    co_await w.write(data);
}

task<void> write_and_flush(writer& w, std::string data) {
    co_await w.write(data);
    co_await w.flush();
}

task<void> produce_and_drain(writer& w, const std::vector<std::string>& pieces, int rfd, std::string& got,
                             std::size_t expect, unsigned seed) {
    co_await gather(produce(w, pieces), drain(rfd, got, expect, 1000, seed));
}

}  // namespace

CORO_TEST(writer, bytes_arrive_whole_and_in_order_through_a_slow_reader) {
    ignore_sigpipe();
    for (unsigned round = 0; round < 20; ++round) {
        loop lp;
        auto p = make_pipe();
        set_nonblocking(p.read.get());
        std::string data = random_bytes(200000 + round * 7919, round);
        auto pieces = cut(data, round % 2 ? 70000 : 3000, round + 100);
        writer w(lp, p.write.get(), "the pipe", 4096 + round * 1000);
        std::string got;
        lp.run(produce_and_drain(w, pieces, p.read.get(), got, data.size(), round));
        CHECK(w.status() == writer::state::open);
        CHECK_EQ(w.error(), 0);
        CHECK_EQ(w.buffered(), 0u);
        CHECK_EQ(got.size(), data.size());
        CHECK(got == data);
    }
}

namespace {
struct pressure {
    std::size_t writes_done = 0;
    std::size_t max_buffered_while_suspended = 0;
    bool producer_done_before_reader = false;
};

task<void> count_writes(writer& w, const std::vector<std::string>& pieces, pressure& pr) {
    for (const auto& p : pieces) {
        co_await w.write(p);
        ++pr.writes_done;
    }
    co_await w.flush();
}

task<void> back_pressure_scenario(writer& w, const std::vector<std::string>& pieces, int rfd, std::string& got,
                                  std::size_t expect, pressure& pr) {
    auto& lp = loop::current();
    auto prod = lp.spawn(count_writes(w, pieces, pr));
    // Nobody reads: give the producer every chance to run.  It can get only
    // as far as the pipe and the buffer take.
    for (int i = 0; i < 200; ++i) {
        co_await lp.yield();
        pr.max_buffered_while_suspended = std::max(pr.max_buffered_while_suspended, w.buffered());
    }
    pr.producer_done_before_reader = prod.done();
    co_await drain(rfd, got, expect, 4096, 7);
    co_await prod;
}
}  // namespace

CORO_TEST(writer, back_pressure_suspends_the_producer_until_a_reader_drains) {
    ignore_sigpipe();
    loop lp;
    auto p = make_pipe();
    set_nonblocking(p.read.get());
    const std::size_t cap = 16 * 1024, piece = 10000;
    std::string data = random_bytes(4 * 1024 * 1024, 3);   // far beyond pipe + capacity
    std::vector<std::string> pieces;
    for (std::size_t off = 0; off < data.size(); off += piece) pieces.push_back(data.substr(off, piece));
    writer w(lp, p.write.get(), "the pipe", cap);
    std::string got;
    pressure pr;
    lp.run(back_pressure_scenario(w, pieces, p.read.get(), got, data.size(), pr));
    CHECK(!pr.producer_done_before_reader);
    CHECK(pr.writes_done == pieces.size());
    CHECK(pr.max_buffered_while_suspended > 0);
    CHECK(pr.max_buffered_while_suspended <= cap + piece);
    CHECK(got == data);
    CHECK_EQ(w.buffered(), 0u);
}

namespace {
task<void> close_reader_then_wait(writer& w, unique_fd& rd, co::event& failed) {
    co_await w.write(random_bytes(300000, 1));   // more than the pipe holds: some is buffered
    rd.reset();                                   // the reader goes away while nobody writes
    co_await failed.wait();
    co_await w.write("dropped");                  // returns at once after the error
    co_await w.flush();
}
}  // namespace

CORO_TEST(writer, a_closed_reader_is_reader_gone_reported_once_even_while_idle) {
    ignore_sigpipe();
    loop lp;
    auto p = make_pipe();
    writer w(lp, p.write.get(), "the pipe", 1 << 20);
    int calls = 0;
    co::event failed;
    w.on_error([&] {
        ++calls;
        failed.set();
    });
    lp.run(close_reader_then_wait(w, p.read, failed));
    CHECK(w.status() == writer::state::reader_gone);
    CHECK_EQ(w.error(), EPIPE);
    CHECK(w.error_message().find("the pipe") != std::string::npos);
    CHECK_EQ(w.error_message(), std::string("write error on the pipe: Broken pipe"));
    CHECK_EQ(calls, 1);
    CHECK_EQ(w.buffered(), 0u);
    lp.run(write_and_flush(w, "more"));
    CHECK_EQ(calls, 1);
}

CORO_TEST(writer, a_reader_closed_before_the_writer_opened_is_reader_gone) {
    ignore_sigpipe();
    loop lp;
    auto p = make_pipe();
    p.read.reset();   // reopening through /proc fails now: the fallback path reports EPIPE
    writer w(lp, p.write.get(), "standard output");
    int calls = 0;
    w.on_error([&] { ++calls; });
    lp.run(write_and_flush(w, "x"));
    lp.run(write_and_flush(w, "y"));
    CHECK(w.status() == writer::state::reader_gone);
    CHECK_EQ(w.error(), EPIPE);
    CHECK_EQ(calls, 1);
}

CORO_TEST(writer, dev_full_is_failed_with_enospc) {
    loop lp;
    unique_fd f = open_file("/dev/full", O_WRONLY);
    writer w(lp, f.get(), "standard output");
    int calls = 0;
    w.on_error([&] { ++calls; });
    lp.run(write_and_flush(w, "hello\n"));
    CHECK(w.status() == writer::state::failed);
    CHECK_EQ(w.error(), ENOSPC);
    CHECK_EQ(w.error_message(), std::string("write error on standard output: No space left on device"));
    lp.run(write_and_flush(w, "again\n"));
    CHECK_EQ(calls, 1);
    int late = 0;
    w.on_error([&] { ++late; });   // registered after the error: runs at once
    CHECK_EQ(late, 1);
}

CORO_TEST(writer, an_fd_opened_read_only_is_failed_with_ebadf) {
    loop lp;
    unique_fd f = open_file("/dev/null", O_RDONLY);
    writer w(lp, f.get(), "standard output");
    lp.run(write_and_flush(w, "hello\n"));
    CHECK(w.status() == writer::state::failed);
    CHECK_EQ(w.error(), EBADF);
    CHECK_EQ(w.error_message(), std::string("write error on standard output: Bad file descriptor"));
}

CORO_TEST(writer, a_regular_file_gets_every_byte_and_keeps_o_append) {
    loop lp;
    char path[] = "/tmp/conc-writer-XXXXXX";
    unique_fd tmp(mkstemp(path));
    CHECK(bool(tmp));
    write_all(tmp.get(), "head\n");
    unique_fd f = open_file(path, O_WRONLY | O_APPEND);
    ::unlink(path);
    std::string data = random_bytes(1000000, 9);
    auto pieces = cut(data, 50000, 4);
    {
        writer w(lp, f.get(), "the file", 1000);
        lp.run(produce(w, pieces));
        CHECK(w.status() == writer::state::open);
        CHECK_EQ(w.buffered(), 0u);
    }
    CHECK(!(fcntl(f.get(), F_GETFL) & O_NONBLOCK));
    CHECK(fcntl(f.get(), F_GETFL) & O_APPEND);
    ::lseek(tmp.get(), 0, SEEK_SET);
    std::string got = read_all(tmp.get());
    CHECK(got == "head\n" + data);
}

CORO_TEST(writer, a_shared_blocking_pipe_stays_blocking) {
    ignore_sigpipe();
    loop lp;
    auto p = make_pipe();
    set_nonblocking(p.read.get());
    unique_fd other(::dup(p.write.get()));   // another process's view of the same pipe
    std::string data = random_bytes(500000, 5);
    std::string got;
    {
        writer w(lp, p.write.get(), "the pipe", 8192);
        CHECK(!(fcntl(p.write.get(), F_GETFL) & O_NONBLOCK));
        lp.run(produce_and_drain(w, cut(data, 30000, 6), p.read.get(), got, data.size(), 8));
        CHECK(!(fcntl(p.write.get(), F_GETFL) & O_NONBLOCK));
        CHECK(!(fcntl(other.get(), F_GETFL) & O_NONBLOCK));
    }
    CHECK(!(fcntl(p.write.get(), F_GETFL) & O_NONBLOCK));
    CHECK(!(fcntl(other.get(), F_GETFL) & O_NONBLOCK));
    CHECK(got == data);
    // The writer's own open of the pipe is closed: end of file once ours are.
    p.write.reset();
    other.reset();
    char c;
    CHECK_EQ(::read(p.read.get(), &c, 1), 0);
}

CORO_TEST(writer, a_socket_gets_every_byte) {
    ignore_sigpipe();
    loop lp;
    int sv[2];
    CHECK_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    unique_fd a(sv[0]), b(sv[1]);
    set_nonblocking(b.get());
    std::string data = random_bytes(1500000, 11);
    std::string got;
    writer w(lp, a.get(), "the socket", 10000);
    lp.run(produce_and_drain(w, cut(data, 40000, 12), b.get(), got, data.size(), 13));
    CHECK(got == data);
    CHECK(!(fcntl(a.get(), F_GETFL) & O_NONBLOCK));
    b.reset();
    lp.run(write_and_flush(w, random_bytes(1 << 20, 1)));
    CHECK(w.status() == writer::state::reader_gone);
}

namespace {
task<void> write_spool_and_drain(writer& w, spool& s, int rfd, std::string& got, std::size_t expect) {
    co_await gather(w.write(s), drain(rfd, got, expect, 3000, 21));
}
}  // namespace

CORO_TEST(writer, a_spilled_spool_is_written_whole_and_in_order) {
    ignore_sigpipe();
    loop lp;
    spill_store store(100);
    spool s(store);
    std::string data;
    for (int i = 0; i < 20000; ++i) {
        std::string line = "line " + std::to_string(i) + " " + random_bytes(i % 50, i) + "\n";
        s.append(line);
        data += line;
    }
    CHECK(store.spilled_bytes() > 0);
    CHECK(!s.in_memory());
    // read_at: any window, across the memory and file parts.
    std::string win(777, '\0');
    CHECK_EQ(s.read_at(50, win.data(), win.size()), 777u);
    CHECK(win == data.substr(50, 777));
    CHECK_EQ(s.read_at(data.size() - 10, win.data(), win.size()), 10u);
    CHECK_EQ(s.read_at(data.size(), win.data(), win.size()), 0u);

    auto p = make_pipe();
    set_nonblocking(p.read.get());
    writer w(lp, p.write.get(), "the pipe", 4096);
    std::string got;
    lp.run(write_spool_and_drain(w, s, p.read.get(), got, data.size()));
    CHECK(got == data);
    CHECK(s.empty());
    CHECK_EQ(store.memory_used(), 0u);
}

CORO_TEST(writer, a_spool_in_memory_is_written_whole_and_cleared) {
    ignore_sigpipe();
    loop lp;
    spill_store store(1 << 20);
    spool s(store);
    std::string data = random_bytes(400000, 41);
    for (auto& piece : cut(data, 5000, 42)) s.append(piece);
    CHECK(bool(s.in_memory()));
    auto p = make_pipe();
    set_nonblocking(p.read.get());
    writer w(lp, p.write.get(), "the pipe", 4096);
    std::string got;
    lp.run(write_spool_and_drain(w, s, p.read.get(), got, data.size()));
    CHECK(got == data);
    CHECK(s.empty());
    CHECK_EQ(store.memory_used(), 0u);
}

namespace {
task<void> cancel_a_suspended_write(writer& w, int rfd, std::string& got, const std::string& first,
                                    const std::string& second, bool& was_cancelled) {
    auto& lp = loop::current();
    auto j = lp.spawn(write_one(w, first));   // far beyond pipe + capacity: suspends
    while (w.buffered() == 0) co_await lp.yield();
    co_await lp.yield();
    j.cancel();
    try {
        co_await j;
    } catch (const cancelled_error&) {
    }
    was_cancelled = j.cancelled();
    co_await gather(write_and_flush(w, second), drain(rfd, got, first.size() + second.size(), 5000, 2));
}
}  // namespace

CORO_TEST(writer, cancelling_a_suspended_write_leaves_the_writer_usable) {
    ignore_sigpipe();
    loop lp;
    auto p = make_pipe();
    set_nonblocking(p.read.get());
    writer w(lp, p.write.get(), "the pipe", 1000);
    std::string first = random_bytes(300000, 31), second = random_bytes(100000, 32);
    std::string got;
    bool was_cancelled = false;
    lp.run(cancel_a_suspended_write(w, p.read.get(), got, first, second, was_cancelled));
    CHECK(was_cancelled);
    CHECK(w.status() == writer::state::open);
    // The cancelled write's bytes had been accepted: they come first, whole.
    CHECK(got == first + second);
}

namespace {
task<void> destroy_while_waiting(loop& lp, std::unique_ptr<writer>& w, bool& resumed) {
    auto j = lp.spawn(write_one(*w, random_bytes(1 << 20, 3)));
    while (w->buffered() == 0) co_await lp.yield();
    w.reset();   // never blocks; the suspended task is resumed
    co_await j;
    resumed = true;
}
}  // namespace

CORO_TEST(writer, destroying_a_writer_never_blocks_and_resumes_its_waiters) {
    ignore_sigpipe();
    loop lp;
    auto p = make_pipe();
    auto w = std::make_unique<writer>(lp, p.write.get(), "the pipe", 1000);
    bool resumed = false;
    lp.run(destroy_while_waiting(lp, w, resumed));
    CHECK(resumed);
    CHECK(!(fcntl(p.write.get(), F_GETFL) & O_NONBLOCK));
}
