#include "jobs_options.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "messages.hpp"
#include "shell.hpp"
#include "units.hpp"

namespace pmap {

namespace {

enum : int { opt_load = 0x2000, opt_memfree, opt_nice, opt_workdir, opt_wd, opt_env, opt_pipe, opt_pipepart };

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
