// Helpers shared by the tests of what crosses processes (shm, sync,
// shm_queue, codec, connection): finding what a test left in /dev/shm,
// running a function in a child process and killing it, timing a wait, and
// the sample types that travel through codecs.
#pragma once
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "conc/codec.hpp"
#include "conc/fd.hpp"
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

// Kills the child with SIGKILL and reaps it: it dies holding whatever it held.
inline void kill_child(pid_t pid) {
    cr_assert_eq(kill(pid, SIGKILL), 0, "kill %d: %s", int(pid), std::strerror(errno));
    cr_assert_eq(wait_exit(pid), 128 + SIGKILL);
}

// One byte through a pipe: "I am there now" (tell), and waiting for it (heard).
inline void tell(const conc::pipe_pair& p) { conc::write_all(p.write.get(), "!", 1); }
inline bool heard(const conc::pipe_pair& p) {
    char c;
    return conc::read_full(p.read.get(), &c, 1) == 1;
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Values for codec round trips: an enum, a trivially copyable struct (travels
// as its bytes) and a user's type with a codec of its own (below).
enum class colour : std::uint8_t { red, green, blue };

struct sample {
    int id;
    double weight;
    colour c;
    bool operator==(const sample&) const = default;
};

struct person {
    std::string name;
    std::vector<int> scores;
    bool operator==(const person&) const = default;
};

}  // namespace ipc

template <>
struct conc::codec<ipc::person> {
    static void encode(const ipc::person& p, std::string& out) {
        conc::encode(p.name, out);
        conc::encode(p.scores, out);
    }
    static ipc::person decode(std::string_view& in) {
        return ipc::person{codec<std::string>::decode(in), codec<std::vector<int>>::decode(in)};
    }
};
