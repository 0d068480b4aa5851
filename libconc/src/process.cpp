#include "conc/process.hpp"

#include "conc/fd.hpp"

#include "after_fork.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <mutex>
#include <utility>

extern char** environ;

namespace conc {

bool exit_status::exited() const noexcept { return known_ && WIFEXITED(raw_); }
bool exit_status::signaled() const noexcept { return known_ && WIFSIGNALED(raw_); }
int exit_status::code() const noexcept { return exited() ? WEXITSTATUS(raw_) : -1; }
int exit_status::signal() const noexcept { return signaled() ? WTERMSIG(raw_) : 0; }

std::string exit_status::describe() const {
    if (!known_) return "not finished";
    if (signaled()) return "killed by signal " + std::to_string(signal());
    return "exit " + std::to_string(code());
}

namespace {

std::mutex orphans_mu;
std::vector<pid_t> orphans;

void adopt_orphan(pid_t pid) {
    std::lock_guard g(orphans_mu);
    orphans.push_back(pid);
}

// Signals whose disposition the tools change; a child starts with the default,
// unless the signal was already ignored when this program started.
const int reset_signals[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};

// Read before main() runs, before any tool changes a disposition.
sigset_t read_ignored_at_start() noexcept {
    sigset_t set;
    sigemptyset(&set);
    for (int s : reset_signals) {
        struct sigaction sa {};
        if (::sigaction(s, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN) sigaddset(&set, s);
    }
    return set;
}
const sigset_t ignored_set = read_ignored_at_start();

sigset_t signals_to_reset() noexcept {
    sigset_t def;
    sigemptyset(&def);
    for (int s : reset_signals)
        if (!sigismember(&ignored_set, s)) sigaddset(&def, s);
    return def;
}

bool cannot_run(int err) noexcept {
    return err == ENOENT || err == EACCES || err == ENOEXEC || err == EISDIR || err == ENOTDIR || err == EPERM ||
           err == ELOOP || err == ENAMETOOLONG || err == E2BIG || err == ETXTBSY;
}

struct spawn_attrs {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    spawn_attrs() {
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_init(&actions);
    }
    ~spawn_attrs() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

void map_stdio(posix_spawn_file_actions_t* a, const stdio& s, int target) {
    int rc = 0;
    if (s.kind == stdio::null)
        rc = posix_spawn_file_actions_addopen(a, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
    else if (s.kind == stdio::fd && s.number != target)   // the same fd: inherited as it is
        rc = posix_spawn_file_actions_adddup2(a, s.number, target);
    if (rc) throw sys_error(rc, "posix_spawn_file_actions");
}

}  // namespace

process::process(process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), pgid_(o.pgid_), reaped_(o.reaped_), status_(o.status_) {}

process& process::operator=(process&& o) noexcept {
    if (this != &o) {
        this->~process();
        pid_ = std::exchange(o.pid_, -1);
        pgid_ = o.pgid_;
        reaped_ = o.reaped_;
        status_ = o.status_;
    }
    return *this;
}

process::~process() {
    if (pid_ > 0 && !reaped_) {
        exit_status s;
        if (!try_wait(s)) adopt_orphan(pid_);
    }
}

std::optional<exit_status> try_reap(pid_t pid) {
    int st;
    pid_t r;
    do r = ::waitpid(pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r < 0) throw sys_error("waitpid");
    if (r == 0) return std::nullopt;
    return exit_status::from_wait(st);
}

exit_status reap(pid_t pid) {
    int st;
    pid_t r;
    do r = ::waitpid(pid, &st, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) throw sys_error("waitpid");
    return exit_status::from_wait(st);
}

exit_status process::wait() {
    if (!reaped_) set_reaped(reap(pid_));
    return status_;
}

bool process::try_wait(exit_status& out) {
    if (!reaped_) {
        auto s = try_reap(pid_);
        if (!s) return false;
        set_reaped(*s);
    }
    out = status_;
    return true;
}

void process::kill(int sig) const noexcept {
    if (pid_ <= 0 || reaped_) return;
    if (pgid_ > 0) kill_group(pgid_, sig);
    else ::kill(pid_, sig);
}

void kill_group(pid_t pgid, int sig) noexcept {
    if (pgid > 0) ::kill(-pgid, sig);
}

void reap_orphans() noexcept {
    std::lock_guard g(orphans_mu);
    for (std::size_t i = 0; i < orphans.size();) {
        try {
            if (!try_reap(orphans[i])) { ++i; continue; }
        } catch (...) {   // ECHILD: not ours any more (and nothing may leave a noexcept function)
        }
        orphans[i] = orphans.back();   // reaped, or not ours any more
        orphans.pop_back();
    }
}

namespace {

// argv and envp as exec wants them, built before the fork.
struct exec_args {
    std::vector<char*> argv;
    std::vector<char*> env;
    char** envp = environ;
    explicit exec_args(const spawn_spec& spec) {
        argv.reserve(spec.argv.size() + 1);
        for (auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        if (spec.env.empty()) return;
        for (char** e = environ; *e; ++e) {
            std::string_view entry(*e);
            std::string_view name = entry.substr(0, entry.find('='));
            bool overridden = false;
            for (auto& x : spec.env)
                if (x.size() > name.size() && x[name.size()] == '=' && x.compare(0, name.size(), name) == 0) {
                    overridden = true;
                    break;
                }
            if (!overridden) env.push_back(*e);
        }
        for (auto& x : spec.env) env.push_back(const_cast<char*>(x.c_str()));
        env.push_back(nullptr);
        envp = env.data();
    }
};

pid_t posix_spawn_path(const spawn_spec& spec, exec_args& a) {
    spawn_attrs sa;
    map_stdio(&sa.actions, spec.in, 0);
    map_stdio(&sa.actions, spec.out, 1);
    map_stdio(&sa.actions, spec.err, 2);
    if (!spec.cwd.empty()) {
        int rc = posix_spawn_file_actions_addchdir_np(&sa.actions, spec.cwd.c_str());
        if (rc) throw sys_error(rc, "posix_spawn_file_actions_addchdir");
    }
    sigset_t def = signals_to_reset(), empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&sa.attr, &def);
    posix_spawnattr_setsigmask(&sa.attr, &empty);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (spec.new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&sa.attr, 0);
    }
    posix_spawnattr_setflags(&sa.attr, flags);
    pid_t pid;
    int rc = posix_spawnp(&pid, a.argv[0], &sa.actions, &sa.attr, a.argv.data(), a.envp);
    if (rc) {
        if (cannot_run(rc)) throw spawn_error(rc, spec.argv[0]);
        throw sys_error(rc, "posix_spawn '" + spec.argv[0] + "'");
    }
    return pid;
}

#ifdef __linux__
// The child side of vfork_path: only async-signal-safe calls, no allocation.
// Why errors go back through a close-on-exec pipe rather than the shared
// memory of vfork: where vfork is a plain fork (under ThreadSanitizer, say)
// only the pipe still works.  End of file on it means exec succeeded.
[[noreturn]] void child_failed(int report, int e) {
    (void)!::write(report, &e, sizeof e);
    ::_exit(127);
}

[[noreturn]] void exec_child(const spawn_spec& spec, exec_args& a, pid_t parent, int report) {
    auto fail = [report](int e) { child_failed(report, e); };
    detail::reset_caught_signals();
    sigset_t def = signals_to_reset();
    for (int s : reset_signals)
        if (sigismember(&def, s)) ::signal(s, SIG_DFL);
    if (spec.new_process_group && ::setpgid(0, 0) < 0) fail(errno);
    if (int e = detail::set_parent_death_signal(spec.parent_death_signal, parent)) {
        if (e == ESRCH) ::_exit(127);   // the parent died before prctl: nothing left to do
        fail(e);
    }
    const stdio* io[3] = {&spec.in, &spec.out, &spec.err};
    for (int target = 0; target < 3; ++target) {
        const stdio& s = *io[target];
        if (s.kind == stdio::null) {
            int fd = ::open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
            if (fd < 0) fail(errno);
            if (fd != target) {
                if (::dup2(fd, target) < 0) fail(errno);
                ::close(fd);
            }
        } else if (s.kind == stdio::fd && s.number != target) {
            if (::dup2(s.number, target) < 0) fail(errno);
        }
    }
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) < 0) fail(errno);
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    ::execvpe(a.argv[0], a.argv.data(), a.envp);
    child_failed(report, errno);
}

pid_t vfork_path(const spawn_spec& spec, exec_args& a) {
    pipe_pair report = make_pipe();
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);   // no handler may run in the child
    pid_t parent = ::getpid();
    pid_t pid = ::vfork();
    if (pid == 0) exec_child(spec, a, parent, report.write.get());
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) throw sys_error(fork_errno, "vfork '" + spec.argv[0] + "'");
    report.write.reset();
    int err = 0;
    if (read_full(report.read.get(), &err, sizeof err) == sizeof err) {
        reap(pid);
        if (cannot_run(err)) throw spawn_error(err, spec.argv[0]);
        throw sys_error(err, "spawn '" + spec.argv[0] + "'");
    }
    return pid;
}
#endif

}  // namespace

