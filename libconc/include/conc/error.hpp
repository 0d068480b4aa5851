// conc/error.hpp: the one exception type for failed system calls.
#pragma once
#include <cerrno>
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

}  // namespace conc
