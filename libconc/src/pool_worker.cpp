// fork_pool's worker process: reads request frames, runs their items, writes
// one reply frame a request (the format is in conc/detail/pool_wire.hpp).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fork_pool_parts.hpp"

namespace conc::detail {

namespace {

// Runs the items of one request payload; the reply frame goes into res
// (grown by doubling, written raw: per-item appends cost more than fn here).
// Returns the frame's size.
std::size_t run_request(const fork_pool::function& fn, const char* p, std::string& res, std::string& scratch) {
    auto count = wire_load<std::uint32_t>(p);
    auto call = reinterpret_cast<worker_call>(std::uintptr_t(wire_load<std::uint64_t>(p + 4)));
    auto fn_size = wire_load<std::uint32_t>(p + 12);
    const char* fn_bytes = p + 16;
    p += 16 + fn_size;
    std::size_t used = wire_length_size;
    auto emit = [&](bool ok, std::string_view r) {
        std::size_t need = used + wire_result_header + r.size();
        if (need > res.size()) res.resize(std::max(need, 2 * res.size()));
        wire_put_result(res.data() + used, ok, r);
        used = need;
    };
    if (res.size() < 4096) res.resize(4096);
    for (std::uint32_t i = 0; i < count; ++i) {
        auto n = wire_load<std::uint32_t>(p);
        p += wire_item_header;
        std::string_view item(p, n);
        p += n;
        try {
            if (call) {
                call(fn_bytes, item, scratch);
                emit(true, scratch);
            } else {
                emit(true, fn(item));
            }
        } catch (const std::exception& e) {
            emit(false, e.what());
        } catch (...) {
            emit(false, "unknown exception");
        }
    }
    wire_store(res.data(), std::uint64_t(used - wire_length_size));
    return used;
}

// A worker whose fn calls exit(), itself or in a library, must leave as _exit
// does for everything it inherited: exit() runs the exit handlers and static
// destructors of the parent's program, on copies of objects that other threads
// of the parent were using at the fork.  The wait slots' condition variables
// are one: pthread_cond_destroy waits for waiters that exist only in the
// parent, for ever.  A static fork_pool of the program's would be another.
//
// Exit handlers run in the reverse order of their registration, and static
// destructors are exit handlers too (__cxa_atexit), so a handler registered in
// the child right after fork runs before every one the parent registered.  It
// does what the worker wants of exit(), flush stdio, and ends the process with
// exit's status through _exit; the parent then reports "worker exited with
// status N".  Statics the worker itself constructs later are destroyed first,
// as exit() would.  on_exit(3) hands the handler exit's status; where it is
// missing (not glibc), atexit's handler cannot know it and the worker ends
// with status 1.
#ifdef __GLIBC__
void end_worker_at_exit(int status, void*) {
    std::fflush(nullptr);
    ::_exit(status);
}
void intercept_exit() noexcept { ::on_exit(end_worker_at_exit, nullptr); }
#else
void end_worker_at_exit() {
    std::fflush(nullptr);
    ::_exit(1);
}
void intercept_exit() noexcept { std::atexit(end_worker_at_exit); }
#endif

}  // namespace

[[noreturn]] void run_pool_worker(const fork_pool::function& fn, int in, int out) {
    intercept_exit();
    try {
        // Requests are read in blocks (several frames a read when the parent
        // is ahead); a frame longer than the buffer grows it.
        std::vector<char> buf(1 << 18);
        std::size_t begin = 0, end = 0;
        std::string res, scratch;
        for (;;) {
            std::size_t need = wire_length_size;
            if (end - begin >= wire_length_size) {
                auto len = wire_load<std::uint64_t>(buf.data() + begin);
                if (end - begin - wire_length_size >= len) {
                    std::size_t size = run_request(fn, buf.data() + begin + wire_length_size, res, scratch);
                    write_all(out, res.data(), size);
                    begin += wire_length_size + len;
                    if (begin == end) begin = end = 0;
                    continue;
                }
                need += len;
            }
            if (buf.size() - begin < need) {  // make room for the whole frame
                std::memmove(buf.data(), buf.data() + begin, end - begin);
                end -= begin;
                begin = 0;
                if (buf.size() < need) buf.resize(std::max(need, 2 * buf.size()));
            }
            long n = read_some(in, buf.data() + end, buf.size() - end);
            if (n <= 0) break;  // end of file: the pool hung up
            end += std::size_t(n);
        }
    } catch (...) {
        std::fflush(nullptr);
        ::_exit(70);
    }
    std::fflush(nullptr);
    ::_exit(0);
}

}  // namespace conc::detail
