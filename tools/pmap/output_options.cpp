#include "output_options.hpp"

#include "command_line.hpp"
#include "joblog.hpp"
#include "messages.hpp"
#include "shared_options.hpp"
#include "tag.hpp"

namespace pmap {

namespace {

// Clear of main's keys (256 up) and the shared ones (0x1000 up).
enum : int {
    opt_tagstring = 0x2100, opt_ctag, opt_ctagstring, opt_color, opt_results, opt_files, opt_retry_failed,
    opt_progress, opt_eta,
};

}  // namespace

std::vector<cli::option_spec> output_option_rows() {
    return {
        {opt_tagstring, "tagstring", cli::arg::required, "STR", "prefix output lines with STR ({} ...) and a tab"},
        {opt_ctag, "ctag", cli::arg::none, nullptr, "--tag, each job's lines in a colour of their own"},
        {opt_ctagstring, "ctagstring", cli::arg::required, "STR", "--tagstring STR, coloured"},
        {opt_color, "color", cli::arg::none, nullptr, "colour each job's output lines (with --tag: tags)"},
        {cli::opt_shared_dry_run, "dryrun", cli::arg::none, nullptr, "same as --dry-run"},
        {'q', "quote", cli::arg::none, nullptr, "never read the command as shell syntax (GNU -q)"},
        {opt_results, "results", cli::arg::required, "DIR", "save each job's output in DIR/1/VALUE/ (or .csv/.tsv)"},
        {opt_files, "files", cli::arg::none, nullptr, "save each job's output in a file; print its name"},
        {opt_retry_failed, "retry-failed", cli::arg::none, nullptr, "with --joblog: run its failed commands again"},
        {opt_progress, "progress", cli::arg::none, nullptr, "show GNU parallel's progress lines on stderr"},
        {opt_eta, "eta", cli::arg::none, nullptr, "--progress with the estimated seconds left"},
    };
}

bool take_output_option(int key, const std::string& v, config& cfg) {
    switch (key) {
    case opt_tagstring: cfg.tagstring = unquote_printf(v); return true;
    case opt_ctag: cfg.tag = cfg.colour = true; return true;
    case opt_ctagstring: cfg.tagstring = unquote_printf(v), cfg.colour = true; return true;
    case opt_color: cfg.colour = true; return true;
    case 'q': cfg.quote = true; return true;
    case opt_results:
        if (v.empty()) cli::usage_error("--results needs a directory or file name");
        cfg.results = v;
        return true;
    case opt_files: cfg.files = true; return true;
    case opt_retry_failed: cfg.retry_failed = true; return true;
    case opt_progress: cfg.progress = true; return true;
    case opt_eta: cfg.eta = cfg.progress = true; return true;
    }
    return false;
}

void finish_output_options(config& cfg, bool& ungroup) {
    if (cfg.tag && !cfg.tagstring) cfg.tagstring = "{}";
    if (ungroup && (cfg.tagstring || cfg.colour) && cfg.results.empty() && !cfg.files) {
        cfg.tag = cfg.colour = false;   // GNU parallel: tags are ignored with -u
        cfg.tagstring.reset();
    }
    if (!cfg.results.empty() || cfg.files) ungroup = false;   // the output goes to files, through pmap
    if (cfg.quote) cfg.tmpl.shell = false;   // every word quoted is the argv as it is
    if (cfg.bar) cfg.progress = cfg.eta = false;   // GNU parallel: --bar wins
    if (!cfg.joblog.empty() && cfg.joblog[0] == '+') {
        cfg.joblog.erase(0, 1);
        cfg.joblog_append = true;
    }
    if (cfg.joblog == "-" && (cfg.resume || cfg.resume_failed || cfg.retry_failed || cfg.joblog_append))
        cli::usage_error("--joblog - (standard output) cannot be read to resume");
    if (!cfg.retry_failed) return;
    if (cfg.joblog.empty()) cli::usage_error("--retry-failed needs --joblog FILE");
    // GNU parallel: the command line's command and arguments are ignored; the
    // joblog's failed commands run again, each with its own seq, by a shell.
    joblog_state log;
    try {
        log = read_joblog(cfg.joblog, true);
    } catch (const conc::sys_error& e) {
        cli::die(cli::exit_usage, cli::describe(e));
    }
    input_source failed;   // at its seq, each failed command; the others empty (and skipped)
    for (auto& [seq, command] : log.failed_commands) {
        if (failed.items.size() < seq) failed.items.resize(seq);
        failed.items[seq - 1] = std::move(command);
    }
    cfg.sources = {std::move(failed)};
    cfg.link_all = false;
    cfg.colsep.reset();
    cfg.command = cli::shell_argv("{}");
    cfg.tmpl = template_options{};
    cfg.input = input_kind::arguments;
    cfg.max_args = 1;
    cfg.fill = false;
    cfg.resume_failed = true;
}

}  // namespace pmap
