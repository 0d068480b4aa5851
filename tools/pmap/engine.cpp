#include "engine.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "command_line.hpp"
#include "messages.hpp"
#include "onall.hpp"
#include "shared_options.hpp"

namespace pmap {

namespace {

using namespace std::chrono_literals;
constexpr auto kill_grace = 1s;   // TERM, then KILL this much later

// The joblog's Exitval: a timed-out job failed whatever it exited with: -1, as GNU parallel logs it.
int exitval_of(const outcome& oc) {
    return oc.cannot_run ? cli::exit_cannot_exec : oc.timed_out ? -1 : oc.status.exited() ? oc.status.code() : 0;
}

}  // namespace

cli::output_options output_options_of(const config& c) {
    cli::output_options o;
    o.mode = c.output == output_mode::ungroup ? cli::output_mode::raw
             : c.output == output_mode::line  ? cli::output_mode::line
                                              : cli::output_mode::held;
    o.ordered = c.keep_order;
    o.end_last_line = c.colour;   // GNU parallel ends each coloured line, the last one too
    return o;
}

engine::engine(conc::loop& lp, const config& cfg)
    : lp_(lp), cfg_(cfg), tmpl_(cfg.records_are_commands ? std::vector<std::string>{"{}"} : cfg.command, cfg.tmpl),
      jobs_file_(cfg.jobs_file),
      bar_("pmap", cfg.bar_forced || cfg.progress, std::chrono::steady_clock::now(),
           cfg.bar || cfg.progress ? STDERR_FILENO : -1),
      sup_(lp, kill_grace), out_(lp, output_options_of(cfg), &bar_), runner_(lp, cfg, tmpl_, out_, sup_),
      items_(lp, cfg, tmpl_), group_(cfg.jobs), halt_(cfg.halt) {
    if (!cfg.workdir.empty()) {
        command_template w({cfg.workdir});
        if (w.has_replacement()) workdir_.emplace(std::move(w));
    }
    if (!cfg.joblog.empty() && !cfg.dry_run) {   // --dry-run runs nothing, so it logs nothing
        bool resuming = cfg.resume || cfg.resume_failed;
        if (cfg.joblog == "-") {
            log_to_stdout_ = true;
        } else {
            if (resuming) resume_ = read_joblog(cfg.joblog);
            log_.emplace(cfg.joblog, resuming || cfg.joblog_append ? joblog_writer::mode::append
                                                                   : joblog_writer::mode::truncate);
        }
    }
    if (cfg.progress) bar_.use_gnu_progress(cfg.eta);
    if (cfg.tagstring) tag_.emplace(*cfg.tagstring, cfg.tmpl);
    if ((!cfg.results.empty() || cfg.files) && !cfg.dry_run) {
        string_template name(cfg.results, cfg.tmpl);
        bool named = !cfg.results.empty() && name.has_replacement();
        if (named) results_name_.emplace(std::move(name));
        results_.emplace(cfg.results, cfg.files, named, cfg.keep_order);
    }
    if (cfg.remote.any() && !cfg.dry_run) {
        hosts_ = std::make_unique<host_pool>(lp, cfg, out_, sup_, runner_);
        hosts_->on_slots([this](std::size_t n) { group_.set_limit(n); });
    }
    sup_.on_stop([this](int) {
        stop_starting();
        if (hosts_) hosts_->stop();
    });
    out_.on_error([this](const conc::writer& w) { output_failed(w); });
    runner_.on_fatal([this](int code) {
        if (!tally_.cannot_run) tally_.cannot_run = code;
        stop_starting();
    });
}

conc::task<int> engine::run() {
    if (log_to_stdout_) co_await out_.print(1, std::string(joblog_header));
    if (cfg_.progress) co_await out_.print(2, cli::gnu_progress_header(conc::online_cpus(), cfg_.jobs));
    // GNU parallel reads all input for a percentage, {##} and --eta.
    co_await items_.prepare(cfg_.halt.percent || tmpl_.uses_total() || cfg_.eta);
    if (cfg_.header) tmpl_.bind_names(items_.column_names());
    if (auto total = items_.total_jobs()) {
        bar_.set_total(*total);
        act_on(halt_.set_total(*total));
    }
    if (hosts_) {   // every host connected, or failed once: their slots are the job count
        co_await hosts_->start();
        group_.set_limit(hosts_->slots());
    }
    if (!stopping_) feeder_ = lp_.spawn(feed());   // a halt may be met before any job (fail=0%)
    try {
        if (feeder_.valid()) co_await feeder_;
    } catch (const conc::cancelled_error&) {   // stopped early
    } catch (...) {
        if (!error_) error_ = std::current_exception();   // the input could not be read
        stop_everything(SIGTERM);
    }
    co_await group_.join();
    co_await sup_.wait_stopped();
    if (hosts_) co_await hosts_->close();
    for (auto& m : messages_) co_await m;
    co_await out_.close(tally_.finished + skipped_);
    if (error_) std::rethrow_exception(error_);
    tally_.signal = sup_.signal();
    tally_.decided = halt_.decided_exit();
    co_return tally_.code();
}

conc::task<void> engine::feed() {
    auto last_start = conc::clock::time_point::min();
    std::uint64_t seq = 0;
    for (;;) {
        std::optional<std::vector<std::string>> next = co_await items_.next();
        if (!next) break;
        std::vector<std::string> items = std::move(*next);
        ++seq;
        // --retry-failed: only the jobs the joblog holds as failed.
        if (cfg_.retry_failed ? !resume_.failed.contains(seq) : resume_.skip(seq, cfg_.resume_failed)) {
            ++skipped_;   // done in an earlier run: the bar counts it done
            if (cfg_.keep_order) co_await out_.skip(seq);
            if (results_ && results_->table()) co_await write_results(results_->skip(seq));
            continue;
        }
        if (cfg_.dry_run) {
            std::vector<std::string_view> views(items.begin(), items.end());
            std::string line = shown_command(cfg_, command_of(items, seq, 1));
            if (tag_ || cfg_.colour) line = prefix_of(views, seq, 1) + line + (cfg_.colour ? std::string(reset_colour) : "");
            co_await out_.print(1, line + "\n");
            continue;
        }
        if (cfg_.limits.any()) co_await wait_for_room();
        if (cfg_.delay) {
            if (last_start != conc::clock::time_point::min()) co_await lp_.sleep_until(last_start + *cfg_.delay);
            last_start = conc::clock::now();
        }
        // Named, not a temporary inside the co_await: g++ 12 mishandles those.
        std::function<conc::task<void>(unsigned)> job = [this, seq, items = std::move(items)](unsigned slot) mutable {
            return run_job(seq, slot, std::move(items));
        };
        co_await group_.start(std::move(job));
    }
    if (!items_.total_jobs()) {   // a pipe: known now, at its end
        bar_.set_total(seq);
        act_on(halt_.set_total(seq));
    }
}

// GNU parallel: as soon as there is room again, one job starts (the next
// check sees the load it added).  Polled, from 10 ms up to 1 s apart.
conc::task<void> engine::wait_for_room() {
    auto pause = std::chrono::milliseconds(10);
    while (!room_to_start(cfg_.limits)) {
        co_await lp_.sleep_for(pause);
        pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(1));
    }
}

