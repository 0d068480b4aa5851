#include "remote_host.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "command_line.hpp"
#include "messages.hpp"
#include "results.hpp"

namespace pmap {

namespace {

using namespace std::chrono_literals;

// The master's session: the worker where conc's pmap is installed (procps
// has a pmap too); else the CPU count, then a wait for end of file that
// keeps the session (and so the master) up while pmap runs.
constexpr const char* probe_script =
    "case $(pmap --version 2>/dev/null) in 'pmap (conc)'*) exec pmap --worker;; esac; "
    "echo pmap-noworker $(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); "
    "exec cat >/dev/null";
constexpr std::string_view noworker_word = "pmap-noworker ";

// A job over its own ssh: fd 3 keeps the session's stdin; when it ends (the
// ssh went away: Ctrl-C, a lost connection, or the job is over) the job's
// process group gets TERM, then KILL a second later.
constexpr const char* job_wrapper =
    "exec 3<&0 </dev/null; "
    "{ trap '' TERM; cat <&3 >/dev/null 2>&1; kill -TERM 0 2>/dev/null; sleep 1; kill -KILL 0 2>/dev/null; } "
    ">/dev/null 2>&1 & exec 3<&-; ";

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? std::string() : path.substr(0, slash);
}

}  // namespace

std::string remote_word(std::string_view word) {
    std::string s = "'";
    for (char c : word) {
        if (c == '\'') s += "'\\''";
        else s += c;
    }
    return s + "'";
}

std::string remote_words(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) s += (s.empty() ? "" : " ") + remote_word(a);
    return s;
}

remote_host::remote_host(conc::loop& lp, std::vector<std::string> ssh, std::string control_path, sshlogin login,
                         cli::output& out, cli::supervisor& sup, bool raw)
    : lp_(lp), ssh_(std::move(ssh)), control_path_(std::move(control_path)), login_(std::move(login)), out_(out),
      sup_(sup), raw_(raw) {}

remote_host::~remote_host() {
    reader_.cancel();
    errors_.cancel();
}

std::vector<std::string> remote_host::ssh_argv(const std::string& remote_script, bool master) const {
    std::vector<std::string> argv = ssh_;
    for (const char* o : {master ? "ControlMaster=yes" : "ControlMaster=no", master ? "ControlPersist=no" : nullptr}) {
        if (!o) continue;
        argv.push_back("-o");
        argv.push_back(o);
    }
    argv.push_back("-o");
    argv.push_back("ControlPath=" + control_path_);
    if (!login_.port.empty()) argv.insert(argv.end(), {"-p", login_.port});
    if (!login_.user.empty()) argv.insert(argv.end(), {"-l", login_.user});
    argv.push_back(login_.host);
    argv.push_back(remote_script);
    return argv;
}

conc::task<std::string> remote_host::connect() {
    last_error_.clear();
    lost_.clear();
    conc::child_spec spec{.argv = ssh_argv(probe_script, true)};
    spec.in = conc::child_io::pipe();
    spec.out = conc::child_io::pipe();
    spec.err = conc::child_io::pipe();
    try {
        master_.emplace(lp_, std::move(spec));
    } catch (const conc::sys_error& e) {
        co_return cli::describe(e);
    }
    master_in_ = std::move(master_->in());
    errors_ = lp_.spawn(read_ssh_errors(std::move(master_->err())));
    // The first line the session writes that pmap knows (a login script may write others first).
    int fd = master_->out().get();
    std::optional<unsigned> worker_cpus;
    bool greeted = false;
    for (std::string line; !greeted && line.size() < 4096;) {
        co_await lp_.readable(fd);
        char c;
        if (conc::read_some(fd, &c, 1) <= 0) break;
        if (c != '\n') {
            line += c;
            continue;
        }
        if (auto n = wire::read_greeting(line)) {
            greeted = true;
            worker_cpus = *n;
            cpus_ = *n ? *n : 1;
        } else if (line.starts_with(noworker_word)) {
            greeted = true;
            cpus_ = unsigned(std::max(1L, std::atol(line.c_str() + noworker_word.size())));
        }
        line.clear();
    }
    if (!greeted) {
        lost_.set();
        master_in_.reset();
        conc::exit_status st = co_await master_->exited();
        co_await errors_;
        master_.reset();
        co_return last_error_.empty() ? "ssh ended (" + st.describe() + ") before the host answered" : last_error_;
    }
    if (worker_cpus && *worker_cpus) {   // frames from now on
        to_worker_ = conc::connection(std::move(master_in_), false, true);
        from_worker_ = conc::connection(std::move(master_->out()), true, false);
    }
    up_ = true;
    reader_ = lp_.spawn(read_worker());
    co_return std::string();
}

