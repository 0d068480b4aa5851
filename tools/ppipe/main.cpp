// ppipe: the pipe shapes the shell cannot draw.
//
//   ppipe -k -j8 gzip -1 < big > big.gz             split: blocks of stdin over copies of a filter
//   ppipe --tee 'wc -l' 'sha256sum' < big           broadcast: the whole stream into each command
//   ppipe --duplex './client' './server'            both ways: each one's output is the other's input
//
// main() reads the command line into a ppipe::config; split.cpp, tee.cpp and
// duplex.cpp run the shapes on what session.cpp holds for all three.
#include <string>
#include <vector>

#include "messages.hpp"
#include "options.hpp"
#include "ppipe.hpp"
#include "shared_options.hpp"
#include "supervisor.hpp"
#include "units.hpp"

namespace {

enum : int { opt_block = 256, opt_recsize, opt_header, opt_round_robin, opt_tee, opt_duplex, opt_tag };

std::vector<cli::option_spec> option_rows() {
    std::vector<cli::option_spec> rows = cli::shared_option_rows("", {'j', '0', 'd', cli::opt_shared_bar, 'v'});
    rows[0].help = "run at most N copies at once (default: online CPUs; also N%, +N, -N, 0)";
    rows.insert(rows.end(), {
        {'k', "keep-order", cli::arg::none, nullptr, "write outputs in input order (--tee: in command order)"},
        {'s', "shell", cli::arg::none, nullptr, "COMMAND is a shell string, run by /bin/sh"},
        {opt_block, "block", cli::arg::required, "SIZE", "blocks of at most SIZE, cut at a record's end (default 1M)"},
        {opt_block, "block-size", cli::arg::required, "SIZE", "the same as --block"},
        {'N', "records", cli::arg::required, "N", "blocks of exactly N records instead"},
        {opt_recsize, "recsize", cli::arg::required, "N", "cut only after a multiple of N records (FASTQ: 4)"},
        {opt_header, "header", cli::arg::required, "N", "repeat the first N records atop every block"},
        {opt_round_robin, "round-robin", cli::arg::none, nullptr, "start the copies once and deal blocks to them"},
        {opt_tee, "tee", cli::arg::none, nullptr, "give the whole stream to each COMMAND (shell strings)"},
        {opt_duplex, "duplex", cli::arg::none, nullptr, "connect two COMMANDs both ways (shell strings)"},
        {opt_tag, "tag", cli::arg::none, nullptr, "--tee: prefix output lines with the command's number and a tab"},
    });
    return rows;
}

const cli::option_table options{
    "[OPTION]... [--] COMMAND [ARG]...\n"
    "  or:  ppipe --tee [OPTION]... COMMAND COMMAND...\n"
    "  or:  ppipe --duplex [-v] COMMAND_A COMMAND_B",
    "Cut stdin into blocks of whole records and pipe each into a copy of COMMAND, at most N at once;\n"
    "or give the whole stream to several commands (--tee); or connect two commands both ways (--duplex).",
    option_rows(),
    "{#} in COMMAND is the block number.\n"
    "Exit status: 0 every copy succeeded, 123 some failed, 126/127 COMMAND not runnable/found, 2 usage,\n"
    "128+n stopped by signal n.  See ppipe(1)."};

std::uint64_t parse_positive(const char* option, const std::string& v) {
    return std::uint64_t(cli::parse_value(option, v, [](auto& s) { return cli::parse_count(s, 1, 1LL << 40); }));
}

ppipe::config read_command_line(int argc, char** argv) {
    cli::parsed_args args = options.parse(argc, argv);
    ppipe::config cfg;
    cli::shared_options shared;
    bool tee = false, duplex = false, round_robin = false, by_records = false;
    for (auto& [key, v] : args.options) {
        try {
            if (shared.take(key, v)) continue;
        } catch (const cli::usage_problem& e) {
            cli::usage_error(e.what());
        }
        switch (key) {
        case 'k': cfg.keep_order = true; break;
        case 's': cfg.shell = true; break;
        case opt_block: {
            std::uint64_t size = cli::parse_value("--block", v, cli::parse_size);
            if (size == 0) cli::usage_error("--block: the size must be at least 1 byte");
            if (size > (std::uint64_t(1) << 40)) cli::usage_error("--block: '" + v + "' is too large");
            cfg.cut.block = std::size_t(size);
            break;
        }
        case 'N': cfg.cut.records = parse_positive("-N", v), by_records = true; break;
        case opt_recsize: cfg.cut.recsize = parse_positive("--recsize", v); break;
        case opt_header: cfg.cut.header = parse_positive("--header", v); break;
        case opt_round_robin: round_robin = true; break;
        case opt_tee: tee = true; break;
        case opt_duplex: duplex = true; break;
        case opt_tag: cfg.tag = true; break;
        }
    }
    cfg.jobs = shared.jobs;
    cfg.cut.delimiter = shared.delimiter;
    cfg.bar = shared.bar;
    cfg.bar_forced = shared.bar_forced;
    cfg.verbose = shared.verbose;
    cfg.commands = args.operands;

    if (tee + duplex + round_robin > 1) cli::usage_error("--tee, --duplex and --round-robin are different shapes: choose one");
    if (by_records && cfg.cut.recsize > 1) cli::usage_error("-N and --recsize cannot be used together");
    if (cfg.commands.empty()) cli::usage_error("no command given");
    if (tee || duplex) {
        const char* name = tee ? "--tee" : "--duplex";
        if (tee && cfg.commands.size() < 2) cli::usage_error("--tee needs at least two commands");
        if (duplex && cfg.commands.size() != 2) cli::usage_error("--duplex needs exactly two commands");
        if (cfg.shell) cli::usage_error(std::string(name) + ": every command is a shell string already; -s is not needed");
        if (duplex && cfg.keep_order) cli::usage_error("--duplex has no output to order: -k does not apply");
        cfg.shape = tee ? ppipe::shape::tee : ppipe::shape::duplex;
        return cfg;
    }
    if (cfg.tag) cli::usage_error("--tag is for --tee");
    if (round_robin && cfg.keep_order) cli::usage_error("--round-robin merges lines as they come: -k does not apply");
    if (cfg.shell && cfg.commands.size() > 1) {   // ppipe -s grep -c x: the words make one script
        std::string script;
        for (auto& w : cfg.commands) script += (script.empty() ? "" : " ") + w;
        cfg.commands = {script};
    }
    cfg.shape = round_robin ? ppipe::shape::round_robin : ppipe::shape::split;
    return cfg;
}

}  // namespace

int main(int argc, char** argv) {
    cli::fill_standard_fds();   // before anything opens an fd
    cli::set_program_name(argv[0]);
    ppipe::config cfg = read_command_line(argc, argv);
    try {
        switch (cfg.shape) {
        case ppipe::shape::tee: return ppipe::run_tee(cfg);
        case ppipe::shape::duplex: return ppipe::run_duplex(cfg);
        default: return ppipe::run_split(cfg);
        }
    } catch (const std::exception& e) {
        cli::die(e);
    }
}
