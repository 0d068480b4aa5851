// conc/forked_process.hpp: a function run in a child process, Python's
// multiprocessing.Process.
//
// Why this name: conc::process (process.hpp) is a command, started with exec
// in a fresh program, as subprocess.Popen.  A forked_process runs a function
// of this program in a child made by fork(2) and never execs: Python's
// Process with the "fork" start method.  The child has a copy of the
// parent's memory, so the function and its arguments need no encoding; what
// comes back goes through a conc::connection (conc/connection.hpp), shared
// memory (conc/shm.hpp) or the exit code.
//
//     conc::forked_process p([](int n) { std::printf("%d\n", n * n); }, 7);
//     p.name("square").start();
//     p.join();
//     int code = *p.exitcode();   // 0
//
// The function (any callable) and its arguments are stored decayed, as
// std::thread stores them, and called as rvalues in the child (std::ref for a
// reference).  At start() the parent destroys its copies: a connection end
// moved into the arguments is then closed in the parent, which is what Python
// programs do by hand (child_conn.close()) so that end of file can be seen.
//
// In the child: caught signals are back to their default (the parent's
// handlers would write into the parent's loop), no loop is current (the
// function may run a loop of its own), the signal mask is the parent's.  When
// the function returns, stdio is flushed and the child leaves with _exit(0):
// the parent's static destructors and atexit handlers do not run in it, nor
// are the function's arguments destroyed.  An exception that escapes prints
// "libconc: process NAME: what()" on stderr and the exit code is 1, where
// Python prints a traceback.  conc::system_exit{n} thrown anywhere in the
// child leaves with code n (Python's sys.exit(n)).
//
// The child inherits every descriptor of the parent, except the connection
// ends (conc/connection.hpp) that are not part of the function or its
// arguments: those are closed in the child, so that end of file on a
// connection works both ways without closing anything by hand.  In a
// program with threads, only the calling thread exists in the child: like
// Python's "fork" start method, the function should not need locks that
// other threads may hold.
//
// Not thread-safe: one thread uses a forked_process at a time.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/process.hpp"
#include "conc/task.hpp"

namespace conc {

// Thrown in the child, from anywhere in the function, to end it with this exit
// code: Python's sys.exit(n).  Not a std::exception, so that a
// catch (const std::exception&) in the function lets it through (Python's
// SystemExit is not an Exception either).
struct system_exit {
    int code = 0;
};

namespace detail {
struct forked_body {
    virtual ~forked_body() = default;
    virtual void run() = 0;
    virtual std::size_t size() const noexcept = 0;   // of the whole object: what the child keeps
};
template <class F, class... Args>
struct forked_call final : forked_body {
    std::tuple<F, Args...> call;
    template <class G, class... A>
    explicit forked_call(G&& g, A&&... a) : call(std::forward<G>(g), std::forward<A>(a)...) {}
    void run() override {
        std::apply([](auto&&... x) { std::invoke(std::forward<decltype(x)>(x)...); }, std::move(call));
    }
    std::size_t size() const noexcept override { return sizeof(*this); }
};
}  // namespace detail

class forked_process {
public:
    // fn(args...) is what the child will run.  Nothing starts until start().
    template <class F, class... Args>
        requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    explicit forked_process(F&& fn, Args&&... args)
        : body_(std::make_unique<detail::forked_call<std::decay_t<F>, std::decay_t<Args>...>>(
              std::forward<F>(fn), std::forward<Args>(args)...)),
          name_(default_name()) {}
    forked_process(forked_process&&) noexcept = default;
    forked_process& operator=(forked_process&& o) noexcept;
    forked_process(const forked_process&) = delete;
    forked_process& operator=(const forked_process&) = delete;
    // A child still running: a daemon is killed (SIGKILL) and reaped; any
    // other is joined, as Python joins its non-daemon children at exit
    // (terminate() or kill() it first not to wait).
    ~forked_process();

    // Python's Process.name: "Process-N" unless set; the NAME of the message
    // for an exception that escapes the function.  Set it before start() for
    // the child to see it.
    const std::string& name() const noexcept { return name_; }
    forked_process& name(std::string n) {
        name_ = std::move(n);
        return *this;
    }
    // Python's Process.daemon, set before start(): a daemon child is killed
    // (SIGKILL) when the thread that started it ends, the whole parent
    // included, even by SIGKILL (Linux parent-death signal, as
    // child_spec::parent_death_signal); and when its forked_process is
    // destroyed.  Throws std::logic_error once started.
    bool daemon() const noexcept { return daemon_; }
    forked_process& daemon(bool on);

    // Forks the child, which runs the function.  Throws sys_error (fork
    // failed) or std::logic_error (started already).
    void start();

    // Waits for the child to end (and reaps it).  Throws std::logic_error
    // before start().
    void join();
    // Waits at most timeout; true if the child has ended.
    template <class Rep, class Period>
    bool join(std::chrono::duration<Rep, Period> timeout) {
        return join_until(clock::now() + std::chrono::ceil<clock::duration>(timeout));
    }
    bool join_until(clock::time_point deadline);
    // join() on the loop running on this thread: suspends the task, not the
    // thread, and returns exitcode().  The forked_process must outlive the task.
    task<int> async_join();

    // Started and not yet ended.  Reaps the child if it has ended.
    bool is_alive();
    // Python's exitcode: the exit code, -N when signal N killed the child,
    // none before start() and while it runs.  Reaps the child if it has ended.
    std::optional<int> exitcode();
    // The child's pid; -1 before start().
    pid_t pid() const noexcept { return proc_.pid(); }

    // SIGTERM (Python's terminate) and SIGKILL (kill) to the child.  Nothing
    // is sent once it has been reaped, so a recycled pid is never hit.
    // Throw std::logic_error before start().
    void terminate();
    void kill();

private:
    static std::string default_name();
    void require_started(const char* what) const;
    void finish() noexcept;   // what the destructor does
    std::unique_ptr<detail::forked_body> body_;
    std::string name_;
    bool daemon_ = false;
    process proc_;
    unique_fd pidfd_;   // readable once the child has ended (Linux pidfd), for join with a timeout
};

}  // namespace conc