// The worker's messages, to the jobs waiting for them; or, without a
// worker, the master's end.  Either way the end of it is the end of the host.
conc::task<void> remote_host::read_worker() {
    try {
        if (!from_worker_.readable()) {
            co_await master_->exited();
        } else {
            for (;;) {
                wire::message m = co_await from_worker_.async_recv<wire::message>();
                auto it = pending_.find(m.id);
                if (it == pending_.end()) continue;
                pending* p = it->second;
                if (m.kind == wire::kind::output && p->oj) {
                    int stream = m.value == 2 ? 2 : 1;
                    if (raw_) co_await out_.print(stream, std::move(m.data));   // -u: as it comes
                    else co_await out_.add(*p->oj, stream, std::move(m.data));
                } else if (m.kind == wire::kind::exit || m.kind == wire::kind::reply) {
                    p->status = conc::exit_status::from_wait(int(m.value));
                    p->reply = std::move(m);
                    pending_.erase(it);
                    p->done.set();
                }
            }
        }
    } catch (const conc::cancelled_error&) {
        throw;
    } catch (const std::exception&) {   // end of file, a broken frame: the host is lost either way
    }
    lose();
}

// ssh's own messages (and the worker's): said once the host is up, kept for
// the reason of a failed connection before.
conc::task<void> remote_host::read_ssh_errors(conc::unique_fd fd) {
    std::string partial;
    char buf[4096];
    for (;;) {
        co_await lp_.readable(fd.get());
        long n = conc::read_some(fd.get(), buf, sizeof buf);
        if (n <= 0) break;
        partial.append(buf, std::size_t(n));
        for (std::size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
            std::string line = partial.substr(0, nl);
            partial.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) continue;
            last_error_ = line;
            if (up_) co_await out_.print(2, cli::program_name() + ": " + login_.name + ": " + line + "\n");
        }
    }
    if (!partial.empty()) last_error_ = partial;
}

void remote_host::stop_jobs() noexcept {
    to_worker_.close();
    master_in_.reset();
}

void remote_host::lose() {
    lost_.set();
    if (!master_) return;
    up_ = false;
    auto waiting = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : waiting) {
        p->lost = true;
        p->done.set();
    }
    to_worker_.close();
    master_in_.reset();
    if (!master_->has_exited()) master_->signal(SIGTERM);
}

conc::task<void> remote_host::send(wire::message m) {
    co_await send_lock_.acquire();
    try {
        co_await to_worker_.async_send(m);
    } catch (const conc::cancelled_error&) {
        send_lock_.release();
        throw;
    } catch (const std::exception&) {
        lose();
    }
    send_lock_.release();
}

conc::task<std::optional<wire::message>> remote_host::request(wire::message m) {
    if (!up_) co_return std::nullopt;
    pending p;
    ticket t(*this, p);
    m.id = t.id;
    co_await send(std::move(m));
    co_await p.done.wait();
    if (p.lost) co_return std::nullopt;
    co_return std::move(p.reply);
}