std::vector<std::string> engine::command_of(const std::vector<std::string>& items, std::uint64_t seq,
                                            unsigned slot) const {
    if (cfg_.records_are_commands) {   // GNU's parallel < cmds: the records, space-joined, are the script
        std::string script;
        for (const auto& it : items) script += (script.empty() ? "" : " ") + it;
        return {cfg_.shell, "-c", std::move(script)};
    }
    std::vector<std::string_view> views(items.begin(), items.end());
    std::vector<std::string> argv = tmpl_.expand(views, seq, slot, total_jobs());
    if (tmpl_.shell()) argv[0] = cfg_.shell;
    return argv;
}

conc::task<void> engine::run_job(std::uint64_t seq, unsigned slot, std::vector<std::string> items) {
    std::vector<std::string> argv = command_of(items, seq, slot);
    std::vector<std::string_view> views(items.begin(), items.end());
    std::string cwd = workdir_ ? workdir_->expand(views, seq, slot, total_jobs())[0] : cfg_.workdir;
    auto oj = out_.open(seq, tag_ || cfg_.colour ? prefix_of(views, seq, slot) : std::string());
    if (cfg_.colour) oj->set_line_end(std::string(reset_colour));
    if (cfg_.progress) {
        bar_.set_running(++running_, ++started_);
        out_.progress(tally_.finished + skipped_);
    }
    std::string log_row;
    // --results, --files: the job's output goes to files (or a table row), not to stdout.
    std::optional<results::job_files> files;
    job_values values;
    std::string captured[2];
    std::exception_ptr file_error;
    try {
        if (results_) {
            values = values_of(items);
            for (int stream : {1, 2}) {
                if (results_->table()) {
                    oj->divert(stream, [&captured, stream](std::string_view d) { captured[stream - 1].append(d); });
                    continue;
                }
                if (!files)
                    files = results_->open_job(seq, values, results_name_ ? results_name_->expand(views, seq, slot)
                                                                          : std::string());
                int fd = stream == 1 ? files->out.get() : files->err.get();   // -1: --files drops stderr
                oj->divert(stream, [fd, &file_error, &files, stream](std::string_view d) {
                    if (fd < 0 || file_error) return;
                    try {
                        conc::write_all(fd, d);
                    } catch (const conc::sys_error& e) {
                        file_error = std::make_exception_ptr(conc::sys_error(
                            e.err(), "write '" + files->stdout_path + (stream == 2 ? "' (stderr)" : "'")));
                    }
                });
            }
        }
        job_runner::attempt_fn remote;
        if (hosts_)
            remote = [this, &views](const std::vector<std::string>& a, std::uint64_t s, unsigned j, cli::output::job& o,
                                    const std::string& d) { return hosts_->attempt(a, s, j, o, d, views); };
        outcome oc = co_await runner_.run(argv, seq, slot, *oj, cwd, std::move(remote));
        if (jobs_file_.active())   // -j FILE, as GNU parallel: read again when a job ends, if it changed
            if (auto n = jobs_file_.changed(conc::online_cpus())) group_.set_limit(*n);
        bool counted = !oc.stopped && (oc.ran || oc.cannot_run);
        log_row = record(oc, seq, argv, oj->received(1));
        if (file_error) std::rethrow_exception(file_error);
        if (results_ && results_->table()) {
            std::string text = counted ? results_->add_row({seq, oc.start, oc.runtime, oj->received(1), exitval_of(oc),
                                                            oc.status.signal(), shown_command(cfg_, argv), &values,
                                                            std::move(captured[0]), std::move(captured[1])})
                                       : results_->skip(seq);
            co_await write_results(std::move(text));
        } else if (results_ && results_->files()) {
            oj->divert(1, nullptr);
            co_await out_.add(*oj, 1, files->stdout_path + "\n");
        }
    } catch (const conc::cancelled_error&) {
        throw;
    } catch (...) {   // pmap itself failed: stop, but still write what the jobs gave
        if (!error_) error_ = std::current_exception();
        stop_everything(SIGTERM);
    }
    if (results_) oj->divert(1, nullptr), oj->divert(2, nullptr);
    co_await out_.finish(std::move(oj));
    if (!log_row.empty()) co_await out_.print(1, std::move(log_row));   // --joblog -: after the job's output
    if (cfg_.progress) bar_.set_running(--running_, started_);
    out_.progress(tally_.finished + skipped_);
    if (cfg_.output == output_mode::ungroup && !tally_.reader_gone && out_.stdout_reader_gone()) {
        tally_.reader_gone = true;   // -u: the jobs write to stdout, pmap learns of its reader only this way
        stop_everything(SIGTERM);
    }
}

