#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "conc/fd.hpp"

using namespace conc;

Test(fd, unique_fd_closes_on_destruction) {
    int raw;
    {
        auto p = make_pipe();
        raw = p.read.get();
        cr_assert(fcntl(raw, F_GETFD) & FD_CLOEXEC);
    }
    cr_assert_eq(fcntl(raw, F_GETFD), -1);
    cr_assert_eq(errno, EBADF);
}

Test(fd, move_transfers_ownership) {
    auto p = make_pipe();
    int raw = p.write.get();
    unique_fd moved = std::move(p.write);
    cr_assert_eq(p.write.get(), -1);
    cr_assert_eq(moved.get(), raw);
    cr_assert(!p.write);
}

Test(fd, write_all_and_read_all_round_trip_large_data) {
    auto p = make_pipe();
    std::string data(1 << 20, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = char(i * 7);
    pid_t pid = fork();
    if (pid == 0) {
        p.read.reset();
        write_all(p.write.get(), data);
        _exit(0);
    }
    p.write.reset();
    std::string got = read_all(p.read.get());
    cr_assert_eq(got.size(), data.size());
    cr_assert(got == data);

    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
}

Test(fd, write_all_on_nonblocking_fd_waits_instead_of_failing) {
    auto p = make_pipe(O_NONBLOCK);
    std::string data(1 << 20, 'x');
    pid_t pid = fork();
    if (pid == 0) {
        p.write.reset();
        set_nonblocking(p.read.get(), false);
        std::string got = read_all(p.read.get());
        _exit(got == data ? 0 : 1);
    }
    p.read.reset();
    write_all(p.write.get(), data);
    p.write.reset();
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Test(fd, read_some_reports_would_block) {
    auto p = make_pipe(O_NONBLOCK);
    char c;
    cr_assert_eq(read_some(p.read.get(), &c, 1), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert(is_nonblocking(p.read.get()));
    set_nonblocking(p.read.get(), false);
    cr_assert(!is_nonblocking(p.read.get()));
}

Test(fd, open_file_error_names_the_path) {
    try {
        open_file("/nonexistent/x.txt", O_RDONLY);
        cr_assert_fail("no exception");
    } catch (const sys_error& e) {
        cr_assert_eq(e.err(), ENOENT);
        cr_assert(std::string(e.what()).find("'/nonexistent/x.txt'") != std::string::npos);
    }
}

Test(fd, self_pipe_wakes_poll_and_drains_without_blocking) {
    auto p = make_self_pipe();
    cr_assert(is_nonblocking(p.read.get()) && is_nonblocking(p.write.get()));
    drain_self_pipe(p.read.get());   // empty: returns at once
    for (int i = 0; i < 200000; ++i) notify_self_pipe(p.write.get());   // overfills: never blocks
    errno = 1234;
    notify_self_pipe(p.write.get(), 7);
    cr_assert_eq(errno, 1234, "errno is kept (signal handlers rely on it)");
    drain_self_pipe(p.read.get());
    char c;
    cr_assert_eq(read_some(p.read.get(), &c, 1), -1);   // drained: nothing left
    notify_self_pipe(p.write.get(), 9);
    cr_assert_eq(read_some(p.read.get(), &c, 1), 1);
    cr_assert_eq(c, 9);
}