conc::task<std::optional<conc::exit_status>> remote_host::run(const remote_command& cmd, cli::output::job& oj,
                                                              std::optional<std::chrono::nanoseconds> timeout,
                                                              bool& timed_out) {
    if (!up_) co_return std::nullopt;
    if (!has_worker()) co_return co_await run_over_ssh(cmd, oj, timeout, timed_out);
    pending p;
    p.oj = &oj;
    ticket t(*this, p);
    std::uint64_t id = t.id;
    wire::message start{wire::kind::start, id, 0, cmd.cwd, cmd.argv, cmd.env};
    co_await send(std::move(start));
    conc::job<void> dog;
    if (timeout) {
        auto watch = [](remote_host* h, std::uint64_t id, std::chrono::nanoseconds d, bool* fired) -> conc::task<void> {
            co_await conc::loop::current().sleep_for(d);
            *fired = true;
            wire::message stop{wire::kind::signal, id, SIGTERM, {}, {}, {}};
            if (h->up_) co_await h->send(std::move(stop));
        };
        dog = lp_.spawn(watch(this, id, *timeout, &timed_out));
    }
    co_await p.done.wait();
    dog.cancel();
    if (p.lost) co_return std::nullopt;
    co_return p.status;
}

conc::task<std::optional<conc::exit_status>> remote_host::run_over_ssh(const remote_command& cmd, cli::output::job& oj,
                                                                       std::optional<std::chrono::nanoseconds> timeout,
                                                                       bool& timed_out) {
    std::string script = job_wrapper;
    if (!cmd.cwd.empty()) {
        std::string dir = remote_word(cmd.cwd);
        script += "mkdir -p -- " + dir + " && cd -- " + dir + " && ";
    }
    script += cmd.env.empty() ? "exec " : "exec env " + remote_words(cmd.env) + " ";
    script += remote_words(cmd.argv);
    conc::child_spec spec{.argv = ssh_argv(script)};
    spec.in = conc::child_io::pipe();   // held open while the job runs: the wrapper's signal
    spec.out = raw_ ? conc::child_io::inherited() : conc::child_io::pipe();
    spec.err = raw_ ? conc::child_io::inherited() : conc::child_io::pipe();
    std::optional<conc::child> c;
    std::string problem;
    try {
        c.emplace(lp_, std::move(spec));
    } catch (const conc::sys_error& e) {
        problem = cli::describe(e);
    }
    if (!c) {   // no ssh here: a lost host, for what it can do
        co_await out_.print(2, cli::program_name() + ": " + problem + "\n");
        co_return std::nullopt;
    }
    cli::supervisor::adoption adopted(sup_, *c);
    if (timeout) adopted.stop_after(*timeout, timed_out);
    if (!raw_) co_await out_.drain(oj, *c);
    conc::exit_status st = co_await c->exited();
    // 255 is ssh's own failure (or the job's exit code): when the master
    // ends too, within a moment, the host was lost.
    for (int i = 0; st.exited() && st.code() == 255 && i < 20; ++i) {
        if (!up_ || !master_ || master_->has_exited()) {
            lose();
            co_return std::nullopt;
        }
        co_await lp_.sleep_for(100ms);
    }
    co_return st;
}

// A command on the host for files: its stderr's last line says why it failed.
conc::task<void> remote_host::ssh_command(std::string script, conc::child_io in, conc::child_io out, std::string what) {
    conc::child_spec spec{.argv = ssh_argv(script)};
    spec.in = in;
    spec.out = out;
    spec.err = conc::child_io::pipe();
    conc::child c(lp_, std::move(spec));
    cli::supervisor::adoption adopted(sup_, c);
    std::string err;
    char buf[4096];
    for (int fd = c.err().get();;) {
        co_await lp_.readable(fd);
        long n = conc::read_some(fd, buf, sizeof buf);
        if (n <= 0) break;
        err.append(buf, std::size_t(n));
    }
    conc::exit_status st = co_await c.exited();
    if (st.success()) co_return;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    if (auto nl = err.rfind('\n'); nl != std::string::npos) err.erase(0, nl + 1);
    throw transfer_error(what + ": " + (err.empty() ? st.describe() : err));
}

