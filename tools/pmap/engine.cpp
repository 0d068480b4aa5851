// pmap's engine: one coroutine feeds items and starts jobs as slots free up;
// each job is a coroutine that spawns its command, drains its output and
// reaps it; output leaves whole per job (or line by line), in completion or
// input order.  Everything runs on one conc::loop: no threads, no locks.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string_view>

#include "conc/co_sync.hpp"
#include "conc/loop.hpp"
#include "conc/process.hpp"
#include "conc/records.hpp"
#include "conc/reorder.hpp"
#include "conc/signals.hpp"
#include "conc/wait.hpp"
#include "joblog.hpp"
#include "messages.hpp"
#include "pmap.hpp"
#include "progress.hpp"

namespace pmap {
namespace {

using namespace std::chrono_literals;
using conc::task;

constexpr auto kill_grace = 1s;                          // TERM, then KILL this much later
constexpr std::size_t spill_memory = 32u << 20;          // output held in memory before it goes to disk
constexpr std::size_t read_chunk = 64u << 10;

// Where one stream of one job goes (stdout or stderr).
struct sink {
    int target;                 // 1 or 2
    conc::spool held;           // group mode: everything, written when the job ends
    std::string partial;        // line mode: the unfinished last line
    bool at_line_start = true;  // --tag: the next byte starts a line
    sink(int fd, conc::spill_store& store) : target(fd), held(store) {}
};

// What a finished job leaves for output in input order.
struct finished_output {
    std::unique_ptr<sink> out, err;
};

double epoch_seconds() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

class engine {
public:
    explicit engine(const config& c)
        : cfg_(c), tmpl_(c.command, c.tmpl), store_(spill_memory), halt_(c.halt),
          // No --bar, no bar: fd -1 is never a terminal.
          bar_("pmap", std::nullopt, c.bar_forced, std::chrono::steady_clock::now(), c.bar ? STDERR_FILENO : -1),
          read_buf_(read_chunk) {
        running_procs_.resize(c.jobs, nullptr);
        for (unsigned s = c.jobs; s > 0; --s) free_slots_.push_back(s);
        streams_lines_ = c.output == output_mode::line && !c.keep_order;
        // A failed command name is fatal (xargs: 127 at once) unless the name itself is substituted.
        command_is_fixed_ = !tmpl_.compiled().empty() && tmpl_.compiled()[0].parts.size() <= 1 &&
                            (tmpl_.compiled()[0].parts.empty() ||
                             tmpl_.compiled()[0].parts[0].kind == command_template::part_kind::literal) &&
                            !tmpl_.shell();
    }

    int run() {
        conc::ignore_sigpipe();
        if (!cfg_.joblog.empty()) {
            if (cfg_.resume || cfg_.resume_failed) resume_ = read_joblog(cfg_.joblog);
            log_.emplace(cfg_.joblog, (cfg_.resume || cfg_.resume_failed) ? joblog_writer::mode::append
                                                                          : joblog_writer::mode::truncate);
        }
        open_input();
        conc::loop lp;
        lp_ = &lp;
        return lp.run(main());
    }

private:
    // ---- the whole run ----------------------------------------------------

    task<int> main() {
        conc::signal_set sigs(*lp_, {SIGINT, SIGTERM, SIGHUP});
        auto watcher = lp_->spawn(watch_signals(sigs));
        feeder_ = lp_->spawn(feed());
        std::vector<conc::job<void>> feeders{feeder_};
        co_await conc::wait(feeders);
        std::exception_ptr input_error = feeder_.cancelled() ? nullptr : feeder_.exception();
        if (input_error) stop(SIGTERM);
        while (running_ > 0) {
            all_idle_.clear();
            co_await all_idle_.wait();
        }
        watcher.cancel();
        if (bar_.enabled()) bar_.finish(finished_, std::chrono::steady_clock::now());
        if (input_error) std::rethrow_exception(input_error);
        if (job_error_) std::rethrow_exception(job_error_);
        co_return exit_status();
    }