namespace detail {

// Handlers installed by the parent must not run in the child (they would
// write into the parent's self-pipe): every caught signal goes back to its default.
void reset_caught_signals() noexcept {
    for (int s = 1; s < NSIG; ++s) {
        struct sigaction sa;
        if (::sigaction(s, nullptr, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
            sa.sa_handler = SIG_DFL;
            ::sigaction(s, &sa, nullptr);
        }
    }
}

int set_parent_death_signal(int sig, pid_t parent) noexcept {
#ifdef __linux__
    if (::prctl(PR_SET_PDEATHSIG, sig) < 0) return errno;
    if (sig && ::getppid() != parent) return ESRCH;
#else
    (void)sig;
    (void)parent;
#endif
    return 0;
}

}  // namespace detail

bool ignored_at_start(int sig) noexcept { return sigismember(&ignored_set, sig) == 1; }

process spawn(const spawn_spec& spec) {
    if (spec.argv.empty()) throw sys_error(EINVAL, "spawn: empty command");
    exec_args a(spec);
#ifdef __linux__
    pid_t pid = spec.parent_death_signal ? vfork_path(spec, a) : posix_spawn_path(spec, a);
#else
    pid_t pid = posix_spawn_path(spec, a);
#endif
    return process(pid, spec.new_process_group ? pid : 0);
}

exit_status run(const std::vector<std::string>& argv) {
    spawn_spec s;
    s.argv = argv;
    return spawn(s).wait();
}

unsigned online_cpus() noexcept {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? unsigned(n) : 1u;
}

}  // namespace conc
