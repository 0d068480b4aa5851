// mq_peer FILE [MAXMSG]: the POSIX message queue peer of tests/bench/pqueue.sh.
// Sends each line of FILE as one message (mq_send) from this process to a
// forked child, which receives them (mq_receive) and writes each with its
// newline to stdout: the same end-to-end job as
// `pqueue get --follow q & pqueue put q < FILE`.  The queue holds MAXMSG
// messages (default: as many as the system lets this user have, up to
// 100,000, pqueue's --maxsize in the benchmark); the count used is printed on
// stderr.  A zero-length message ends the stream.
#include <fcntl.h>
#include <mqueue.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr long msgsize = 128;   // the benchmark's lines are short

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "mq_peer: %s: %s\n", what, std::strerror(errno));
    std::exit(125);
}

void write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("write");
        }
        p += w;
        n -= std::size_t(w);
    }
}

void receive(mqd_t q) {
    std::vector<char> out;
    out.reserve(1 << 20);
    char msg[msgsize];
    for (;;) {
        ssize_t n = mq_receive(q, msg, sizeof msg, nullptr);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("mq_receive");
        }
        if (n == 0) break;
        out.insert(out.end(), msg, msg + n);
        out.push_back('\n');
        if (out.size() >= (1 << 20) - msgsize) {
            write_all(STDOUT_FILENO, out.data(), out.size());
            out.clear();
        }
    }
    write_all(STDOUT_FILENO, out.data(), out.size());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: mq_peer FILE [MAXMSG]\n");
        return 2;
    }
    std::FILE* in = std::fopen(argv[1], "r");
    if (!in) fail(argv[1]);
    std::string name = "/conc-bench-mq-" + std::to_string(getpid());
    mq_attr attr{};
    attr.mq_msgsize = msgsize;
    attr.mq_maxmsg = argc > 2 ? std::atol(argv[2]) : 100000;
    mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (q == (mqd_t)-1 && argc <= 2 && (errno == EINVAL || errno == EMFILE)) {
        // Without CAP_SYS_RESOURCE a queue holds at most fs.mqueue.msg_max messages.
        if (std::FILE* f = std::fopen("/proc/sys/fs/mqueue/msg_max", "r")) {
            if (std::fscanf(f, "%ld", &attr.mq_maxmsg) != 1) attr.mq_maxmsg = 10;
            std::fclose(f);
        }
        q = mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    }
    if (q == (mqd_t)-1) fail("mq_open");
    mq_unlink(name.c_str());   // both ends keep their descriptors
    std::fprintf(stderr, "mq_peer: maxmsg %ld\n", attr.mq_maxmsg);

    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        receive(q);
        std::_Exit(0);
    }
    char* line = nullptr;
    std::size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] == '\n') --n;
        if (n == 0 || n > msgsize) {
            std::fprintf(stderr, "mq_peer: a line of %zd bytes: lines must hold 1 to %ld\n", n, msgsize);
            return 2;
        }
        while (mq_send(q, line, std::size_t(n), 0) < 0)
            if (errno != EINTR) fail("mq_send");
    }
    while (mq_send(q, "", 0, 0) < 0)
        if (errno != EINTR) fail("mq_send");
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) fail("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