    int exit_status() {
        if (broken_pipe_) return cli::exit_signal_base + SIGPIPE;
        if (stop_signal_) return cli::exit_signal_base + stop_signal_;
        if (fatal_exit_) return fatal_exit_;
        if (failed_ > 0) {
            cli::warn(std::to_string(failed_) + " of " + std::to_string(finished_) +
                      " jobs failed");
            return cli::exit_failed;
        }
        return cli::exit_ok;
    }

    // Stops starting jobs; with a signal, passes it on and KILLs after a grace period.
    void stop(int sig) {
        if (!stopping_) {
            stopping_ = true;
            if (feeder_.valid() && !feeder_.done()) feeder_.cancel();
        }
        if (sig) {
            signal_all(sig);
            if (sig != SIGKILL && !killer_started_) {
                killer_started_ = true;
                lp_->spawn(kill_after_grace());
            }
        }
    }

    void signal_all(int sig) {
        for (conc::process* p : running_procs_)
            if (p) p->kill(sig);
    }

    task<void> kill_after_grace() {
        co_await lp_->sleep_for(kill_grace);
        signal_all(SIGKILL);
    }

    task<void> watch_signals(conc::signal_set& sigs) {
        for (;;) {
            int sig = co_await sigs.next();
            if (!stop_signal_) {
                stop_signal_ = sig;
                stop(sig);
            } else {
                stop(SIGKILL);   // a second signal: no more grace
            }
        }
    }

    // ---- input ------------------------------------------------------------

    void open_input() {
        if (cfg_.input == input_kind::arguments) {
            std::size_t n = cfg_.arguments.size();
            total_jobs_ = (n + cfg_.max_args - 1) / cfg_.max_args;
            return;
        }
        int fd = 0;
        if (cfg_.input == input_kind::file_records) {
            input_file_ = conc::open_file(cfg_.arg_file, O_RDONLY);
            fd = input_file_.get();
            if (cfg_.bar || cfg_.halt.percent) total_jobs_ = count_records(fd);
        }
        reader_.emplace(fd, cfg_.delimiter);
    }

    std::uint64_t count_records(int fd) {
        conc::record_reader r(fd, cfg_.delimiter);
        std::uint64_t n = 0;
        while (r.next()) ++n;
        ::lseek(fd, 0, SEEK_SET);
        return (n + cfg_.max_args - 1) / cfg_.max_args;
    }

    // Up to max_args items for the next job; empty at the end of input.
    task<std::vector<std::string>> next_items() {
        std::vector<std::string> items;
        while (items.size() < cfg_.max_args) {
            if (!reader_) {
                if (arg_index_ >= cfg_.arguments.size()) break;
                items.push_back(cfg_.arguments[arg_index_++]);
                continue;
            }
            std::optional<std::string_view> rec;
            while (!(rec = reader_->try_next()) && !reader_->at_eof()) {
                co_await lp_->readable(reader_->fd());
                reader_->fill();
            }
            if (!rec) break;
            items.emplace_back(*rec);
        }
        co_return items;
    }

    task<void> feed() {
        std::uint64_t seq = 0;
        auto last_start = conc::clock::time_point::min();
        for (;;) {
            std::vector<std::string> items = co_await next_items();
            if (items.empty()) break;
            ++seq;
            if (resume_.skip(seq, cfg_.resume_failed)) {
                if (cfg_.keep_order) deliver_in_order(seq, {});
                continue;
            }
            if (cfg_.dry_run) {
                std::vector<std::string_view> views(items.begin(), items.end());
                emit(1, format_command(tmpl_.expand(views, seq, 1)) + "\n");
                continue;
            }
            co_await slots_.acquire();
            if (stopping_) {
                slots_.release();
                break;
            }
            if (cfg_.delay) {
                auto next = last_start == conc::clock::time_point::min() ? last_start : last_start + *cfg_.delay;
                if (conc::clock::now() < next) co_await lp_->sleep_until(next);
                last_start = conc::clock::now();
            }
            unsigned slot = free_slots_.back();
            free_slots_.pop_back();
            ++running_;
            lp_->spawn(run_job(seq, slot, std::move(items)));
        }
        if (!total_jobs_) total_jobs_ = seq;
        bar_.set_total(total_jobs_);
        after_halt_check(halt_.set_total(*total_jobs_));
    }

