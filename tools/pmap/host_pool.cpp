#include "host_pool.hpp"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "conc/error.hpp"
#include "messages.hpp"
#include "options.hpp"
#include "remote_env.hpp"
#include "results.hpp"

namespace pmap {

namespace {

using namespace std::chrono_literals;

constexpr unsigned max_failures = 5;   // connections in a row before a host is given up
constexpr unsigned max_losses = 3;     // times a job may lose its host
constexpr auto grace = 1s;

std::string base_name(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A private directory for the masters' sockets (ssh's ControlPath).
std::string make_control_dir() {
    std::string dir = conc::temp_dir() + "/pmap-ssh-XXXXXX";
    if (!::mkdtemp(dir.data())) throw conc::sys_error("create a directory in '" + dir.substr(0, dir.rfind('/')) + "'");
    return dir;
}

// A file's name on the host: relative ones are under the job's directory there.
std::string remote_path(const std::string& cwd, const std::string& path) {
    if (path.starts_with('/') || cwd.empty()) return path;
    return cwd + "/" + path;
}

std::string local_hostname() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || !*name) return "localhost";
    return name;
}

}  // namespace

struct host_pool::host {
    sshlogin login;
    std::unique_ptr<remote_host> remote;   // null: this machine
    unsigned slots = 0, busy = 0;
    std::uint64_t started = 0;             // jobs given to it: ties go to the one given fewer
    enum class state { connecting, up, down, gone } st = state::connecting;
    bool removed = false;                  // no longer in --slf
    bool answered = false;                 // connected or failed once
    bool basefiles_sent = false;
    conc::co::semaphore basefile_lock{1};
    std::string tmpdir;                    // --workdir ...
    conc::job<void> keeper;
    bool usable() const noexcept { return st == state::up && !removed && busy < slots; }
};

host_pool::host_pool(conc::loop& lp, const config& cfg, cli::output& out, cli::supervisor& sup, job_runner& local)
    : lp_(lp), cfg_(cfg), out_(out), sup_(sup), local_(local), control_dir_(make_control_dir()),
      file_(cfg.remote.login_file), env_(variables_to_send(cfg.remote.env)) {
    for (const auto& t : cfg.remote.transfer) transfers_.emplace_back(t, cfg.tmpl);
    for (const auto& t : cfg.remote.returns) returns_.emplace_back(t, cfg.tmpl);
    for (const auto& l : cfg.remote.logins) add(l);
    if (file_.active())
        if (auto logins = file_.changed())
            for (const auto& l : *logins) add(l);
}

host_pool::~host_pool() {
    for (auto& h : hosts_) h->keeper.cancel();
    ::rmdir(control_dir_.c_str());
}

void host_pool::add(const sshlogin& l) {
    for (auto& h : hosts_)
        if (h->login.name == l.name) {
            h->removed = false;
            return;
        }
    auto h = std::make_unique<host>();
    h->login = l;
    if (l.local()) {
        h->st = host::state::up;
        h->answered = true;
        h->slots = l.slots ? l.slots : cfg_.jobs;
    } else {
        std::string index = std::to_string(hosts_.size());
        h->remote = std::make_unique<remote_host>(lp_, l.ssh.empty() ? cfg_.remote.ssh : l.ssh, control_dir_ + "/" + index, l, out_, sup_,
                                                cfg_.output == output_mode::ungroup);
        h->tmpdir = ".parallel/tmp/pmap-" + local_hostname() + "-" + std::to_string(::getpid()) + "-" + index;
        h->keeper = lp_.spawn(keep(*h));
    }
    hosts_.push_back(std::move(h));
    changed();
}

conc::task<void> host_pool::start() {
    while (!std::all_of(hosts_.begin(), hosts_.end(), [](const auto& h) { return h->answered; })) {
        changed_.clear();
        co_await changed_.wait();
    }
}

std::size_t host_pool::slots() const noexcept {
    std::size_t n = 0;
    for (const auto& h : hosts_)
        if (h->st == host::state::up && !h->removed) n += h->slots;
    return std::max<std::size_t>(n, 1);
}

void host_pool::changed() {
    changed_.set();
    if (on_slots_) on_slots_(slots());
}

void host_pool::say(std::string msg) {
    messages_.push_back(lp_.spawn(out_.print(2, cli::program_name() + ": " + msg + "\n")));
}

