#include "onall.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "conc/child.hpp"
#include "conc/fd.hpp"
#include "conc/task_group.hpp"
#include "engine.hpp"
#include "joblog.hpp"
#include "messages.hpp"
#include "shell.hpp"
#include "output.hpp"
#include "supervisor.hpp"

namespace pmap {

namespace {

using namespace std::chrono_literals;

// The hosts of -S and --slf (read once: the run is planned per host up front).
std::vector<sshlogin> every_host(const remote_config& r) {
    std::vector<sshlogin> hosts = r.logins;
    if (!r.login_file.empty())
        if (auto more = sshlogin_file(r.login_file).changed()) hosts.insert(hosts.end(), more->begin(), more->end());
    return hosts;
}

// Standard input as a file each host's run reads from its start: an
// unlinked copy in $TMPDIR, opened afresh for each (its own offset).
conc::unique_fd copy_of_stdin() {
    std::string path = conc::temp_dir() + "/pmap-onall-XXXXXX";
    conc::unique_fd f(::mkostemp(path.data(), O_CLOEXEC));
    if (!f) throw conc::sys_error("create a file like '" + path + "'");
    ::unlink(path.c_str());
    char buf[64 * 1024];
    for (;;) {
        long n = conc::read_some(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) break;
        conc::write_all(f.get(), buf, std::size_t(n));
    }
    return f;
}

class every_host_run {
public:
    every_host_run(conc::loop& lp, const config& cfg)
        : lp_(lp), cfg_(cfg), sup_(lp, 1s), out_(lp, output_options_of(cfg)), hosts_(every_host(cfg.remote)) {
        out_.on_error([this](const conc::writer& w) {
            if (std::string msg = tally_.stdout_failed(w); !msg.empty()) cli::warn(msg);
            sup_.stop_all(SIGTERM);
        });
        if (!cfg.joblog.empty())   // the header once, here; each host's run adds its rows
            joblog_writer(cfg.joblog, cfg.joblog_append ? joblog_writer::mode::append : joblog_writer::mode::truncate);
        if (!cfg.remote.nonall && cfg.input == input_kind::stdin_records) input_ = copy_of_stdin();
    }

    // A stop signal reaches every host's run (each stops its jobs, there and
    // here); the hosts not started yet are not.
    conc::task<int> run() {
        for (std::size_t i = 0; i < hosts_.size() && !sup_.stopping(); ++i)
            co_await group_.start([this, i](unsigned) { return run_on(i); });
        co_await group_.join();
        co_await sup_.wait_stopped();
        co_await out_.close(tally_.finished);
        tally_.signal = sup_.signal();
        co_return tally_.code();
    }

private:
    // `pmap -S HOST -j1 ...` with the options given, for one host.
    std::vector<std::string> argv_for(const sshlogin& h) const {
        // By its path, so that its messages say "pmap: ..." as this one's do.
        std::string self = own_binary();
        std::vector<std::string> argv{self.empty() ? "/proc/self/exe" : self, "--sshlogin=" + h.name, "--jobs=1"};
        if (!cfg_.joblog.empty()) argv.push_back("--joblog=+" + cfg_.joblog);
        if (cfg_.tag && cfg_.tagstring == "{}") {   // --tag, --ctag: the host
            argv.push_back("--tagstring=" + h.name);
            if (cfg_.colour) argv.push_back("--color");
        }
        if (cfg_.remote.nonall) argv.push_back("--max-replace-args=0");   // one job, given no item
        argv.insert(argv.end(), cfg_.remote.inner.begin(), cfg_.remote.inner.end());
        if (cfg_.remote.nonall) argv.insert(argv.end(), {cfg_.arg_sep, "1"});
        return argv;
    }

    conc::task<void> run_on(std::size_t i) {
        if (sup_.stopping()) co_return;   // stopped while it waited for a slot
        conc::child_spec spec{.argv = argv_for(hosts_[i])};
        conc::unique_fd in;
        if (input_) {
            in = conc::open_file("/proc/self/fd/" + std::to_string(input_.get()), O_RDONLY | O_CLOEXEC);
            spec.in = conc::child_io::to(in.get());
        } else {
            spec.in = conc::child_io::devnull();
        }
        bool raw = cfg_.output == output_mode::ungroup;
        spec.out = raw ? conc::child_io::inherited() : conc::child_io::pipe();
        spec.err = spec.out;
        auto oj = out_.open(i + 1);
        conc::child c(lp_, std::move(spec));
        in.reset();
        cli::supervisor::adoption adopted(sup_, c);
        if (!raw) co_await out_.drain(*oj, c);
        conc::exit_status st = co_await c.exited();
        co_await out_.finish(std::move(oj));
        if (!sup_.stopping()) tally_.job_ended(st.success());
    }

    conc::loop& lp_;
    const config& cfg_;
    cli::supervisor sup_;
    cli::output out_;
    std::vector<sshlogin> hosts_;
    conc::task_group group_{cfg_.jobs_given ? cfg_.jobs : std::max<std::size_t>(hosts_.size(), 1)};
    conc::unique_fd input_;
    cli::exit_tally tally_;
};

}  // namespace

int run_on_every_host(const config& cfg) {
    conc::loop lp;
    every_host_run r(lp, cfg);
    return lp.run(r.run());
}

}  // namespace pmap