    // ---- one job ----------------------------------------------------------

    struct outcome {
        conc::exit_status status;
        bool ran = false;        // the command started
        bool timed_out = false;
        bool cannot_run = false; // never started: bad argument
    };

    task<void> run_job(std::uint64_t seq, unsigned slot, std::vector<std::string> items) {
        std::vector<std::string_view> views(items.begin(), items.end());
        std::vector<std::string> argv = tmpl_.expand(views, seq, slot);
        std::string tag;
        if (cfg_.tag) {
            for (auto& it : items) tag += (tag.empty() ? "" : " ") + it;
            tag += '\t';
        }
        auto out = std::make_unique<sink>(1, store_);
        auto err = std::make_unique<sink>(2, store_);
        double started = epoch_seconds();
        auto t0 = conc::clock::now();
        outcome oc;
        if (std::string why = argument_problem(argv); !why.empty()) {
            cli::warn("job " + std::to_string(seq) + ": " + why + ": " + shorten(format_command(argv)));
            oc.cannot_run = true;
        } else {
            if (cfg_.verbose) emit(2, format_command(argv) + "\n");
            for (unsigned attempt = 1; attempt <= cfg_.attempts && !stopping_; ++attempt) {
                if (attempt > 1) {
                    out->held.clear();
                    err->held.clear();
                }
                try {
                    oc = co_await execute(argv, seq, slot, *out, *err, tag);
                } catch (...) {
                    // pmap itself failed (out of fds, a write error): stop everything, report it at the end.
                    if (!job_error_) job_error_ = std::current_exception();
                    stop(SIGTERM);
                    break;
                }
                if (!oc.ran || oc.status.success()) break;
            }
        }
        double runtime = std::chrono::duration<double>(conc::clock::now() - t0).count();
        bool ok = oc.ran && oc.status.success();
        if (oc.ran || oc.cannot_run) {
            ++finished_;
            if (!ok) ++failed_;
            if (oc.timed_out)
                cli::warn("job " + std::to_string(seq) + " timed out: " + shorten(format_command(argv)));
            if (log_) {
                int exitval = oc.cannot_run ? cli::exit_cannot_exec : oc.status.exited() ? oc.status.code() : 0;
                write_log(seq, slot, started, runtime, exitval, oc.status.signal(), format_command(argv));
            }
        }
        if (cfg_.keep_order) deliver_in_order(seq, finished_output{std::move(out), std::move(err)});
        else if (cfg_.output == output_mode::group) flush_job(*out, *err);
        free_slots_.push_back(slot);
        slots_.release();
        if (oc.ran || oc.cannot_run) after_halt_check(halt_.job_finished(ok));
        if (bar_.enabled()) bar_.update(finished_, std::chrono::steady_clock::now());
        if (--running_ == 0) all_idle_.set();
    }

