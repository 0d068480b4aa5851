#include "source_options.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <stdexcept>

#include "command_template.hpp"
#include "conc/fd.hpp"
#include "messages.hpp"
#include "units.hpp"

namespace pmap {

namespace {

enum : int {
    opt_colsep = 512, opt_link, opt_header, opt_trim, opt_shuf, opt_max_chars, opt_plus, opt_rpl, opt_arg_sep,
    opt_arg_file_sep,
};

std::size_t count_of(const char* opt, const std::string& v, long long min) {
    return std::size_t(cli::parse_value(opt, v, [min](auto& s) { return cli::parse_count(s, min, 1LL << 40); }));
}

// ::: and :::: (or --arg-sep's and --arg-file-sep's), each with its + form.
struct separators {
    const config& cfg;
    bool items(const std::string& s) const { return s == cfg.arg_sep || s == cfg.arg_sep + "+"; }
    bool files(const std::string& s) const { return s == cfg.arg_file_sep || s == cfg.arg_file_sep + "+"; }
    bool operator()(const std::string& s) const { return items(s) || files(s); }
};

std::string separator_of(const char* opt, const std::string& v) {
    if (v.empty()) cli::usage_error(std::string(opt) + " needs a non-empty separator");
    return v;
}

}  // namespace

std::vector<cli::option_spec> source_option_rows() {
    return {
        {'a', "arg-file", cli::arg::required, "FILE", "an input source: the records of FILE (- is stdin); may repeat"},
        {opt_link, "link", cli::arg::none, nullptr, "take the sources side by side, not their cross product"},
        {opt_link, "xapply", cli::arg::none, nullptr, "the same as --link"},
        {opt_arg_sep, "arg-sep", cli::arg::required, "SEP", "SEP instead of ::: before items"},
        {opt_arg_file_sep, "arg-file-sep", cli::arg::required, "SEP", "SEP instead of :::: before files"},
        {opt_colsep, "colsep", cli::arg::required, "SEP", "split records into values {1} {2}... at SEP"},
        {opt_header, "header", cli::arg::required, "RE", "the first record of each source names its values ({NAME})"},
        {opt_trim, "trim", cli::arg::required, "HOW", "remove blanks around values: n, l, r, lr or rl"},
        {opt_shuf, "shuf", cli::arg::none, nullptr, "run the jobs in a random order"},
        {'r', "no-run-if-empty", cli::arg::none, nullptr, "skip records that are empty or blank"},
        {'E', "eof", cli::arg::required, "STR", "stop reading a source at a record equal to STR"},
        {'n', "max-args", cli::arg::required, "N", "give up to N arguments to each job"},
        {'N', "max-replace-args", cli::arg::required, "N", "give N arguments to each job; {1}..{N} name them"},
        {'m', nullptr, cli::arg::none, nullptr, "give each job as many arguments as fit"},
        {'X', nullptr, cli::arg::none, nullptr, "as -m, repeating the word around {} once per value"},
        {'L', "max-lines", cli::arg::required, "N", "give N records to each job (a trailing blank continues one)"},
        {opt_max_chars, "max-chars", cli::arg::required, "N", "at most N bytes of command line a job"},
        {opt_plus, "plus", cli::arg::none, nullptr, "GNU parallel's --plus strings: {+/} {+.} {..} {##} ..."},
        {opt_rpl, "rpl", cli::arg::required, "'TAG EXPR'", "a replacement string TAG: s/RE/REPL/ on the value"},
    };
}

bool take_source_option(int key, const std::string& v, config& cfg) {
    switch (key) {
    case 'a': cfg.sources.push_back(input_source{true, {}, v, false}); return true;
    case opt_link: cfg.link_all = true; return true;
    case opt_arg_sep: cfg.arg_sep = separator_of("--arg-sep", v); return true;
    case opt_arg_file_sep: cfg.arg_file_sep = separator_of("--arg-file-sep", v); return true;
    case opt_colsep:
        if (v.empty()) cli::usage_error("--colsep needs a non-empty separator");
        cfg.colsep = v;
        return true;
    case opt_header:
        if (v.empty()) cli::usage_error("--header needs ':' or a regex");
        if (v != ":") {
            try {
                std::regex re(v);
            } catch (const std::regex_error&) {
                cli::usage_error("--header: '" + v + "' is not a regex std::regex can read");
            }
        }
        cfg.header = v;
        cfg.tmpl.names = true;
        return true;
    case opt_trim:
        if (v == "n") cfg.trim = trim_mode::none;
        else if (v == "l") cfg.trim = trim_mode::left;
        else if (v == "r") cfg.trim = trim_mode::right;
        else if (v == "lr" || v == "rl") cfg.trim = trim_mode::both;
        else cli::usage_error("--trim: '" + v + "' is not one of n, l, r, lr, rl");
        return true;
    case opt_shuf: cfg.shuffle = true; return true;
    case 'r': cfg.skip_empty = true; return true;
    case 'E': cfg.eof_string = v; return true;
    case 'n': cfg.max_args = count_of("-n", v, 1); return true;
    case 'N':
        cfg.max_args = count_of("-N", v, 0);
        cfg.no_values = cfg.max_args == 0;
        return true;
    case 'm': cfg.fill = true; return true;
    case 'X':
        cfg.fill = true;
        cfg.tmpl.context = true;
        return true;
    case 'L':
        cfg.max_args = count_of("-L", v, 1);
        cfg.continue_lines = true;
        return true;
    case opt_max_chars: cfg.max_chars = count_of("--max-chars", v, 1); return true;
    case opt_plus: cfg.tmpl.plus = true; return true;
    case opt_rpl: {
        std::size_t sp = v.find_first_of(" \t");
        if (sp == 0 || sp == std::string::npos) cli::usage_error("--rpl: '" + v + "' is not 'TAG EXPR'");
        cfg.tmpl.rpl.emplace_back(v.substr(0, sp), v.substr(v.find_first_not_of(" \t", sp)));
        return true;
    }
    default: return false;
    }
}

void take_operands(const std::vector<std::string>& operands, config& cfg) {
    if (cfg.arg_sep == cfg.arg_file_sep) cli::usage_error("--arg-sep and --arg-file-sep must differ");
    separators is_separator{cfg};
    auto sep = std::find_if(operands.begin(), operands.end(), is_separator);
    cfg.command.assign(operands.begin(), sep);
    while (sep != operands.end()) {
        const std::string kind = *sep;
        bool files = is_separator.files(kind);
        auto end = std::find_if(sep + 1, operands.end(), is_separator);
        if (end == sep + 1) cli::usage_error("'" + kind + "' must be followed by at least one " + (files ? "file" : "item"));
        bool linked = kind.back() == '+' && kind != (files ? cfg.arg_file_sep : cfg.arg_sep);
        if (files) {
            for (auto f = sep + 1; f != end; ++f) {
                cfg.sources.push_back(input_source{true, {}, *f, linked});
                linked = false;
            }
        } else {
            cfg.sources.push_back(input_source{false, std::vector<std::string>(sep + 1, end), {}, linked});
        }
        sep = end;
    }
}

void check_sources(config& cfg) {
    bool from_stdin = cfg.sources.empty();
    for (const auto& s : cfg.sources) {
        if (!s.from_file) continue;
        if (s.path == "-") {
            if (from_stdin && !cfg.sources.empty()) cli::usage_error("standard input can be read as one source only");
            from_stdin = true;
            continue;
        }
        try {   // bad input: exit 2, before any job runs
            conc::unique_fd f = conc::open_file(s.path, O_RDONLY);
            struct stat st;
            if (::fstat(f.get(), &st) == 0 && S_ISDIR(st.st_mode)) throw conc::sys_error(EISDIR, "read '" + s.path + "'");
        } catch (const conc::sys_error& e) {
            cli::die(cli::exit_usage, cli::describe(e));
        }
    }
    if (!cfg.sources.empty() && cfg.sources.front().linked) cli::usage_error("':::+' needs a source before it to link to");
    cfg.input = from_stdin ? input_kind::stdin_records : input_kind::arguments;
    cfg.tmpl.slots = cfg.jobs;
    if (cfg.command.empty()) return;   // each record is a command line
    try {
        command_template check(cfg.command, cfg.tmpl);
    } catch (const std::invalid_argument& e) {
        cli::usage_error(e.what());
    }
}

}  // namespace pmap
