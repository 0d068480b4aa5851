#include "job.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <ctime>

#include "command_line.hpp"
#include "input.hpp"
#include "messages.hpp"
#include "results.hpp"

namespace pmap {

namespace {

double epoch_seconds() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// A command whose name is not substituted: if it cannot run once, it never will.
bool fixed_command(const command_template& t) {
    if (t.shell() || t.compiled().empty()) return false;
    auto& parts = t.compiled()[0].parts;
    return parts.size() <= 1 && (parts.empty() || parts[0].kind == command_template::part_kind::literal);
}

}  // namespace

void make_workdir(const std::string& dir) noexcept {
    try {
        make_directories(dir);
    } catch (const std::exception&) {   // the job says so when it cannot change into it
    }
}

std::vector<std::string> job_variables(const config& cfg, std::uint64_t seq, unsigned slot) {
    std::string s = std::to_string(seq), j = std::to_string(slot);
    std::vector<std::string> env{"PARALLEL_SEQ=" + s, "PARALLEL_JOBSLOT=" + j, "PMAP_SEQ=" + s, "PMAP_SLOT=" + j};
    if (!cfg.slot_variable.empty()) env.push_back(cfg.slot_variable + "=" + std::to_string(slot - 1));
    return env;
}

std::string shown_command(const config& cfg, const std::vector<std::string>& argv) {
    // A shell's command is its script (GNU parallel logs the script, and --retry-failed runs it again).
    if ((cfg.tmpl.shell || cfg.records_are_commands || cfg.retry_failed) && argv.size() == 3 && argv[1] == "-c")
        return argv[2];
    return cli::format_command(argv);
}

std::string shorten(std::string s) {
    if (s.size() > 200) s = s.substr(0, 200) + "...";
    for (char& c : s)
        if (c == '\0') c = '?';
    return s;
}

job_runner::job_runner(conc::loop& lp, const config& cfg, const command_template& tmpl, cli::output& out,
                       cli::supervisor& sup)
    : lp_(lp), cfg_(cfg), out_(out), sup_(sup), command_is_fixed_(fixed_command(tmpl)) {}

std::string job_runner::argument_problem(const std::vector<std::string>& argv) {
    for (std::size_t i = 0; i < argv.size(); ++i)
        if (argv[i].find('\0') != std::string::npos)
            return "argument " + std::to_string(i) + " holds a NUL byte, which no command can receive";
    if (auto i = too_long_argument(argv))
        return "argument " + std::to_string(*i) + " is too long (" + std::to_string(argv[*i].size()) +
               " bytes; the system's limit for one argument is " + std::to_string(max_arg_strlen - 1) + ")";
    // All of argv with the environment: checked here, not left to an E2BIG from exec.
    static const std::size_t room = argv_room(256);
    std::size_t size = sizeof(char*);
    for (const auto& a : argv) size += a.size() + 1 + sizeof(char*);
    if (size > room)
        return "the command line is too long (" + std::to_string(size) + " bytes; with the environment the system takes " +
               std::to_string(room) + ")";
    return {};
}

conc::task<outcome> job_runner::run(const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot,
                                    cli::output::job& oj, std::string cwd, attempt_fn elsewhere) {
    outcome oc;
    double start = epoch_seconds();
    auto t0 = conc::clock::now();
    if (std::string why = argument_problem(argv); !why.empty()) {
        co_await out_.print(2, cli::program_name() + ": job " + std::to_string(seq) + ": " + why + ": " +
                                   shorten(cli::format_command(argv)) + "\n");
        oc.cannot_run = true;
        oc.start = start;
        co_return oc;
    }
    if (cfg_.verbose) co_await out_.print(2, shown_command(cfg_, argv) + "\n");
    for (unsigned n = 1; n <= cfg_.attempts && !sup_.stopping(); ++n) {
        if (n > 1) oj.discard();   // a retry's output replaces the failed attempt's
        if (elsewhere) oc = co_await elsewhere(argv, seq, slot, oj, cwd);
        else oc = co_await attempt(argv, seq, slot, oj, cwd);
        if (!oc.ran || oc.status.success() || oc.stopped) break;
    }
    oc.start = start;
    oc.runtime = std::chrono::duration<double>(conc::clock::now() - t0).count();
    if (oc.timed_out)
        co_await out_.print(2, cli::program_name() + ": job " + std::to_string(seq) + " timed out: " +
                                   shorten(cli::format_command(argv)) + "\n");
    co_return oc;
}

conc::task<outcome> job_runner::attempt(const std::vector<std::string>& argv, std::uint64_t seq, unsigned slot,
                                        cli::output::job& oj, const std::string& cwd) {
    outcome oc;
    if (!cwd.empty()) make_workdir(cwd);   // GNU parallel makes --workdir
    bool raw = cfg_.output == output_mode::ungroup;
    conc::child_spec spec;
    spec.argv = argv;
    spec.in = cfg_.input == input_kind::stdin_records ? conc::child_io::devnull() : conc::child_io::inherited();
    spec.out = raw ? conc::child_io::inherited() : conc::child_io::pipe();
    spec.err = raw ? conc::child_io::inherited() : conc::child_io::pipe();
    spec.cwd = cwd;
    spec.env = job_variables(cfg_, seq, slot);
    auto started = conc::try_spawn(lp_, std::move(spec));
    oc.ran = true;
    // Not found (127) or not executable (126): a failed job.
    if (auto* failed = std::get_if<conc::spawn_error>(&started)) {
        co_await out_.print(2, cli::program_name() + ": " + cli::describe(*failed) + "\n");
        if (command_is_fixed_ && failed->err() != E2BIG && on_fatal_) on_fatal_(failed->exit_code());
        oc.status = conc::exit_status::exited_with(failed->exit_code());
        co_return oc;
    }
    conc::child& c = std::get<conc::child>(started);
    cli::supervisor::adoption adopted(sup_, c);
    bool fired = false;
    if (cfg_.timeout) adopted.stop_after(*cfg_.timeout, fired);
    if (!raw) co_await out_.drain(oj, c);
    oc.status = co_await c.exited();
    oc.timed_out = fired;
    // pmap began to stop while it ran, and it did not succeed: it did not end on its own.
    oc.stopped = !oc.status.success() && sup_.stopping();
    co_return oc;
}

}  // namespace pmap