// One host's connection, for the whole run: connect, and again when lost.
conc::task<void> host_pool::keep(host& h) {
    unsigned failures = 0;
    bool ever_up = false;
    for (;;) {
        h.st = host::state::connecting;
        std::string why = co_await h.remote->connect();
        h.answered = true;
        if (why.empty()) {
            failures = 0;
            ever_up = true;
            h.st = host::state::up;
            h.slots = h.login.slots ? h.login.slots : cfg_.jobs_given ? cfg_.jobs : h.remote->cpus();
            changed();
            co_await h.remote->lost();
            if (stopping_) co_return;
            h.st = host::state::down;
            changed();
            say(h.login.name + ": the connection was lost; its jobs run again elsewhere");
            co_await h.remote->close(grace);
            co_await lp_.sleep_for(1s);
            continue;
        }
        ++failures;
        if (cfg_.remote.filter_hosts && !ever_up) {
            h.st = host::state::gone;
            say(h.login.name + ": cannot connect: " + why + "; dropped");
            changed();
            co_return;
        }
        if (failures == 1) say(h.login.name + ": cannot connect: " + why + "; trying again");
        if (failures >= max_failures) {
            h.st = host::state::gone;
            say(h.login.name + ": cannot connect: " + why + "; given up after " + std::to_string(failures) + " tries");
            changed();
            co_return;
        }
        h.st = host::state::down;
        changed();
        co_await lp_.sleep_for(std::min<std::chrono::seconds>(30s, std::chrono::seconds(1u << (failures - 1))));
    }
}

// The host for a job: up, with a free slot, the most free slots, and not
// avoid (the host of its failed attempt) when another will do.  nullptr:
// no host is left, or pmap is stopping.
conc::task<host_pool::host*> host_pool::acquire(const host* avoid) {
    for (;;) {
        host* best = nullptr;
        bool alive = false;
        auto better = [avoid](const host& a, const host& b) {
            if ((&a != avoid) != (&b != avoid)) return &a != avoid;
            if (a.slots - a.busy != b.slots - b.busy) return a.slots - a.busy > b.slots - b.busy;
            return a.started < b.started;
        };
        for (auto& hp : hosts_) {
            host& h = *hp;
            if (h.st != host::state::gone && !h.removed) alive = true;
            if (h.usable() && (!best || better(h, *best))) best = &h;
        }
        if (stopping_) co_return nullptr;
        if (best) {
            ++best->busy;
            ++best->started;
            co_return best;
        }
        if (!alive) co_return nullptr;
        changed_.clear();
        co_await changed_.wait();
    }
}

conc::task<outcome> host_pool::attempt(const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot,
                                       cli::output::job& oj, const std::string& cwd,
                                       std::span<const std::string_view> items) {
    reload();
    const host* avoid = nullptr;
    for (unsigned losses = 0;;) {
        host* h = co_await acquire(avoid);
        outcome oc;
        oc.ran = true;
        if (!h) {
            oc.stopped = stopping_ || sup_.stopping();
            if (!oc.stopped) co_await out_.print(2, cli::program_name() + ": job " + std::to_string(seq) + ": no host is left to run it\n");
            oc.status = conc::exit_status::exited_with(255);
            co_return oc;
        }
        struct slot_back {
            host_pool* pool;
            host* h;
            ~slot_back() {
                --h->busy;
                pool->changed();
            }
        } back{this, h};
        if (!h->remote) {
            std::string here = cfg_.workdir == "..." ? std::string() : cwd;   // named: g++ 12 and temporaries in co_await
            oc = co_await local_.attempt(argv, seq, slot, oj, here);
            oc.host = ":";
            co_return oc;
        }
        remote_command cmd = command_for(*h, argv, seq, slot, cwd);
        std::vector<std::string> sent, fetched;
        std::optional<conc::exit_status> st;
        std::string problem;
        bool timed_out = false;
        try {
            co_await send_basefiles(*h);
            for (const auto& t : transfers_) {
                std::string file = t.expand(items, seq, slot), there = remote_path(cmd.cwd, file);
                co_await h->remote->put(file, there);
                sent.push_back(there);
            }
            st = co_await h->remote->run(cmd, oj, cfg_.timeout, timed_out);
            for (std::size_t i = 0; st && i < returns_.size(); ++i) {
                std::string file = returns_[i].expand(items, seq, slot), there = remote_path(cmd.cwd, file);
                fetched.push_back(there);
                co_await h->remote->get(there, file);
            }
        } catch (const transfer_error& e) {
            problem = e.what();
        } catch (const conc::sys_error& e) {
            problem = cli::describe(e);
        }
        if (cfg_.remote.cleanup && h->remote->up()) {
            sent.insert(sent.end(), fetched.begin(), fetched.end());
            try {
                co_await h->remote->remove(std::move(sent));
            } catch (const transfer_error& e) {
                if (problem.empty()) problem = e.what();
            }
        }
        if (!st && (problem.empty() || !h->remote->up())) {   // lost with its host
            oj.discard();
            if (stopping_ || sup_.stopping()) {
                oc.stopped = true;
                oc.status = conc::exit_status::killed_by(SIGTERM);
                co_return oc;
            }
            if (++losses < max_losses) {
                avoid = h;
                continue;
            }
            co_await out_.print(2, cli::program_name() + ": job " + std::to_string(seq) + ": its host was lost " +
                                       std::to_string(losses) + " times; given up\n");
            oc.status = conc::exit_status::exited_with(255);
            co_return oc;
        }
        oc.host = h->login.name;
        if (!problem.empty()) {   // files that did not arrive: the job failed, whatever it exited with
            co_await out_.print(2, cli::program_name() + ": job " + std::to_string(seq) + ": " + problem + "\n");
            if (!st || st->success()) st = conc::exit_status::exited_with(255);
        }
        oc.status = *st;
        oc.timed_out = timed_out;
        oc.stopped = !oc.status.success() && (stopping_ || sup_.stopping());
        co_return oc;
    }
}

