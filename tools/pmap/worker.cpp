#include "worker.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "conc/child.hpp"
#include "conc/co_sync.hpp"
#include "conc/connection.hpp"
#include "conc/signals.hpp"
#include "conc/task_group.hpp"
#include "job.hpp"
#include "messages.hpp"
#include "remote_wire.hpp"
#include "results.hpp"
#include "supervisor.hpp"

namespace pmap {

namespace {

using namespace std::chrono_literals;

int remove_entry(const char* path, const struct stat*, int, FTW*) { return ::remove(path); }

// rm -rf: a file, or a directory with everything in it.  Returns 0 or an errno.
int remove_tree(const std::string& path) {
    if (::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT) return 0;
    return errno;
}

class worker {
public:
    explicit worker(conc::loop& lp)
        : lp_(lp), sup_(lp, 1s), group_(1u << 20),
          in_(conc::unique_fd(::fcntl(0, F_DUPFD_CLOEXEC, 3)), true, false),
          out_(conc::unique_fd(::fcntl(1, F_DUPFD_CLOEXEC, 3)), false, true) {
        // The jobs' stdin and stdout are not the connection.
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) ::dup2(null, 0), ::dup2(null, 1), ::close(null);
    }

    conc::task<int> run() {
        try {
            conc::write_all(out_.fd(), wire::greeting(conc::online_cpus()));
        } catch (const conc::sys_error&) {
            co_return 1;   // pmap is already gone
        }
        for (;;) {
            wire::message m;
            try {
                m = co_await in_.async_recv<wire::message>();
            } catch (const conc::eof_error&) {
                break;
            }
            if (m.kind == wire::kind::start) {
                std::function<conc::task<void>(unsigned)> job = [this, m = std::move(m)](unsigned) mutable {
                    return run_job(std::move(m));
                };
                co_await group_.start(std::move(job));
            } else if (m.kind == wire::kind::signal) {
                if (auto it = running_.find(m.id); it != running_.end()) sup_.stop(*it->second);
            } else {
                co_await send(file_request(m));
            }
        }
        sup_.stop_all(SIGTERM);   // pmap is gone: so are its jobs
        co_await group_.join();
        co_await sup_.wait_stopped();
        co_return 0;
    }

private:
    // One message at a time on the connection: frames never interleave.
    conc::task<void> send(wire::message m) {
        if (lost_) co_return;
        co_await send_lock_.acquire();
        try {
            co_await out_.async_send(m);
        } catch (const conc::sys_error&) {
            lost_ = true;   // pmap's end is gone: end of file on stdin follows
        }
        send_lock_.release();
    }

    conc::task<void> run_job(wire::message m) {
        std::uint64_t id = m.id;
        conc::child_spec spec{.argv = std::move(m.argv)};
        spec.in = conc::child_io::devnull();
        spec.out = conc::child_io::pipe();
        spec.err = conc::child_io::pipe();
        spec.env = std::move(m.env);
        spec.cwd = m.data;
        if (!spec.cwd.empty()) make_workdir(spec.cwd);
        auto started = conc::try_spawn(lp_, std::move(spec));
        // Not found (127) or not executable (126), said as pmap says it here.
        if (auto* failed = std::get_if<conc::spawn_error>(&started)) {
            wire::message said{wire::kind::output, id, 2, cli::program_name() + ": " + cli::describe(*failed) + "\n", {}, {}};
            co_await send(std::move(said));
            wire::message end{wire::kind::exit, id, conc::exit_status::exited_with(failed->exit_code()).raw(), {}, {}, {}};
            co_await send(std::move(end));
            co_return;
        }
        conc::child& c = std::get<conc::child>(started);
        cli::supervisor::adoption adopted(sup_, c);
        running_[id] = &c;
        auto err = lp_.spawn(forward(id, 2, c.err().get()));
        co_await forward(id, 1, c.out().get());
        co_await err;
        conc::exit_status st = co_await c.exited();
        running_.erase(id);
        wire::message end{wire::kind::exit, id, st.raw(), {}, {}, {}};
        co_await send(std::move(end));
    }

    conc::task<void> forward(std::uint64_t id, int stream, int fd) {
        std::string buf(64 * 1024, '\0');
        for (;;) {
            co_await lp_.readable(fd);
            long n = conc::read_some(fd, buf.data(), buf.size());
            if (n <= 0) break;
            wire::message out{wire::kind::output, id, stream, buf.substr(0, std::size_t(n)), {}, {}};
            co_await send(std::move(out));
        }
    }

    // put, get, remove: done at once (files of the size one sends a job).
    static wire::message file_request(const wire::message& m) {
        wire::message r{wire::kind::reply, m.id, 0, {}, {}, {}};
        try {
            if (m.kind == wire::kind::put && !m.argv.empty()) {
                const std::string& path = m.argv[0];
                if (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0) make_directories(path.substr(0, slash));
                conc::unique_fd fd = conc::open_file(path, O_WRONLY | O_CREAT | O_TRUNC, int(m.value & 07777));
                conc::write_all(fd.get(), m.data);
                ::fchmod(fd.get(), mode_t(m.value & 07777));
            } else if (m.kind == wire::kind::get && !m.argv.empty()) {
                r.data = conc::read_all(conc::open_file(m.argv[0], O_RDONLY).get());
            } else if (m.kind == wire::kind::remove) {
                for (const auto& p : m.argv)
                    if (int e = remove_tree(p)) r.value = e, r.data = "remove '" + p + "': " + std::strerror(e);
            } else {
                r.value = EINVAL;
                r.data = "unknown request";
            }
        } catch (const conc::sys_error& e) {
            r.value = e.err();
            r.data = e.what();
        }
        return r;
    }

    conc::loop& lp_;
    cli::supervisor sup_;
    conc::task_group group_;
    conc::connection in_, out_;
    conc::co::semaphore send_lock_{1};
    std::unordered_map<std::uint64_t, conc::child*> running_;
    bool lost_ = false;
};

}  // namespace

int run_worker() {
    conc::ignore_sigpipe();
    conc::loop lp;
    worker w(lp);
    return lp.run(w.run());
}

}  // namespace pmap
