// Helpers shared by the shm and sync tests: finding what a test left in
// /dev/shm, and running a function in a child process.
#pragma once
#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "conc/process.hpp"

namespace ipc {

// Names in /dev/shm holding prefix (every name a test makes starts with one).
inline std::vector<std::string> leftovers(const std::string& prefix) {
    std::vector<std::string> found;
    if (DIR* d = opendir("/dev/shm")) {
        while (dirent* e = readdir(d))
            if (std::strstr(e->d_name, prefix.c_str())) found.emplace_back(e->d_name);
        closedir(d);
    }
    return found;
}

inline void assert_no_leftovers(const std::string& prefix) {
    auto found = leftovers(prefix);
    cr_assert(found.empty(), "left in /dev/shm: %s", found.empty() ? "" : found[0].c_str());
}

// Cleans up after a failed test so that nothing stays in /dev/shm.
inline void remove_leftovers(const std::string& prefix) {
    for (auto& n : leftovers(prefix)) std::remove(("/dev/shm/" + n).c_str());
}

// Runs f() in a child process; its return value is the child's exit status.
template <class F>
pid_t spawn_child(F f) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", std::strerror(errno));
    if (pid == 0) {
        int rc = 100;
        try {
            rc = f();
        } catch (...) {
        }
        _exit(rc);
    }
    return pid;
}

// The child's exit code, or 128 + the signal that killed it.
inline int wait_exit(pid_t pid) {
    try {
        return conc::reap(pid).shell_code();
    } catch (const conc::sys_error&) {
        return -1;
    }
}

}  // namespace ipc
