// pmap: run a command once per input record, in parallel.
//
//   find . -name '*.log' -print0 | pmap -0 -j4 gzip
//   pmap -k convert {} {.}.png ::: *.jpg
//
// main() reads the command line into a pmap::config; engine.cpp runs it.
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "conc/fd.hpp"
#include "handover.hpp"
#include "jobs_options.hpp"
#include "messages.hpp"
#include "options.hpp"
#include "output_options.hpp"
#include "pmap.hpp"
#include "remote_options.hpp"
#include "worker.hpp"
#include "source_options.hpp"
#include "supervisor.hpp"
#include "shared_options.hpp"
#include "units.hpp"

namespace {

enum : int {
    opt_delay = 256, opt_halt, opt_joblog, opt_line_buffer, opt_resume, opt_resume_failed, opt_retries,
    opt_tag, opt_group, opt_silent, opt_no_keep_order,
};

std::vector<cli::option_spec> option_rows() {
    std::vector<cli::option_spec> rows = cli::shared_option_rows("stop a job after DUR (TERM, then KILL)");
    rows.insert(rows.end(), {
        {'k', "keep-order", cli::arg::none, nullptr, "write outputs in input order"},
        {'I', nullptr, cli::arg::required, "STR", "use STR instead of {} for the item"},
        {'s', "shell", cli::arg::none, nullptr, "run COMMAND as a shell script (values are quoted)"},
        {opt_line_buffer, "line-buffer", cli::arg::none, nullptr, "write output line by line as it comes"},
        {'u', "ungroup", cli::arg::none, nullptr, "pass output straight through (may mix)"},
        {opt_tag, "tag", cli::arg::none, nullptr, "prefix output lines with the item and a tab"},
        {opt_retries, "retries", cli::arg::required, "N", "run a failing job up to N times in all"},
        {opt_halt, "halt", cli::arg::required, "WHEN", "stop early: now|soon,fail|success|done[=N|P%]"},
        {opt_delay, "delay", cli::arg::required, "DUR", "wait DUR between job starts"},
        {opt_joblog, "joblog", cli::arg::required, "FILE", "log each finished job to FILE (GNU parallel's format; - stdout)"},
        {opt_resume, "resume", cli::arg::none, nullptr, "with --joblog: skip jobs already logged"},
        {opt_resume_failed, "resume-failed", cli::arg::none, nullptr, "with --joblog: skip jobs logged as succeeded"},
    });
    // --- issue 13: input sources, packing, replacement strings ---
    auto sources = pmap::source_option_rows();
    rows.insert(rows.end(), sources.begin(), sources.end());
    // --- issue 13: jobs and slots, environment, shell, --pipe ---
    std::vector<cli::option_spec> jobs = pmap::jobs_option_rows();
    rows.insert(rows.end(), jobs.begin(), jobs.end());
    // --- issue 13: output and records of work ---
    rows.insert(rows.end(), {
        {opt_line_buffer, "lb", cli::arg::none, nullptr, "same as --line-buffer"},
        {opt_joblog, "jl", cli::arg::required, "FILE", "same as --joblog"},
    });
    // --- GNU parallel's and xargs' other names for the above ---
    rows.insert(rows.end(), {
        {'i', "replace", cli::arg::optional, "STR", "the same as -I STR; {} when STR is not given (xargs -i)"},
        {opt_group, "group", cli::arg::none, nullptr, "each job's output whole, after it ends (the default; undoes -u, --lb)"},
        {opt_no_keep_order, "no-keep-order", cli::arg::none, nullptr, "undo an earlier -k"},
        {opt_silent, "silent", cli::arg::none, nullptr, "undo an earlier -v (the default)"},
        {opt_halt, "halt-on-error", cli::arg::required, "WHEN", "the same as --halt"},
    });
    std::vector<cli::option_spec> out = pmap::output_option_rows();
    rows.insert(rows.end(), out.begin(), out.end());
    // --- issue 14: other machines ---
    std::vector<cli::option_spec> remote = pmap::remote_option_rows();
    rows.insert(rows.end(), remote.begin(), remote.end());
    return rows;
}

const cli::option_table options{
    "[OPTION]... [--] [COMMAND [ARG]...] [::: ITEM... | :::: FILE...]...",
    "Run COMMAND once per input record (or per ITEM), at most N at a time, each job's output kept whole;\n"
    "with no COMMAND, each record is a command line.",
    option_rows(),
    "Replacement strings: {} {.} {/} {//} {/.} {#} {%}, {1} {2}... (a source's or a column's value),\n"
    "{NAME} with --header, {+/} {+.} {..} ... with --plus, {= s/RE/REPL/ =}.\n"
    "Exit status: 0 all jobs succeeded, 123 some failed, 126/127 command not runnable/found, 2 usage.\n"
    "See pmap(1)."};

pmap::config read_command_line(int argc, char** argv) {
    cli::parsed_args args = options.parse(argc, argv);
    pmap::config cfg;
    cli::shared_options shared;
    bool ungroup = false, line_buffer = false, silent = false;
    for (auto& [key, v] : args.options) {
        try {
            if (shared.take(key, v)) continue;
            if (pmap::take_output_option(key, v, cfg)) continue;   // --- issue 13: output and records of work ---
            if (pmap::take_remote_option(key, v, cfg)) continue;   // --- issue 14: other machines ---
        } catch (const cli::usage_problem& e) {
            cli::usage_error(e.what());
        }
        if (pmap::take_source_option(key, v, cfg)) continue;   // issue 13: sources, packing, --plus, --rpl
        switch (key) {
        case 'k': cfg.keep_order = true; break;
        case 'I':
            if (v.empty()) cli::usage_error("-I needs a non-empty string");
            cfg.tmpl.replace = v;
            break;
        case 'i': cfg.tmpl.replace = v.empty() ? "{}" : v; break;
        case opt_group: ungroup = line_buffer = false; break;
        case opt_no_keep_order: cfg.keep_order = false; break;
        case opt_silent: silent = true; break;
        case 's': cfg.tmpl.shell = true; break;
        case opt_line_buffer: line_buffer = true; break;
        case 'u': ungroup = true; break;
        case opt_tag: cfg.tag = true; break;
        case opt_delay: cfg.delay = cli::parse_value("--delay", v, cli::parse_duration); break;
        case opt_retries: cfg.attempts = unsigned(cli::parse_value("--retries", v, [](auto& s) { return cli::parse_count(s, 0, 1000000); })); break;
        case opt_halt: cfg.halt = cli::parse_value("--halt", v, cli::parse_halt); break;
        case opt_joblog: cfg.joblog = v; break;
        case opt_resume: cfg.resume = true; break;
        case opt_resume_failed: cfg.resume_failed = true; break;
        // --- issue 13: jobs and slots, environment, shell, --pipe ---
        default: pmap::take_jobs_option(key, v, cfg); break;
        }
    }
    cfg.jobs = shared.jobs;
    cfg.jobs_given = shared.jobs_given;
    cfg.delimiter = shared.delimiter;
    cfg.timeout = shared.timeout;
    cfg.bar = shared.bar;
    cfg.bar_forced = shared.bar_forced;
    cfg.dry_run = shared.dry_run;
    cfg.verbose = shared.verbose && !silent;
    if (cfg.attempts == 0) cfg.attempts = 1;   // GNU parallel: --retries 0 means one try

    pmap::take_operands(args.operands, cfg);   // COMMAND [ARG...] [::: ITEM... | :::: FILE...]...
    pmap::finish_output_options(cfg, ungroup);   // --- issue 13: output and records of work ---
    if ((cfg.resume || cfg.resume_failed) && cfg.joblog.empty())
        cli::usage_error(std::string(cfg.resume ? "--resume" : "--resume-failed") + " needs --joblog FILE");
    if (ungroup && (line_buffer || cfg.tag || cfg.keep_order))
        cli::usage_error("-u cannot be combined with --line-buffer, --tag or -k");
    pmap::check_sources(cfg);
    pmap::finish_jobs_options(cfg, shared);   // issue 13: -j FILE, the shell, no command
    pmap::finish_remote_options(cfg);         // issue 14: $PARALLEL_SSH, what needs -S
    if (cfg.remote.onall || cfg.remote.nonall) {   // each host's run is pmap again, with these options
        cfg.remote.inner = options.render(args.options, {"sshlogin", "sshloginfile", "jobs", "max-procs", "onall", "nonall",
                                                         "keep-order", "tag", "ctag", "joblog", "bar", "progress", "eta"});
        cfg.remote.inner.push_back("--");
        cfg.remote.inner.insert(cfg.remote.inner.end(), args.operands.begin(), args.operands.end());
    }
    cfg.output = ungroup ? pmap::output_mode::ungroup : line_buffer ? pmap::output_mode::line : pmap::output_mode::group;
    return cfg;
}

}  // namespace

int main(int argc, char** argv) {
    cli::fill_standard_fds();   // before anything opens an fd
    cli::set_program_name(argv[0]);
    if (argc == 2 && std::string(argv[1]) == "--worker") return pmap::run_worker();   // the far end of -S
    pmap::hand_over_to_ppipe_if_asked(argc, argv);   // --pipe, --pipepart: ppipe's work
    pmap::config cfg = read_command_line(argc, argv);
    try {
        if (cfg.instead) return cfg.instead(), cli::exit_ok;   // --record-env, --number-of-cores ...
        return pmap::run(cfg);
    } catch (const std::exception& e) {
        cli::die(e);
    }
}
