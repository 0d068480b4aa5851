// parun: run several commands at once, wait on a policy, leave nothing behind.
//
//   parun --names db,web 'postgres -D data' 'python3 -m http.server'
//   parun -f Procfile --wait error --summary
//
// main() reads the command line into a parun::config (the list of commands
// and what to do with them); run.cpp runs it.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "messages.hpp"
#include "options.hpp"
#include "parun.hpp"
#include "procfile.hpp"
#include "shared_options.hpp"
#include "supervisor.hpp"
#include "units.hpp"

namespace {

enum : int { opt_wait = 256, opt_grace, opt_group, opt_raw, opt_hide, opt_stdin, opt_summary, opt_restart,
             opt_restart_delay, opt_ready, opt_color, opt_prefix };

std::vector<cli::option_spec> option_rows() {
    std::vector<cli::option_spec> rows =
        cli::shared_option_rows("stop every command after DUR (exit 124)", {'j', cli::opt_shared_timeout, cli::opt_shared_dry_run, 'v'});
    rows[0].help = "run at most N commands at once, the rest in order as slots free (default: all; also N%)";
    rows.insert(rows.end(), {
        {'f', "file", cli::arg::required, "FILE", "read 'name: command' lines from FILE (a Procfile; - for stdin)"},
        {'n', "names", cli::arg::required, "A,B,...", "name the commands (default: 1, 2, ...)"},
        {opt_wait, "wait", cli::arg::required, "WHEN", "all (default), first, error, or a command's NAME"},
        {opt_grace, "grace", cli::arg::required, "DUR", "between TERM and KILL when commands are stopped (default 2s)"},
        {opt_group, "group", cli::arg::none, nullptr, "write each command's output whole when it ends"},
        {opt_raw, "raw", cli::arg::none, nullptr, "commands write to parun's stdout and stderr directly, unprefixed"},
        {opt_prefix, "prefix", cli::arg::required, "FORMAT", "before each line: {name} {index} {pid} {time} (default '{name} |')"},
        {opt_color, "color", cli::arg::optional, "WHEN", "colour each name: auto (default: on a terminal, unless NO_COLOR), always, never"},
        {opt_hide, "hide", cli::arg::required, "NAME,...", "drop these commands' output"},
        {opt_stdin, "stdin", cli::arg::required, "NAME", "give parun's stdin to NAME (the others get /dev/null)"},
        {opt_summary, "summary", cli::arg::none, nullptr, "print a table of how each command ended on stderr"},
        {opt_restart, "restart", cli::arg::required, "N", "start a failed command again, up to N times (-1: always)"},
        {opt_restart_delay, "restart-delay", cli::arg::required, "DUR|exp", "before a restart (exp: 100ms doubling to 30s)"},
        {opt_ready, "ready", cli::arg::required, "NAME=REGEX", "start later commands once NAME printed a line matching REGEX"},
    });
    return rows;
}

const cli::option_table options{
    "[OPTION]... [--] COMMAND... | -f PROCFILE",
    "Run each COMMAND (a shell string) at once, prefix their output lines, wait on a policy.",
    option_rows(),
    "Exit status: --wait all: 0 if every command succeeded, 123 if not; first, NAME: that command's;\n"
    "error: 123 at the first failure; 124 --timeout; 2 usage; 128+n stopped by signal n.\n"
    "See parun(1)."};

std::vector<std::string> split_names(const std::string& list) {
    std::vector<std::string> names;
    std::size_t from = 0;
    for (std::size_t comma; (comma = list.find(',', from)) != std::string::npos; from = comma + 1)
        names.push_back(list.substr(from, comma - from));
    names.push_back(list.substr(from));
    return names;
}

// What options name, resolved once the commands are known.
struct named_options {
    std::string names, wait_name, stdin_name;
    std::vector<std::string> hide;
    std::vector<std::pair<std::string, std::string>> ready;   // NAME, REGEX
};

std::size_t index_of(const parun::config& cfg, const std::string& name, const char* option) {
    for (std::size_t i = 0; i < cfg.commands.size(); ++i)
        if (cfg.commands[i].name == name) return i;
    cli::usage_error(std::string(option) + ": no command is named '" + name + "'");
}

void name_the_commands(parun::config& cfg, const named_options& o) {
    if (!o.names.empty()) {
        std::vector<std::string> names = split_names(o.names);
        if (names.size() != cfg.commands.size())
            cli::usage_error("--names: " + std::to_string(names.size()) + " names for " +
                             std::to_string(cfg.commands.size()) + " commands");
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (std::string why = parun::name_problem(names[i]); !why.empty()) cli::usage_error("--names: " + why);
            for (std::size_t k = 0; k < i; ++k)
                if (names[k] == names[i]) cli::usage_error("--names: the name '" + names[i] + "' is given twice");
            cfg.commands[i].name = names[i];
        }
    }
    if (!o.wait_name.empty()) cfg.watched = index_of(cfg, o.wait_name, "--wait");
    if (!o.stdin_name.empty()) cfg.gets_stdin = index_of(cfg, o.stdin_name, "--stdin");
    cfg.hidden.assign(cfg.commands.size(), false);
    for (auto& h : o.hide) cfg.hidden[index_of(cfg, h, "--hide")] = true;
    cfg.ready.assign(cfg.commands.size(), nullptr);
    for (auto& [name, regex] : o.ready) {
        std::size_t i = index_of(cfg, name, "--ready");
        if (cfg.ready[i]) cli::usage_error("--ready: '" + name + "' is given twice");
        cfg.ready[i] = cli::parse_value("--ready", regex, [](auto& r) { return std::make_shared<const parun::line_pattern>(r); });
    }
}