    // One attempt: spawn, drain stdout and stderr, reap.
    task<outcome> execute(const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot, sink& out,
                          sink& err, const std::string& tag) {
        outcome oc;
        bool piped = cfg_.output != output_mode::ungroup;
        conc::pipe_pair po, pe;
        conc::spawn_spec spec;
        spec.argv = argv;
        spec.new_process_group = true;
        spec.in = cfg_.input == input_kind::stdin_records ? conc::stdio::devnull() : conc::stdio::inherited();
        spec.env = {"PMAP_SEQ=" + std::to_string(seq), "PMAP_SLOT=" + std::to_string(slot)};
        if (piped) {
            po = conc::make_pipe();
            pe = conc::make_pipe();
            spec.out = conc::stdio::to(po.write.get());
            spec.err = conc::stdio::to(pe.write.get());
        }
        conc::process proc;
        try {
            proc = conc::spawn(spec);
        } catch (const conc::spawn_error& e) {
            cli::warn(cli::describe(e));
            if (command_is_fixed_ && e.err() != E2BIG) {
                if (!fatal_exit_) fatal_exit_ = e.exit_code();
                stop(0);
            }
            oc.ran = true;
            oc.status = conc::exit_status::exited_with(e.exit_code());
            co_return oc;
        }
        oc.ran = true;
        running_slot guard(running_procs_[slot - 1], proc);
        if (stopping_ && stop_signal_) proc.kill(stop_signal_);   // a signal came while it started

        std::shared_ptr<watched> target;
        conc::job<void> dog;
        if (cfg_.timeout) {
            target = std::make_shared<watched>(proc.pgid());
            dog = lp_->spawn(watchdog(target, *cfg_.timeout));
        }
        struct end_watch {   // however this attempt ends, the watchdog never signals a reaped group
            watched* w;
            conc::job<void>& dog;
            ~end_watch() {
                if (w) w->alive = false;
                dog.cancel();
            }
        } ending{target.get(), dog};
        if (piped) {
            po.write.reset();
            pe.write.reset();
            auto err_drain = lp_->spawn(drain(pe.read.get(), err, tag));
            co_await drain(po.read.get(), out, tag);
            co_await err_drain;
        }
        oc.status = co_await lp_->child_exit(proc);
        oc.timed_out = target && target->fired;
        co_return oc;
    }

    // Lists a job's process for signal_all() while it runs.
    struct running_slot {
        conc::process*& place;
        running_slot(conc::process*& p, conc::process& proc) : place(p) { place = &proc; }
        ~running_slot() { place = nullptr; }
    };

    // What a watchdog may signal: shared, so it outlives the attempt safely.
    struct watched {
        pid_t pgid;
        bool alive = true;
        bool fired = false;
        explicit watched(pid_t g) : pgid(g) {}
    };

    task<void> watchdog(std::shared_ptr<watched> w, std::chrono::nanoseconds limit) {
        co_await lp_->sleep_for(limit);
        if (!w->alive) co_return;
        w->fired = true;
        conc::kill_group(w->pgid, SIGTERM);
        co_await lp_->sleep_for(kill_grace);
        if (w->alive) conc::kill_group(w->pgid, SIGKILL);
    }

    // The pipe stays blocking (no fcntl per job): read() only after poll says
    // it is readable, when it returns at once.
    task<void> drain(int fd, sink& s, const std::string& tag) {
        for (;;) {
            co_await lp_->readable(fd);
            long n = conc::read_some(fd, read_buf_.data(), read_buf_.size());
            if (n <= 0) break;
            take(s, std::string_view(read_buf_.data(), std::size_t(n)), tag);
        }
        if (streams_lines_ && !s.partial.empty()) {   // the last line, without its newline
            emit(s.target, tag.empty() ? s.partial : tagged(s.partial, tag, s.at_line_start));
            s.partial.clear();
        }
    }

    // New bytes from a job: held whole (group, -k) or passed on by whole lines.
    void take(sink& s, std::string_view data, const std::string& tag) {
        if (streams_lines_) {
            std::size_t last = data.rfind('\n');
            if (last == std::string_view::npos) {
                s.partial.append(data);
                return;
            }
            std::string_view lines = data.substr(0, last + 1);
            if (!s.partial.empty()) {   // only then is a copy needed, to join the pieces
                s.partial.append(lines);
                lines = s.partial;
            }
            if (tag.empty()) emit(s.target, lines);
            else emit(s.target, tagged(lines, tag, s.at_line_start));
            s.partial.assign(data.substr(last + 1));
            return;
        }
        if (tag.empty()) s.held.append(data);
        else s.held.append(tagged(data, tag, s.at_line_start));
    }

    static std::string tagged(std::string_view data, const std::string& tag, bool& at_line_start) {
        std::string r;
        r.reserve(data.size() + tag.size() * 4);
        for (char c : data) {
            if (at_line_start) r += tag;
            r += c;
            at_line_start = c == '\n';
        }
        return r;
    }

    // ---- output -------------------------------------------------------------