conc::task<void> host_pool::send_basefiles(host& h) {
    if (h.basefiles_sent || cfg_.remote.basefiles.empty()) co_return;
    co_await h.basefile_lock.acquire();
    struct unlock {
        conc::co::semaphore& s;
        ~unlock() { s.release(); }
    } u{h.basefile_lock};
    if (h.basefiles_sent) co_return;
    std::string cwd = cfg_.workdir == "..." ? h.tmpdir : cfg_.workdir;
    for (const auto& f : cfg_.remote.basefiles) co_await h.remote->put(f, remote_path(cwd, f));
    h.basefiles_sent = true;
}

remote_command host_pool::command_for(const host& h, const std::vector<std::string>& argv, std::uint64_t seq,
                                      unsigned slot, const std::string& cwd) const {
    remote_command c;
    c.argv = argv;
    // The shell by its name: its path here may not be its path there.
    if (!c.argv.empty() && c.argv[0] == cfg_.shell) c.argv[0] = base_name(cfg_.shell);
    c.env = job_variables(cfg_, seq, slot);
    c.env.push_back("PARALLEL_SSHLOGIN=" + h.login.name);
    c.env.insert(c.env.end(), env_.begin(), env_.end());
    c.cwd = cfg_.workdir == "..." ? h.tmpdir : cwd;
    return c;
}

void host_pool::reload() {
    if (!file_.active()) return;
    std::optional<std::vector<sshlogin>> logins;
    try {
        logins = file_.changed();
    } catch (const cli::usage_problem& e) {   // a bad line while it is edited: the hosts stay
        say(e.what());
        return;
    }
    if (!logins) return;
    for (auto& h : hosts_) {
        bool listed = std::any_of(logins->begin(), logins->end(), [&](const sshlogin& l) { return l.name == h->login.name; });
        bool on_command_line = std::any_of(cfg_.remote.logins.begin(), cfg_.remote.logins.end(),
                                           [&](const sshlogin& l) { return l.name == h->login.name; });
        h->removed = !listed && !on_command_line;
    }
    for (const auto& l : *logins) add(l);
    changed();
}

void host_pool::stop() {
    stopping_ = true;
    for (auto& h : hosts_)
        if (h->remote) h->remote->stop_jobs();
    changed();
}

conc::task<void> host_pool::close() {
    stopping_ = true;
    for (auto& h : hosts_) h->keeper.cancel();
    for (auto& h : hosts_) {
        if (!h->remote) continue;
        if (h->remote->up()) {
            std::vector<std::string> gone;
            if (cfg_.workdir == "...") gone.push_back(h->tmpdir);
            if (cfg_.remote.cleanup && h->basefiles_sent)
                for (const auto& f : cfg_.remote.basefiles) gone.push_back(remote_path(cfg_.workdir == "..." ? "" : cfg_.workdir, f));
            std::string problem;
            try {
                co_await h->remote->remove(std::move(gone));
            } catch (const transfer_error& e) {
                problem = e.what();
            }
            if (!problem.empty()) co_await out_.print(2, cli::program_name() + ": " + problem + "\n");
        }
        co_await h->remote->close(grace);
    }
    for (auto& m : messages_) co_await m;
    messages_.clear();
}

}  // namespace pmap
