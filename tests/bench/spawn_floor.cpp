// spawn_floor J N CMD [ARG...]: runs CMD N times, at most J at once, with a
// bare posix_spawn + waitpid loop.  The floor pmap's per-job cost is measured
// against in tests/bench/pmap.sh: no input, no output capture, no bookkeeping.
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
    char** cmd = argv + 3;
    long started = 0, running = 0, failed = 0;
    while (started < total || running > 0) {
        while (running < jobs && started < total) {
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
