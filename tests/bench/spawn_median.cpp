// spawn_median N CMD1 [ARG...] [-- CMD2 [ARG...]]...: runs the commands in
// turn, N rounds of CMD1, CMD2, ... (each with posix_spawn and waitpid,
// stdout to /dev/null), and prints one line per command: the median and the
// 10th and 90th percentiles of its wall time in microseconds, then the
// command.  Round-robin, so that a noisy machine weighs on every command
// alike: only the ratios between the lines of one run mean anything.
// Used by tests/bench/pqueue.sh for the cost of one `pqueue put q x` against
// starting /bin/true.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

double now_us() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) * 1e6 + double(t.tv_nsec) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
    long rounds = argc > 2 ? std::strtol(argv[1], nullptr, 10) : 0;
    if (rounds < 1) {
        std::fprintf(stderr, "usage: spawn_median N CMD [ARG...] [-- CMD [ARG...]]...\n");
        return 2;
    }
    std::vector<std::vector<char*>> cmds(1);
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) cmds.emplace_back();
        else cmds.back().push_back(argv[i]);
    }
    for (auto& c : cmds) {
        if (c.empty()) {
            std::fprintf(stderr, "spawn_median: an empty command\n");
            return 2;
        }
        c.push_back(nullptr);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    std::vector<std::vector<double>> times(cmds.size());
    for (long r = 0; r < rounds; ++r) {
        for (std::size_t k = 0; k < cmds.size(); ++k) {
            double t0 = now_us();
            pid_t pid;
            if (int rc = posix_spawnp(&pid, cmds[k][0], &fa, nullptr, cmds[k].data(), environ); rc != 0) {
                std::fprintf(stderr, "spawn_median: cannot run '%s': %s\n", cmds[k][0], std::strerror(rc));
                return 127;
            }
            int status;
            while (waitpid(pid, &status, 0) < 0) {}
            times[k].push_back(now_us() - t0);
        }
    }
    for (std::size_t k = 0; k < cmds.size(); ++k) {
        auto& t = times[k];
        std::sort(t.begin(), t.end());
        std::string line;
        for (char** a = cmds[k].data(); *a; ++a) line += std::string(a == cmds[k].data() ? "" : " ") + *a;
        std::printf("%.0f %.0f %.0f %s\n", t[t.size() / 2], t[t.size() / 10], t[t.size() * 9 / 10], line.c_str());
    }
}
