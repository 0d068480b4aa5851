// libconc/src/create_or_open.hpp: what open_mode means, once for every kind of
// named object (posix_shm, mapped_file, sysv_shm, sysv_semaphore_set), and
// how an ipc_key reads in a message.  Internal to shm.cpp and sync.cpp.
#pragma once
#include <cerrno>
#include <cstdio>
#include <string>

#include "conc/error.hpp"
#include "conc/sync.hpp"

namespace conc::detail {

// Creates the object exclusively, or opens the one that exists, as `how`
// says; with create_or_open, goes round when the object is removed between
// the two tries.  create() and open() return true when they succeeded and
// leave errno set when not.  Returns whether the object was created; throws
// sys_error(errno, doing).
template <class Create, class Open>
bool create_or_open(open_mode how, const std::string& doing, Create create, Open open) {
    for (;;) {
        if (how != open_mode::open_existing) {
            if (create()) return true;
            if (errno != EEXIST || how == open_mode::create_exclusive) throw sys_error(errno, doing);
        }
        if (open()) return false;
        if (errno != ENOENT || how == open_mode::open_existing) throw sys_error(errno, doing);
    }
}

// "IPC_PRIVATE" or the key in hex, as ipcs(1) shows it.
inline std::string ipc_key_text(ipc_key key) {
    if (key.is_private()) return "IPC_PRIVATE";
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%08x", unsigned(key.value));
    return buf;
}

}  // namespace conc::detail
