// spawn_floor J N CMD [ARG...]: runs "CMD ARG... I" for I = 1..N, at most J at
// once, with a bare posix_spawn + waitpid loop.  The floor pmap's per-job cost
// is measured against in tests/bench/pmap.sh: no input, no output capture, no
// bookkeeping.  The job number is appended like the item pmap and xargs -n1
// append, so every tool runs the same command lines (GNU true, for one, does
// more work when it gets an argument: it loads the locale).
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: spawn_floor J N CMD [ARG...]\n");
        return 2;
    }
    long jobs = std::strtol(argv[1], nullptr, 10);
    long total = std::strtol(argv[2], nullptr, 10);
    if (jobs < 1 || total < 0) {
        std::fprintf(stderr, "spawn_floor: bad J or N\n");
        return 2;
    }
    int ncmd = argc - 3;
    char** cmd = new char*[ncmd + 2];
    for (int i = 0; i < ncmd; ++i) cmd[i] = argv[3 + i];
    char item[32];
    cmd[ncmd] = item;
    cmd[ncmd + 1] = nullptr;
    long started = 0, running = 0, failed = 0;
    while (started < total || running > 0) {
        while (running < jobs && started < total) {
            std::snprintf(item, sizeof item, "%ld", started + 1);
            pid_t pid;
            int rc = posix_spawnp(&pid, cmd[0], nullptr, nullptr, cmd, environ);
            if (rc != 0) {
                std::fprintf(stderr, "spawn_floor: cannot run '%s': %s\n", cmd[0], std::strerror(rc));
                return 127;
            }
            ++started;
            ++running;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            std::perror("spawn_floor: waitpid");
            return 125;
        }
        --running;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
    return failed ? 123 : 0;
}
