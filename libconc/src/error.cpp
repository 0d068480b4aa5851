#include "conc/error.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace conc {

namespace {

void print_callback_error(std::exception_ptr e) {
    std::string line = "libconc: exception in done callback: ";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        line += x.what();
    } catch (...) {
        line += "unknown exception";
    }
    line += '\n';
    // In one write(2) where it can: lines from several threads do not mix.
    for (std::size_t off = 0; off < line.size();) {
        ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += std::size_t(n);
    }
}

std::atomic<callback_error_handler> callback_error_to{print_callback_error};

}  // namespace

callback_error_handler set_callback_error_handler(callback_error_handler h) noexcept {
    return callback_error_to.exchange(h ? h : print_callback_error);
}

namespace detail {

void report_callback_error(std::exception_ptr e) noexcept {
    try {
        callback_error_to.load()(std::move(e));
    } catch (...) {  // documented: the handler's own exception is dropped
    }
}

}  // namespace detail

}  // namespace conc
