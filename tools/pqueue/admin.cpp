// admin.cpp: the commands that look at a queue or change its state, not its
// items: create, size, empty, full, stat, ls, rm, close, done, join.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "conc/fd.hpp"
#include "messages.hpp"
#include "pqueue.hpp"
#include "stop_signals.hpp"

namespace pqueue {

namespace {

void print(const std::string& s) { conc::write_all(STDOUT_FILENO, s); }

// The name in /etc/passwd, else the number.  Not getpwuid(): pqueue is linked
// static, where glibc's NSS would have to load its shared modules.
std::string owner_name(uid_t uid) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen("/etc/passwd", "re"), std::fclose);
    while (const passwd* pw = f ? ::fgetpwent(f.get()) : nullptr)
        if (pw->pw_uid == uid) return pw->pw_name;
    return std::to_string(uid);
}

std::string octal(mode_t m) {
    char s[16];
    std::snprintf(s, sizeof s, "%04o", unsigned(m & 07777));
    return s;
}

}  // namespace

int create(const config& cfg) {
    check_name(cfg.name);
    conc::queue_options opts;
    opts.kind = cfg.kind;
    opts.maxsize = cfg.maxsize;
    if (cfg.bytes) opts.capacity = *cfg.bytes;
    opts.mode = cfg.mode;
    try {
        conc::shm_queue::create(cfg.name, opts);
    } catch (const conc::queue_mismatch& e) {
        cli::die(cli::exit_usage, "create '" + cfg.name + "': " + e.what());
    } catch (const conc::sys_error& e) {
        if (e.err() == EACCES || e.err() == EPERM || e.err() == ENOENT || e.err() == ENOTDIR || e.err() == EISDIR)
            cli::die(cli::exit_usage, "cannot create queue '" + cfg.name + "': " + e.code().message());
        cli::die(cli::exit_internal, "cannot create queue '" + cfg.name + "': " + e.code().message());
    } catch (const conc::queue_format_error& e) {
        cli::die(cli::exit_usage, "'" + cfg.name + "' is not a queue: " + e.what());
    } catch (const std::invalid_argument& e) {
        cli::die(cli::exit_usage, "create '" + cfg.name + "': " + e.what());
    }
    return cli::exit_ok;
}

int inspect(const config& cfg) {
    conc::shm_queue q = open_queue(cfg.name);
    switch (cfg.cmd) {
    case command::size: print(std::to_string(q.size()) + "\n"); return cli::exit_ok;
    case command::empty: return q.empty() ? cli::exit_ok : cli::exit_empty;
    case command::full: return q.full() ? cli::exit_ok : cli::exit_empty;
    default: break;
    }
    conc::queue_stats s = q.stats();
    auto yes_no = [](bool b) { return b ? "yes" : "no"; };
    print(std::string("kind: ") + conc::to_string(s.kind) + "\n" +
          "items: " + std::to_string(s.items) + "\n" +
          "bytes: " + std::to_string(s.bytes_used) + "\n" +
          "capacity: " + std::to_string(s.capacity) + "\n" +
          "maxsize: " + std::to_string(s.maxsize) + "\n" +
          "closed: " + yes_no(s.closed) + "\n" +
          "unfinished: " + std::to_string(s.unfinished) + "\n" +
          "puts: " + std::to_string(s.puts) + "\n" +
          "gets: " + std::to_string(s.gets) + "\n" +
          "mode: " + octal(s.mode) + "\n" +
          "owner: " + owner_name(s.owner) + "\n");
    if (!cfg.check) return cli::exit_ok;
    std::string wrong = q.check();
    print(wrong.empty() ? "consistent: yes\n" : "consistent: no: " + wrong + "\n");
    return wrong.empty() ? cli::exit_ok : cli::exit_empty;
}

int list(const config&) {
    std::string out;
    for (auto& name : conc::shm_queue::list()) out += name + "\n";
    print(out);
    return cli::exit_ok;
}

int remove(const config& cfg) {
    std::vector<std::string> names{cfg.name};
    names.insert(names.end(), cfg.operands.begin(), cfg.operands.end());
    for (auto& n : names) check_name(n);   // a bad name removes nothing
    int status = cli::exit_ok;
    for (auto& n : names) {
        if (conc::shm_queue::remove(n) || cfg.force) continue;
        cli::warn("rm: no queue '" + n + "'");
        status = cli::exit_usage;
    }
    return status;
}

int close(const config& cfg) {
    open_queue(cfg.name).close();
    return cli::exit_ok;
}

int task_done(const config& cfg) {
    conc::shm_queue q = open_queue(cfg.name);
    conc::queue_status s;
    try {
        s = q.task_done(cfg.count);
    } catch (const std::logic_error& e) {
        cli::die(cli::exit_usage, "done '" + cfg.name + "': " + e.what());
    }
    if (s == conc::queue_status::removed) cli::die(cli::exit_empty, "done '" + cfg.name + "': the queue was removed");
    return cli::exit_ok;
}

int join(const config& cfg) {
    stop_signals::install();
    conc::shm_queue q = open_queue(cfg.name);
    conc::queue_status s;
    {
        stop_signals::abandonable waiting;
        s = cfg.timeout ? q.join_for(*cfg.timeout) : q.join();
    }
    if (int sig = stop_signals::pending()) return stop_signals::exit_code(sig);
    switch (s) {
    case conc::queue_status::ok: return cli::exit_ok;
    case conc::queue_status::timeout: return cli::exit_timeout;
    case conc::queue_status::removed: cli::die(cli::exit_empty, "join '" + cfg.name + "': the queue was removed");
    default: cli::die(cli::exit_internal, "join '" + cfg.name + "': " + conc::to_string(s));
    }
}

}  // namespace pqueue
