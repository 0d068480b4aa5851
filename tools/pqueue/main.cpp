// pqueue: a named queue shared between processes.
//
//   pqueue put jobs 'resize a.jpg'            find . -print0 | pqueue put -0 files
//   pqueue get --follow jobs | pmap -j8 ./work   pqueue close jobs
//
// A command word picks what to do; each has its own options, which may come
// before or after the queue's NAME (but not after put's first ITEM).  main()
// reads them into a pqueue::config; put.cpp and get.cpp move items,
// admin.cpp does the rest.  Nothing is built before it is needed: a put or a
// get of one item is, in the time it costs, little more than starting a process.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "messages.hpp"
#include "options.hpp"
#include "pqueue.hpp"
#include "shared_options.hpp"
#include "supervisor.hpp"
#include "units.hpp"

namespace {

using pqueue::command;

constexpr std::uint64_t min_bytes = 4096, max_bytes = std::uint64_t(1) << 40;

enum : int { opt_all = 256, opt_follow, opt_nowait, opt_maxsize, opt_bytes, opt_lifo, opt_priority_kind, opt_mode, opt_check };

struct command_spec {
    const char* word;
    command cmd;
    const char* synopsis;     // after "pqueue "
    const char* description;
    bool takes_name;
    bool more_operands;       // put: ITEM...; rm: NAME...
};

constexpr command_spec commands[] = {
    {"put", command::put, "put [OPTION]... NAME [ITEM]...",
     "Put each ITEM into the queue NAME, or each record of standard input when there is none.", true, true},
    {"get", command::get, "get [OPTION]... NAME",
     "Take an item from the queue NAME and write it to standard output with its delimiter.", true, false},
    {"create", command::create, "create [OPTION]... NAME",
     "Make the queue NAME with these settings (nothing to do if it exists with the same ones).", true, false},
    {"size", command::size, "size NAME", "Print the number of items in the queue NAME.", true, false},
    {"empty", command::empty, "empty NAME", "Exit 0 if the queue NAME is empty, 1 if not.", true, false},
    {"full", command::full, "full NAME", "Exit 0 if the queue NAME is full, 1 if not.", true, false},
    {"stat", command::stat, "stat [--check] NAME", "Print the state of the queue NAME as 'key: value' lines.", true, false},
    {"ls", command::ls, "ls", "Print the names of the queues in shared memory, one a line.", false, false},
    {"rm", command::rm, "rm [-f] NAME...", "Remove each queue NAME; whoever waits on it exits 1.", true, true},
    {"close", command::close, "close NAME", "Put no more items into the queue NAME; getters drain it, then exit 1.", true, false},
    {"done", command::done, "done [-n COUNT] NAME", "Mark COUNT items taken from the queue NAME as processed (task_done).", true, false},
    {"join", command::join, "join [--timeout DUR] NAME", "Wait until every item put into the queue NAME is marked done.", true, false},
};

const char* const exit_status_text =
    "Exit status: 0 ok; 1 no item (empty with --nowait, closed and empty), full with --nowait,\n"
    "closed, removed, or not empty/full; 2 usage or bad input; 124 --timeout; 125 failure;\n"
    "128+n signal n (141: the reader of stdout went away).  See pqueue(1).";

std::vector<cli::option_spec> option_rows(command cmd) {
    using cli::arg;
    std::vector<cli::option_spec> rows;
    auto shared = [&](std::initializer_list<int> keys, const char* timeout_help) {
        auto r = cli::shared_option_rows(timeout_help, keys);
        rows.insert(rows.end(), r.begin(), r.end());
    };
    switch (command c = cmd; c) {
    case command::put:
        shared({'0', 'd', cli::opt_shared_timeout}, "wait at most DUR for room (exit 124)");
        rows.insert(rows.end(), {
            {'p', "priority", arg::required, "P", "the item's priority in a priority queue (lower first; default 0)"},
            {opt_nowait, "nowait", arg::none, nullptr, "exit 1 at once if the queue is full"},
        });
        break;
    case command::get:
        shared({'0', 'd', cli::opt_shared_timeout}, "wait at most DUR for each item (exit 124)");
        rows[0].help = "write a NUL after each item";
        rows[1].help = "write the byte C after each item";
        rows.insert(rows.end(), {
            {'n', "count", arg::required, "COUNT", "take COUNT items, waiting for each"},
            {opt_all, "all", arg::none, nullptr, "take every item there is now, and wait for none"},
            {opt_follow, "follow", arg::none, nullptr, "keep taking items until the queue is closed and empty"},
            {opt_nowait, "nowait", arg::none, nullptr, "exit 1 at once if the queue is empty"},
        });
        break;
    case command::create:
        rows = {
            {opt_maxsize, "maxsize", arg::required, "N", "hold at most N items (default 0: no limit but the bytes)"},
            {opt_bytes, "bytes", arg::required, "SIZE", "hold at most SIZE bytes of items (4K to 1T; default 16M)"},
            {opt_lifo, "lifo", arg::none, nullptr, "last in, first out"},
            {opt_priority_kind, "priority", arg::none, nullptr, "lowest priority first (put -p P)"},
            {opt_mode, "mode", arg::required, "OCTAL", "permissions (default 0600)"},
        };
        break;
    case command::stat:
        rows = {{opt_check, "check", cli::arg::none, nullptr, "also check the queue's structure: 'consistent: yes' or exit 1"}};
        break;
    case command::rm: rows = {{'f', "force", arg::none, nullptr, "a queue that does not exist is no error"}}; break;
    case command::done: rows = {{'n', "count", arg::required, "COUNT", "mark COUNT items done (default 1)"}}; break;
    case command::join: shared({cli::opt_shared_timeout}, "wait at most DUR (exit 124)"); break;
    default: break;
    }
    return rows;
}

const command_spec* find_command(std::string_view word) {
    for (auto& c : commands)
        if (word == c.word) return &c;
    return nullptr;
}

// "pqueue" alone: the list of commands.
[[noreturn]] void top_level(int argc, char** argv) {
    std::string list = "Commands:\n";
    for (auto& c : commands) list += std::string("  ") + c.synopsis + "\n";
    list += "\n'pqueue COMMAND --help' shows a command's options.\n";
    list += exit_status_text;
    const cli::option_table table{"COMMAND [OPTION]... NAME ...", "A named queue shared between processes.", {}, list};
    cli::parsed_args args = table.parse(argc, argv);   // -h, -V, and bad options exit here
    if (args.operands.empty()) cli::usage_error("no command given");
    cli::usage_error("unknown command '" + args.operands[0] + "'");
}

// The mode of create --mode: octal, 0 to 0777.
mode_t parse_mode(const std::string& v) {
    if (v.empty() || v.size() > 4 || v.find_first_not_of("01234567") != std::string::npos)
        throw cli::bad_value("expected an octal mode from 0 to 0777, not '" + v + "'");
    unsigned long m = std::stoul(v, nullptr, 8);
    if (m > 0777) throw cli::bad_value("expected an octal mode from 0 to 0777, not '" + v + "'");
    return mode_t(m);
}

pqueue::config read_command_line(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-' || !find_command(argv[1])) top_level(argc, argv);
    const command_spec& spec = *find_command(argv[1]);
    pqueue::config cfg;
    cfg.cmd = spec.cmd;
    const cli::option_table table{spec.synopsis, spec.description, option_rows(spec.cmd), exit_status_text};

    // Options before NAME, then (unless "--" came first) options after it.
    int sub_argc = argc - 1;
    char** sub_argv = argv + 1;
    cli::parsed_args args = table.parse(sub_argc, sub_argv);
    std::vector<std::pair<int, std::string>> options = std::move(args.options);
    std::vector<std::string> operands = std::move(args.operands);
    bool dashdash = args.first_operand > 1 && std::strcmp(sub_argv[args.first_operand - 1], "--") == 0;
    if (!operands.empty() && !dashdash) {
        cli::parsed_args after = table.parse(sub_argc - args.first_operand, sub_argv + args.first_operand);
        options.insert(options.end(), after.options.begin(), after.options.end());
        operands.resize(1);
        operands.insert(operands.end(), after.operands.begin(), after.operands.end());
    }

    bool amount_given = false, kind_given = false;
    auto amount = [&](pqueue::get_amount a, const char* opt) {
        if (amount_given) cli::usage_error(std::string(opt) + ": give one of -n, --all and --follow");
        amount_given = true;
        cfg.amount = a;
    };
    for (auto& [key, v] : options) {
        switch (key) {   // -0, -d, --timeout: the shared options' parsers (not shared_options, which counts CPUs)
        case '0': cfg.delimiter = '\0'; break;
        case 'd': cfg.delimiter = cli::parse_value("-d", v, cli::parse_delimiter); break;
        case cli::opt_shared_timeout: cfg.timeout = cli::parse_value("--timeout", v, cli::parse_duration); break;
        case 'p':
            cfg.priority = cli::parse_value("-p", v, [](auto& s) {
                return cli::parse_count(s, INT64_MIN, INT64_MAX);
            });
            cfg.priority_given = true;
            break;
        case 'n':
            cfg.count = std::uint64_t(cli::parse_value("-n", v, [](auto& s) { return cli::parse_count(s, 1, INT64_MAX); }));
            if (spec.cmd == command::get) amount(pqueue::get_amount::count, "-n");
            break;
        case opt_all: amount(pqueue::get_amount::all, "--all"); break;
        case opt_follow: amount(pqueue::get_amount::follow, "--follow"); break;
        case opt_nowait: cfg.nowait = true; break;
        case opt_maxsize:
            cfg.maxsize = std::uint64_t(cli::parse_value("--maxsize", v, [](auto& s) { return cli::parse_count(s, 0, INT64_MAX); }));
            break;
        case opt_bytes:
            cfg.bytes = cli::parse_value("--bytes", v, cli::parse_size);
            if (*cfg.bytes < min_bytes || *cfg.bytes > max_bytes)
                cli::usage_error("--bytes: expected a size from 4K to 1T, not '" + v + "'");
            break;
        case opt_lifo:
        case opt_priority_kind:
            if (kind_given) cli::usage_error("give one of --lifo and --priority");
            kind_given = true;
            cfg.kind = key == opt_lifo ? conc::queue_kind::lifo : conc::queue_kind::priority;
            break;
        case opt_mode: cfg.mode = cli::parse_value("--mode", v, parse_mode); break;
        case 'f': cfg.force = true; break;
        case opt_check: cfg.check = true; break;
        }
    }
    if (cfg.nowait && cfg.timeout) cli::usage_error("give one of --nowait and --timeout");
    if (cfg.amount == pqueue::get_amount::follow && cfg.nowait)
        cli::usage_error("--follow waits for items and --nowait says not to (--all takes what is there)");
    if (cfg.amount == pqueue::get_amount::all && cfg.timeout) cli::usage_error("--all waits for nothing: --timeout has no use");

    if (!spec.takes_name) {
        if (!operands.empty()) cli::usage_error("'" + std::string(spec.word) + "' takes no operand ('" + operands[0] + "')");
        return cfg;
    }
    if (operands.empty()) cli::usage_error("no queue NAME given");
    cfg.name = operands[0];
    cfg.operands.assign(operands.begin() + 1, operands.end());
    if (!spec.more_operands && !cfg.operands.empty()) cli::usage_error("unexpected operand '" + cfg.operands[0] + "'");
    return cfg;
}

}  // namespace

int main(int argc, char** argv) {
    cli::fill_standard_fds();   // before anything opens an fd
    cli::set_program_name(argv[0]);
    pqueue::config cfg = read_command_line(argc, argv);
    try {
        switch (cfg.cmd) {
        case command::put: return pqueue::put(cfg);
        case command::get: return pqueue::get(cfg);
        case command::create: return pqueue::create(cfg);
        case command::size:
        case command::empty:
        case command::full:
        case command::stat: return pqueue::inspect(cfg);
        case command::ls: return pqueue::list(cfg);
        case command::rm: return pqueue::remove(cfg);
        case command::close: return pqueue::close(cfg);
        case command::done: return pqueue::task_done(cfg);
        case command::join: return pqueue::join(cfg);
        }
        return cli::exit_internal;
    } catch (const std::exception& e) {
        cli::die(e);
    }
}