    void flush_job(sink& out, sink& err) {
        write_spool(out);
        write_spool(err);
    }

    void write_spool(sink& s) {
        if (s.held.empty()) return;
        if (dropped(s.target)) {
            s.held.clear();
            return;
        }
        try {
            s.held.write_to(s.target);
        } catch (const conc::sys_error& e) {
            if (e.err() != EPIPE) throw;
            s.held.clear();
            on_broken_pipe(s.target);
        }
    }

    void deliver_in_order(std::uint64_t seq, finished_output done) {
        order_.put(seq, std::move(done));
        while (auto next = order_.pop())
            if (next->out) flush_job(*next->out, *next->err);
    }

    void emit(int fd, std::string_view data) {
        if (dropped(fd)) return;
        if (bar_.enabled() && fd == 2) bar_.clear();
        try {
            conc::write_all(fd, data);
        } catch (const conc::sys_error& e) {
            if (e.err() != EPIPE) throw;
            on_broken_pipe(fd);
        }
    }

    bool dropped(int fd) const { return fd == 1 ? broken_pipe_ : stderr_gone_; }

    // The reader of stdout went away (| head): stop quietly and promptly.
    void on_broken_pipe(int fd) {
        if (fd == 2) {
            stderr_gone_ = true;
            return;
        }
        broken_pipe_ = true;
        stop(SIGTERM);
    }

    void write_log(std::uint64_t seq, unsigned slot, double start, double runtime, int exitval, int sig,
                   const std::string& command) {
        try {
            log_->write(seq, slot, start, runtime, exitval, sig, command);
        } catch (const conc::sys_error& e) {
            cli::warn("cannot write the joblog '" + cfg_.joblog + "': " + std::strerror(e.err()));
            log_.reset();
        }
    }

    void after_halt_check(halt_action a) {
        if (a == halt_action::soon) stop(0);
        else if (a == halt_action::now) stop(SIGTERM);
    }

    // ---- argument checks ----------------------------------------------------

    static std::string argument_problem(const std::vector<std::string>& argv) {
        for (std::size_t i = 0; i < argv.size(); ++i)
            if (argv[i].find('\0') != std::string::npos)
                return "argument " + std::to_string(i) + " holds a NUL byte, which no command can receive";
        if (auto i = too_long_argument(argv))
            return "argument " + std::to_string(*i) + " is too long (" + std::to_string(argv[*i].size()) +
                   " bytes; the system's limit for one argument is " + std::to_string(max_arg_strlen - 1) + ")";
        return {};
    }

    static std::string shorten(std::string s) {
        if (s.size() > 200) s = s.substr(0, 200) + "...";
        for (char& c : s)
            if (c == '\0') c = '?';
        return s;
    }

    const config& cfg_;
    command_template tmpl_;
    conc::spill_store store_;
    conc::reorder_buffer<finished_output> order_;
    halt_tracker halt_;
    cli::progress_bar bar_;
    std::optional<joblog_writer> log_;
    joblog_state resume_;
    conc::unique_fd input_file_;
    std::optional<conc::record_reader> reader_;
    std::size_t arg_index_ = 0;
    std::optional<std::uint64_t> total_jobs_;
    std::vector<char> read_buf_;

    conc::loop* lp_ = nullptr;
    conc::job<void> feeder_;
    conc::co::semaphore slots_{cfg_.jobs};
    std::vector<unsigned> free_slots_;
    std::vector<conc::process*> running_procs_;
    conc::co::event all_idle_;
    std::size_t running_ = 0;
    std::uint64_t finished_ = 0, failed_ = 0;
    bool command_is_fixed_ = false;
    bool streams_lines_ = false;   // --line-buffer without -k: lines go out as they come
    bool stopping_ = false;
    bool killer_started_ = false;
    bool broken_pipe_ = false;
    bool stderr_gone_ = false;
    int stop_signal_ = 0;
    std::exception_ptr job_error_;
    int fatal_exit_ = 0;
};

}  // namespace

int run(const config& cfg) {
    engine e(cfg);
    return e.run();
}

}  // namespace pmap