// The tag (--tagstring, --tag), coloured (--ctag, --color), that starts each line of a job.
std::string engine::prefix_of(std::span<const std::string_view> items, std::uint64_t seq, unsigned slot) const {
    std::string prefix = cfg_.colour ? colour_of(seq) : std::string();
    if (tag_) prefix += tag_->expand(items, seq, slot) + '\t';
    return prefix;
}

// --results' directories: the job's values, argument after argument, each
// argument holding one value per source (or per --colsep column; then one
// argument a job is assumed).
job_values engine::values_of(const std::vector<std::string>& items) const {
    std::size_t per = cfg_.colsep || (cfg_.max_args <= 1 && !cfg_.fill) ? items.size()
                                                                         : std::max<std::size_t>(1, cfg_.sources.size());
    job_values values;
    for (std::size_t i = 0; i < items.size(); i += per)
        values.emplace_back(items.begin() + i, items.begin() + std::min(items.size(), i + per));
    return values;
}

conc::task<void> engine::write_results(std::string text) {
    if (text.empty()) co_return;
    if (results_->table_on_stdout()) co_await out_.print(1, std::move(text));
    else results_->write_table(text);
}

// A job that pmap stopped did not end on its own: it is neither counted nor
// logged, so --resume runs it again.
std::string engine::record(const outcome& oc, std::uint64_t seq, const std::vector<std::string>& argv,
                           std::uint64_t received) {
    if (oc.stopped || !(oc.ran || oc.cannot_run)) return {};
    tally_.job_ended(oc.succeeded());
    std::string row;
    if (log_ || log_to_stdout_) {
        std::string command = shown_command(cfg_, argv);
        joblog_row r{seq, oc.start, oc.runtime, 0, received, exitval_of(oc), oc.status.signal(), command, oc.host};
        if (log_to_stdout_) {
            row = format_joblog_row(r);
        } else {
            try {
                log_->write(r);
            } catch (const conc::sys_error& e) {
                say(cli::describe(e));   // "cannot write the joblog 'PATH': REASON"
                log_.reset();
            }
        }
    }
    act_on(halt_.job_finished(oc.shell_code()));
    return row;
}

void engine::act_on(cli::stop_action a) {
    if (a == cli::stop_action::soon) stop_starting();
    else if (a == cli::stop_action::now) stop_everything(SIGTERM);
}

void engine::stop_starting() {
    if (stopping_) return;
    stopping_ = true;
    feeder_.cancel();
}

void engine::stop_everything(int sig) {
    stop_starting();
    if (hosts_) hosts_->stop();
    sup_.stop_all(sig);
}

// stdout failed: EPIPE (| head) stops quietly; anything else is said once.
// stderr failed: nothing can be said, and the jobs' stdout still matters.
void engine::output_failed(const conc::writer& w) {
    if (&w == &out_.err()) return;
    if (std::string msg = tally_.stdout_failed(w); !msg.empty()) say(msg);
    stop_everything(SIGTERM);
}

void engine::say(std::string msg) {
    messages_.push_back(lp_.spawn(out_.print(2, cli::program_name() + ": " + msg + "\n")));
}

int run(const config& cfg) {
    if (cfg.remote.onall || cfg.remote.nonall) return run_on_every_host(cfg);
    conc::loop lp;
    engine e(lp, cfg);
    int code = lp.run(e.run());
    if (std::string s = e.summary(); !s.empty()) cli::warn(s);
    return code;
}

}  // namespace pmap
