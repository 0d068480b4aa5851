#include "jobs_options.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "messages.hpp"
#include "shell.hpp"
#include "units.hpp"

namespace pmap {

namespace {

enum : int {
    opt_load = 0x2000, opt_memfree, opt_nice, opt_workdir, opt_wd, opt_env, opt_pipe, opt_pipepart, opt_slot_var,
    opt_tmpdir, opt_cpus, opt_cores, opt_threads, opt_sockets,
};

// GNU parallel's --number-of-*: what /sys says of the online CPUs (threads),
// their distinct cores, and their packages (sockets).
enum class count_of { threads, cores, sockets };

std::size_t count_cpus(count_of what) {
    std::set<std::pair<long, long>> cores;
    std::set<long> sockets;
    std::size_t threads = 0;
    long n = ::sysconf(_SC_NPROCESSORS_CONF);
    for (long i = 0; i < n; ++i) {
        std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(i);
        int online = 1;
        if (std::ifstream f(dir + "/online"); f) f >> online;   // cpu0 has no such file
        long package = -1, core = -1;
        std::ifstream(dir + "/topology/physical_package_id") >> package;
        std::ifstream(dir + "/topology/core_id") >> core;
        if (!online || package < 0 || core < 0) continue;
        ++threads;
        cores.emplace(package, core);
        sockets.insert(package);
    }
    if (threads == 0) return what == count_of::sockets ? 1 : conc::online_cpus();   // no /sys: what the C library says
    switch (what) {
    case count_of::threads: return threads;
    case count_of::cores: return cores.size();
    case count_of::sockets: return sockets.size();
    }
    return threads;
}

std::function<void()> print_count(count_of what) {
    return [what] { std::printf("%zu\n", count_cpus(what)); };
}

}  // namespace

std::vector<cli::option_spec> jobs_option_rows() {
    return {
        {opt_load, "load", cli::arg::required, "MAX", "start no job while MAX or more tasks are runnable (or P% of CPUs)"},
        {opt_memfree, "memfree", cli::arg::required, "SIZE", "start no job while less than SIZE memory is free"},
        {opt_nice, "nice", cli::arg::required, "N", "run pmap and its jobs at niceness N"},
        {opt_workdir, "workdir", cli::arg::required, "DIR", "run jobs in DIR (made if missing; may hold {})"},
        {opt_wd, "wd", cli::arg::required, "DIR", "the same as --workdir"},
        {opt_env, "env", cli::arg::required, "NAME", "give remote jobs the variable NAME (_: all); local jobs have all"},
        {opt_pipe, "pipe", cli::arg::none, nullptr, "hand over to ppipe(1): cut stdin into blocks for the jobs"},
        {opt_pipepart, "pipepart", cli::arg::none, nullptr, "the same, for -a FILE"},
        {opt_slot_var, "process-slot-var", cli::arg::required, "NAME", "set NAME to the job's slot less one (xargs -P's)"},
        {opt_tmpdir, "tmpdir", cli::arg::required, "DIR", "the directory for --files' files (sets TMPDIR for jobs too)"},
        {opt_cores, "number-of-cores", cli::arg::none, nullptr, "print the number of CPU cores and exit"},
        {opt_cpus, "number-of-cpus", cli::arg::none, nullptr, "the same as --number-of-cores (GNU's old name)"},
        {opt_threads, "number-of-threads", cli::arg::none, nullptr, "print the number of CPU threads (online CPUs) and exit"},
        {opt_sockets, "number-of-sockets", cli::arg::none, nullptr, "print the number of CPU sockets and exit"},
    };
}

bool take_jobs_option(int key, const std::string& v, config& cfg) {
    switch (key) {
    case opt_load:
        cfg.limits.max_load = cli::parse_value("--load", v, [](auto& s) { return parse_load(s, conc::online_cpus()); });
        if (*cfg.limits.max_load == 0) cfg.limits.max_load.reset();   // GNU parallel: --load 0 is no limit
        return true;
    case opt_memfree: cfg.limits.memfree = cli::parse_value("--memfree", v, cli::parse_size); return true;
    case opt_nice: {
        int n = int(cli::parse_value("--nice", v, [](auto& s) { return cli::parse_count(s, -20, 19); }));
        errno = 0;
        if (::setpriority(PRIO_PROCESS, 0, n) < 0)   // GNU parallel goes on too
            cli::warn("--nice " + v + ": cannot set the niceness: " + std::strerror(errno));
        return true;
    }
    case opt_workdir:
    case opt_wd:
        if (v.empty()) cli::usage_error("--workdir needs a directory");
        cfg.workdir = v;
        return true;
    case opt_env: cfg.remote.env.push_back(v); return true;   // local jobs inherit the whole environment already
    case opt_pipe:
    case opt_pipepart: return true;   // handed over before parsing (handover.hpp)
    case opt_slot_var:
        if (v.empty() || v.find('=') != std::string::npos) cli::usage_error("--process-slot-var: '" + v + "' is not a variable name");
        cfg.slot_variable = v;
        return true;
    case opt_tmpdir: {   // GNU parallel: the same as setting $TMPDIR
        struct stat st;
        if (::stat(v.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || ::access(v.c_str(), W_OK | X_OK) != 0)
            cli::usage_error("--tmpdir: '" + v + "' is not a directory pmap can write in");
        ::setenv("TMPDIR", v.c_str(), 1);
        return true;
    }
    case opt_cpus:
    case opt_cores: cfg.instead = print_count(count_of::cores); return true;
    case opt_threads: cfg.instead = print_count(count_of::threads); return true;
    case opt_sockets: cfg.instead = print_count(count_of::sockets); return true;
    default: return false;
    }
}

void finish_jobs_options(config& cfg, const cli::shared_options& shared) {
    cfg.jobs_file = shared.jobs_file;
    if (cfg.command.empty()) {
        cfg.records_are_commands = true;
        cfg.shell = choose_shell(false);
        return;
    }
    bool function = false;
    if (!cfg.tmpl.shell) {
        if (cfg.quote) return;   // -q: every word is data, shell syntax included
        command_template t(cfg.command, cfg.tmpl);
        std::string why = needs_shell(cfg.command, t);
        if (why.empty()) return;
        cfg.tmpl.shell = true;
        const std::string& first = cfg.command[0];
        function = first.find('/') == std::string::npos && exported_bash_function(first) && !on_path(first);
    }
    cfg.shell = choose_shell(function);
}

}  // namespace pmap