conc::task<void> remote_host::put(std::string local, std::string remote) {
    std::string what = "send '" + local + "' to " + login_.name + ":" + remote;
    conc::unique_fd fd;
    struct stat st;
    try {
        fd = conc::open_file(local, O_RDONLY);
        if (::fstat(fd.get(), &st) != 0) throw conc::sys_error("stat '" + local + "'");
    } catch (const conc::sys_error& e) {
        throw transfer_error(what + ": " + cli::describe(e));
    }
    int mode = int(st.st_mode & 07777);
    if (has_worker()) {
        wire::message m{wire::kind::put, 0, mode, conc::read_all(fd.get()), {remote}, {}};
        auto r = co_await request(std::move(m));
        if (!r) throw transfer_error(what + ": the connection was lost");
        if (r->value) throw transfer_error(what + ": " + r->data);
        co_return;
    }
    std::string q = remote_word(remote), dir = parent_of(remote);
    std::string script = (dir.empty() ? "" : "mkdir -p -- " + remote_word(dir) + " && ") + "cat > " + q +
                         " && chmod " + std::to_string(mode >> 6 & 7) + std::to_string(mode >> 3 & 7) +
                         std::to_string(mode & 7) + " " + q;
    co_await ssh_command(script, conc::child_io::to(fd.get()), conc::child_io::devnull(), what);
}

conc::task<void> remote_host::get(std::string remote, std::string local) {
    std::string what = "fetch " + login_.name + ":" + remote + " to '" + local + "'";
    conc::unique_fd fd;
    try {
        if (std::string dir = parent_of(local); !dir.empty()) make_directories(dir);
        fd = conc::open_file(local, O_WRONLY | O_CREAT | O_TRUNC);
    } catch (const conc::sys_error& e) {
        throw transfer_error(what + ": " + cli::describe(e));
    }
    if (has_worker()) {
        wire::message m{wire::kind::get, 0, 0, {}, {remote}, {}};
        auto r = co_await request(std::move(m));
        if (!r) throw transfer_error(what + ": the connection was lost");
        if (r->value) throw transfer_error(what + ": " + r->data);
        try {
            conc::write_all(fd.get(), r->data);
        } catch (const conc::sys_error& e) {
            throw transfer_error(what + ": " + cli::describe(e));
        }
        co_return;
    }
    co_await ssh_command("cat -- " + remote_word(remote), conc::child_io::devnull(), conc::child_io::to(fd.get()), what);
}

conc::task<void> remote_host::remove(std::vector<std::string> paths) {
    if (paths.empty()) co_return;
    std::string what = "remove files on " + login_.name;
    if (has_worker()) {
        wire::message m{wire::kind::remove, 0, 0, {}, paths, {}};
        auto r = co_await request(std::move(m));
        if (r && r->value) throw transfer_error(what + ": " + r->data);
        co_return;
    }
    co_await ssh_command("rm -rf -- " + remote_words(paths), conc::child_io::devnull(), conc::child_io::devnull(), what);
}

conc::task<void> remote_host::close(std::chrono::nanoseconds grace) {
    if (!master_) co_return;
    up_ = false;
    to_worker_.close();   // end of file: the worker stops its jobs and leaves
    master_in_.reset();
    if (!master_->has_exited()) {
        auto killer = [](conc::child* c, std::chrono::nanoseconds d) -> conc::task<void> {
            co_await conc::loop::current().sleep_for(d);
            c->signal(SIGKILL);
        };
        conc::job<void> k = lp_.spawn(killer(&*master_, grace + 2s));
        co_await master_->exited();
        k.cancel();
    }
    if (reader_.valid()) co_await reader_;
    if (errors_.valid()) co_await errors_;
    master_.reset();
}

}  // namespace pmap
