#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "conc/fd.hpp"
#include "conc/process.hpp"

using namespace conc;

static std::string capture(spawn_spec spec, exit_status* st = nullptr) {
    auto p = make_pipe();
    spec.out = stdio::to(p.write.get());
    process child = spawn(spec);
    p.write.reset();
    std::string out = read_all(p.read.get());
    exit_status s = child.wait();
    if (st) *st = s;
    return out;
}

Test(process, argv_reaches_the_command_literally) {
    spawn_spec s;
    s.argv = {"printf", "%s|", "a b", "$(touch x)", "*", "", "'\"`"};
    cr_assert_eq(capture(s), std::string("a b|$(touch x)|*||'\"`|"));
}

Test(process, exit_codes_and_signals_are_reported) {
    cr_assert_eq(run({"sh", "-c", "exit 3"}).code(), 3);
    exit_status k = run({"sh", "-c", "kill -9 $$"});
    cr_assert(k.signaled());
    cr_assert_eq(k.signal(), 9);
    cr_assert_eq(k.shell_code(), 137);
    cr_assert_eq(k.describe(), std::string("killed by signal 9"));
    cr_assert_eq(exit_status::exited_with(3).describe(), std::string("exit 3"));
    cr_assert_eq(exit_status::killed_by(15).describe(), std::string("killed by signal 15"));
    cr_assert(run({"true"}).success());
    exit_status unknown;   // before a child is reaped: no status, and not a success
    cr_assert(!unknown.known() && !unknown.success() && !unknown.exited() && !unknown.signaled());
    // what libconc(3) says of a default-constructed status, value by value
    cr_assert_eq(unknown.code(), -1);
    cr_assert_eq(unknown.shell_code(), -1);
    cr_assert_eq(unknown.signal(), 0);
    cr_assert_eq(unknown.raw(), 0);
    cr_assert_eq(unknown.describe(), std::string("not finished"));
}

Test(process, not_found_is_127_and_not_executable_is_126) {
    spawn_spec s;
    s.argv = {"conc-no-such-command-xyz"};
    try {
        spawn(s);
        cr_assert_fail("spawned a missing command");
    } catch (const spawn_error& e) {
        cr_assert_eq(e.exit_code(), 127);
        cr_assert_eq(e.err(), ENOENT);
        cr_assert(std::string(e.what()).find("conc-no-such-command-xyz") != std::string::npos);
    }
    char path[] = "/tmp/conc-noexec-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    chmod(path, 0644);
    s.argv = {path};
    try {
        spawn(s);
        cr_assert_fail("spawned a non-executable file");
    } catch (const spawn_error& e) {
        cr_assert_eq(e.exit_code(), 126);
    }
    unlink(path);
}

Test(process, stdin_devnull_env_and_cwd) {
    spawn_spec s;
    s.argv = {"sh", "-c", "cat; echo \"$CONC_A:$CONC_B:$(pwd)\""};
    s.in = stdio::devnull();
    s.env = {"CONC_A=1", "CONC_B=two words"};
    s.cwd = "/tmp";
    setenv("CONC_A", "old", 1);
    cr_assert_eq(capture(s), std::string("1:two words:/tmp\n"));
    unsetenv("CONC_A");
}

Test(process, own_process_group_and_group_kill) {
    spawn_spec s;
    s.argv = {"sh", "-c", "sleep 1000 & sleep 1000; wait"};
    s.new_process_group = true;
    process p = spawn(s);
    cr_assert_eq(p.pgid(), p.pid());
    cr_assert_eq(getpgid(p.pid()), p.pid());
    p.kill(SIGTERM);
    exit_status st = p.wait();
    cr_assert(st.signaled());
    cr_assert_eq(st.signal(), SIGTERM);
    // The background sleep was in the group too: nothing is left in it.
    for (int i = 0; i < 3000 && ::kill(-p.pid(), 0) == 0; ++i) usleep(10000);   // generous: a loaded machine
    cr_assert_eq(::kill(-p.pid(), 0), -1);
    p.kill(SIGKILL);   // after reaping: a no-op, never hits a recycled pid
}

Test(process, child_starts_with_default_signal_dispositions) {
    signal(SIGPIPE, SIG_IGN);
    spawn_spec s;
    s.argv = {"sh", "-c", "yes | head -c 10 >/dev/null; echo ${PIPESTATUS:-ok}"};
    // `yes` must die of SIGPIPE (default) instead of looping on EPIPE.
    exit_status st;
    capture(s, &st);
    cr_assert(st.success());
    signal(SIGPIPE, SIG_DFL);
}

Test(process, dropped_child_is_reaped_not_left_a_zombie) {
    pid_t pid;
    {
        spawn_spec s;
        s.argv = {"sh", "-c", "exit 0"};
        process p = spawn(s);
        pid = p.pid();
    }
    for (int i = 0; i < 500; ++i) {
        reap_orphans();
        if (waitpid(pid, nullptr, WNOHANG) < 0 && errno == ECHILD) break;
        usleep(10000);
    }
    cr_assert_eq(waitpid(pid, nullptr, WNOHANG), -1);
    cr_assert_eq(errno, ECHILD);
}

Test(process, try_reap_and_reap_report_the_status_once) {
    for (int round = 0; round < 50; ++round) {
        int gate[2];
        cr_assert_eq(pipe(gate), 0);
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            ::close(gate[1]);
            (void)!::read(gate[0], &c, 1);   // ends once the parent closes the gate
            _exit(round % 7);
        }
        ::close(gate[0]);
        cr_assert(!try_reap(pid).has_value(), "a running child is not reaped");
        ::close(gate[1]);
        exit_status s = round % 2 ? reap(pid) : [&] {
            std::optional<exit_status> r;
            while (!(r = try_reap(pid))) ::usleep(1000);
            return *r;
        }();
        cr_assert(s.exited());
        cr_assert_eq(s.code(), round % 7);
        cr_assert_throw(try_reap(pid), sys_error);   // reaped already: ECHILD
        cr_assert_throw(reap(pid), sys_error);
    }
}
