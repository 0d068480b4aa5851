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
#include "messages.hpp"
#include "options.hpp"
#include "output_options.hpp"
#include "pmap.hpp"
#include "supervisor.hpp"
#include "shared_options.hpp"
#include "units.hpp"

namespace {

enum : int {
    opt_colsep = 256, opt_delay, opt_halt, opt_joblog, opt_line_buffer, opt_resume, opt_resume_failed, opt_retries,
    opt_tag,
};

std::vector<cli::option_spec> option_rows() {
    std::vector<cli::option_spec> rows = cli::shared_option_rows("stop a job after DUR (TERM, then KILL)");
    rows.insert(rows.end(), {
        {'k', "keep-order", cli::arg::none, nullptr, "write outputs in input order"},
        {'a', "arg-file", cli::arg::required, "FILE", "read items from FILE instead of stdin"},
        {'n', "max-args", cli::arg::required, "N", "give up to N items to each job"},
        {'I', nullptr, cli::arg::required, "STR", "use STR instead of {} for the item"},
        {opt_colsep, "colsep", cli::arg::required, "SEP", "split items into columns {1} {2}... at SEP"},
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
    // --- issue 13: output and records of work ---
    rows.insert(rows.end(), {
        {opt_line_buffer, "lb", cli::arg::none, nullptr, "same as --line-buffer"},
        {opt_joblog, "jl", cli::arg::required, "FILE", "same as --joblog"},
    });
    std::vector<cli::option_spec> out = pmap::output_option_rows();
    rows.insert(rows.end(), out.begin(), out.end());
    return rows;
}

const cli::option_table options{
    "[OPTION]... [--] COMMAND [ARG]... [::: ITEM...]",
    "Run COMMAND once per input record (or per ITEM), at most N at a time, each job's output kept whole.",
    option_rows(),
    "Replacement strings: {} {.} {/} {//} {/.} {#} {%}, and {1} {2}... with --colsep.\n"
    "Exit status: 0 all jobs succeeded, 123 some failed, 126/127 command not runnable/found, 2 usage.\n"
    "See pmap(1)."};

pmap::config read_command_line(int argc, char** argv) {
    cli::parsed_args args = options.parse(argc, argv);
    pmap::config cfg;
    cli::shared_options shared;
    bool ungroup = false, line_buffer = false;
    for (auto& [key, v] : args.options) {
        try {
            if (shared.take(key, v)) continue;
            if (pmap::take_output_option(key, v, cfg)) continue;   // --- issue 13: output and records of work ---
        } catch (const cli::usage_problem& e) {
            cli::usage_error(e.what());
        }
        switch (key) {
        case 'k': cfg.keep_order = true; break;
        case 'a':
            if (!cfg.arg_file.empty()) cli::usage_error("-a may be given once");
            cfg.arg_file = v;
            cfg.input = pmap::input_kind::file_records;
            break;
        case 'n': cfg.max_args = std::size_t(cli::parse_value("-n", v, [](auto& s) { return cli::parse_count(s, 1, 1 << 20); })); break;
        case 'I':
            if (v.empty()) cli::usage_error("-I needs a non-empty string");
            cfg.tmpl.replace = v;
            break;
        case opt_colsep:
            if (v.empty()) cli::usage_error("--colsep needs a non-empty separator");
            cfg.tmpl.colsep = v;
            break;
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
        }
    }
    cfg.jobs = shared.jobs;
    cfg.delimiter = shared.delimiter;
    cfg.timeout = shared.timeout;
    cfg.bar = shared.bar;
    cfg.bar_forced = shared.bar_forced;
    cfg.dry_run = shared.dry_run;
    cfg.verbose = shared.verbose;
    if (cfg.attempts == 0) cfg.attempts = 1;   // GNU parallel: --retries 0 means one try

    // COMMAND [ARG...] [::: ITEM...]
    auto sep = std::find(args.operands.begin(), args.operands.end(), ":::");
    cfg.command.assign(args.operands.begin(), sep);
    if (sep != args.operands.end()) {
        cfg.arguments.assign(sep + 1, args.operands.end());
        if (cfg.arguments.empty()) cli::usage_error("':::' must be followed by at least one item");
        if (cfg.input == pmap::input_kind::file_records) cli::usage_error("-a and ':::' cannot be used together");
        cfg.input = pmap::input_kind::arguments;
    }
    pmap::finish_output_options(cfg, ungroup);   // --- issue 13: output and records of work ---
    if (cfg.command.empty()) cli::usage_error("no command given");
    if ((cfg.resume || cfg.resume_failed) && cfg.joblog.empty())
        cli::usage_error(std::string(cfg.resume ? "--resume" : "--resume-failed") + " needs --joblog FILE");
    if (ungroup && (line_buffer || cfg.tag || cfg.keep_order))
        cli::usage_error("-u cannot be combined with --line-buffer, --tag or -k");
    if (!cfg.arg_file.empty()) {
        try {   // bad input: exit 2, before any job runs
            conc::unique_fd f = conc::open_file(cfg.arg_file, O_RDONLY);
            struct stat st;
            if (::fstat(f.get(), &st) == 0 && S_ISDIR(st.st_mode)) throw conc::sys_error(EISDIR, "read '" + cfg.arg_file + "'");
        } catch (const conc::sys_error& e) {
            cli::die(cli::exit_usage, cli::describe(e));
        }
    }
    cfg.output = ungroup ? pmap::output_mode::ungroup : line_buffer ? pmap::output_mode::line : pmap::output_mode::group;
    return cfg;
}

}  // namespace

int main(int argc, char** argv) {
    cli::fill_standard_fds();   // before anything opens an fd
    cli::set_program_name(argv[0]);
    pmap::config cfg = read_command_line(argc, argv);
    try {
        return pmap::run(cfg);
    } catch (const std::exception& e) {
        cli::die(e);
    }
}
