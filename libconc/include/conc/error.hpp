// conc/error.hpp: the one exception type for failed system calls.
#pragma once
#include <cerrno>
#include <exception>
#include <string>
#include <system_error>

namespace conc {

// A system call failed and the caller cannot go on.  what() reads
// "open 'x.txt': No such file or directory": what was being done, then the reason.
class sys_error : public std::system_error {
public:
    sys_error(int err, const std::string& doing)
        : std::system_error(err, std::generic_category(), doing) {}
    explicit sys_error(const std::string& doing) : sys_error(errno, doing) {}
    int err() const noexcept { return code().value(); }
};

// Throws sys_error(errno, doing) when rc is -1; returns rc otherwise.
template <class T>
inline T check(T rc, const char* doing) {
    if (rc == T(-1)) throw sys_error(errno, doing);
    return rc;
}

// What becomes of an exception thrown by a callback: a done-callback
// (future::add_done_callback) or a loop callback (loop::call_soon,
// call_later, call_at) or a thread timer's function.  Like Python, which
// logs it and carries on, it goes to this handler on the thread that ran the
// callback; a future's result is unaffected and the other callbacks still
// run.  The default handler writes one line on stderr, "libconc: exception
// in done callback: WHAT" (WHAT is what(), or "unknown exception").  Returns
// the previous handler; nullptr restores the default.  An exception out of
// the handler itself is dropped.
using callback_error_handler = void (*)(std::exception_ptr);
callback_error_handler set_callback_error_handler(callback_error_handler h) noexcept;

namespace detail {
// Hands the exception of a callback to the callback error handler.
void report_callback_error(std::exception_ptr e) noexcept;
}  // namespace detail

}  // namespace conc