parun::config read_command_line(int argc, char** argv) {
    cli::parsed_args args = options.parse(argc, argv);
    parun::config cfg;
    cli::shared_options shared;
    named_options named;
    std::string procfile;
    bool group = false, jobs_given = false;
    std::string color = "auto";
    bool prefix_given = false;
    for (auto& [key, v] : args.options) {
        if ((key == 'j' || key == 'P') && v == "0") cli::usage_error("-j: 0 is not a limit parun accepts; give N >= 1 (the default runs all at once)");
        jobs_given |= key == 'j' || key == 'P';
        try {
            if (shared.take(key, v)) continue;
        } catch (const cli::usage_problem& e) {
            cli::usage_error(e.what());
        }
        switch (key) {
        case 'f':
            if (!procfile.empty()) cli::usage_error("-f may be given once");
            procfile = v;
            break;
        case 'n': named.names = v; break;
        case opt_wait: cfg.wait = cli::parse_value("--wait", v, [&](auto& s) { return cli::parse_wait(s, &named.wait_name); }); break;
        case opt_grace: cfg.grace = cli::parse_value("--grace", v, cli::parse_duration); break;
        case opt_group: group = true; break;
        case opt_raw: cfg.output = cli::output_mode::raw; break;
        case opt_hide: {
            auto names = split_names(v);
            named.hide.insert(named.hide.end(), names.begin(), names.end());
            break;
        }
        case opt_stdin: named.stdin_name = v; break;
        case opt_summary: cfg.summary = true; break;
        case opt_prefix:
            prefix_given = true;
            cfg.prefix = cli::parse_value("--prefix", v, [](auto& f) { return parun::prefix_format(f); }); break;
        case opt_color: color = v.empty() ? "always" : v; break;
        case opt_restart: cfg.restarts = long(cli::parse_value("--restart", v, [](auto& s) { return cli::parse_count(s, -1, 1000000); })); break;
        case opt_restart_delay:
            cfg.restart_backoff = v == "exp";
            if (!cfg.restart_backoff) cfg.restart_delay = cli::parse_value("--restart-delay", v, cli::parse_duration);
            break;
        case opt_ready: {
            std::size_t eq = v.find('=');
            if (eq == std::string::npos || eq == 0) cli::usage_error("--ready: expected NAME=REGEX, not '" + v + "'");
            named.ready.emplace_back(v.substr(0, eq), v.substr(eq + 1));
            break;
        }
        }
    }
    if (group && cfg.output == cli::output_mode::raw) cli::usage_error("--group and --raw cannot be used together");
    if (group) cfg.output = cli::output_mode::held;
    if (cfg.output == cli::output_mode::raw && (prefix_given || color == "always"))
        cli::usage_error("--raw writes no prefix: --prefix and --color=always cannot be used with it");
    if (color != "auto" && color != "always" && color != "never")
        cli::usage_error("--color: expected auto, always or never, not '" + color + "'");
    const char* no_color = std::getenv("NO_COLOR");
    cfg.color = color == "always" || (color == "auto" && cfg.output != cli::output_mode::raw && ::isatty(STDOUT_FILENO) && !(no_color && *no_color));
    if (cfg.output == cli::output_mode::raw && !named.ready.empty())
        cli::usage_error("--ready needs to read the commands' output: it cannot be used with --raw");
    cfg.jobs = jobs_given ? shared.jobs : 0;
    cfg.timeout = shared.timeout;
    cfg.verbose = shared.verbose;
    cfg.dry_run = shared.dry_run;

    if (!procfile.empty()) {
        if (!args.operands.empty()) cli::usage_error("give commands on the command line or with -f, not both");
        if (!named.names.empty()) cli::usage_error("--names cannot rename a Procfile's commands");
        try {   // bad input: exit 2, before any command runs
            cfg.commands = parun::read_procfile(procfile);
        } catch (const parun::procfile_error& e) {
            cli::die(cli::exit_usage, e.what());
        } catch (const conc::sys_error& e) {
            cli::die(cli::exit_usage, cli::describe(e));
        }
    } else {
        if (args.operands.empty()) cli::usage_error("no command given");
        for (std::size_t i = 0; i < args.operands.size(); ++i) {
            const std::string& c = args.operands[i];
            if (c.find_first_not_of(" \t\n") == std::string::npos)
                cli::usage_error("command " + std::to_string(i + 1) + " is empty");
            cfg.commands.push_back({std::to_string(i + 1), c});
        }
    }
    name_the_commands(cfg, named);
    return cfg;
}

}  // namespace

int main(int argc, char** argv) {
    cli::fill_standard_fds();   // before anything opens an fd
    cli::set_program_name(argv[0]);
    parun::config cfg = read_command_line(argc, argv);
    try {
        return parun::run(cfg);
    } catch (const std::exception& e) {
        cli::die(e);
    }
}
