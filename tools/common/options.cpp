#include "options.hpp"

#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "messages.hpp"

#ifndef CONC_VERSION
#define CONC_VERSION "unknown"
#endif

namespace cli {

namespace {
constexpr int key_help = 'h';
constexpr int key_version = 'V';

bool has_short(int key) { return key > 0 && key < 256; }

std::string spelling(const option_spec& o) {
    std::string s = has_short(o.key) ? std::string("-") + char(o.key) : std::string("  ");
    if (o.long_name) s += (has_short(o.key) ? ", --" : "  --") + std::string(o.long_name);
    std::string name = o.arg_name ? o.arg_name : "ARG";
    if (o.has_arg == arg::required) s += (o.long_name ? "=" : " ") + name;
    if (o.has_arg == arg::optional) s += (o.long_name ? "[=" : "[") + name + "]";
    return s;
}

// How the user spelled an option getopt rejected, for the message.
std::string shown(int optopt_value, const std::vector<option_spec>& opts, char* arg) {
    if (optopt_value != 0) {
        for (auto& o : opts)
            if (o.key == optopt_value && o.long_name && arg && arg[0] == '-' && arg[1] == '-')
                return "--" + std::string(o.long_name);
        if (has_short(optopt_value)) return std::string("-") + char(optopt_value);
    }
    std::string a = arg ? arg : "?";
    if (auto eq = a.find('='); eq != std::string::npos) a.resize(eq);
    return a;
}
}  // namespace

option_table::option_table(std::string synopsis, std::string description, std::vector<option_spec> options,
                           std::string epilog)
    : synopsis_(std::move(synopsis)),
      description_(std::move(description)),
      options_(std::move(options)),
      epilog_(std::move(epilog)) {
    options_.push_back({key_help, "help", arg::none, nullptr, "print this help and exit"});
    options_.push_back({key_version, "version", arg::none, nullptr, "print the version and exit"});
}

std::string option_table::help_text() const {
    std::string out = "Usage: " + program_name() + " " + synopsis_ + "\n";
    if (!description_.empty()) out += description_ + "\n";
    out += "\nOptions:\n";
    std::size_t width = 0;
    for (auto& o : options_) width = std::max(width, spelling(o).size());
    for (auto& o : options_) {
        std::string s = spelling(o);
        out += "  " + s + std::string(width - s.size() + 2, ' ') + (o.help ? o.help : "") + "\n";
    }
    if (!epilog_.empty()) out += "\n" + epilog_ + (epilog_.back() == '\n' ? "" : "\n");
    return out;
}

std::string option_table::version_text() { return program_name() + " (conc) " CONC_VERSION; }

parsed_args option_table::try_parse(int argc, char** argv) const {
    // "+": stop at the first non-option; ":": report a missing argument as ':'.
    std::string shorts = "+:";
    std::vector<option> longs;
    for (auto& o : options_) {
        int has = o.has_arg == arg::none ? no_argument : o.has_arg == arg::required ? required_argument
                                                                                   : optional_argument;
        if (has_short(o.key)) {
            shorts += char(o.key);
            if (o.has_arg == arg::required) shorts += ":";
            if (o.has_arg == arg::optional) shorts += "::";
        }
        if (o.long_name) longs.push_back({o.long_name, has, nullptr, o.key});
    }
    longs.push_back({nullptr, 0, nullptr, 0});

    parsed_args out;
    optind = 0;  // glibc: 0 re-initialises getopt completely, so parsing twice works
    opterr = 0;  // our messages, not getopt's
    for (;;) {
        int prev = optind ? optind : 1;
        int c = getopt_long(argc, argv, shorts.c_str(), longs.data(), nullptr);
        if (c == -1) break;
        char* where = prev < argc ? argv[prev] : nullptr;
        if (c == ':') throw usage_problem("option '" + shown(optopt, options_, where) + "' requires an argument");
        if (c == '?') {
            bool known = false;
            for (auto& o : options_) known = known || (optopt != 0 && o.key == optopt);
            if (known) throw usage_problem("option '" + shown(optopt, options_, where) + "' takes no argument");
            throw usage_problem("unknown option '" + shown(optopt, options_, where) + "'");
        }
        if (c == key_help) out.help = true;
        else if (c == key_version) out.version = true;
        else {
            bool takes = false;
            for (auto& o : options_) takes = takes || (o.key == c && o.has_arg != arg::none);
            out.options.emplace_back(c, takes && optarg ? optarg : "");
        }
    }
    out.first_operand = optind;
    for (int i = optind; i < argc; ++i) out.operands.emplace_back(argv[i]);
    optind = 0;
    return out;
}

std::vector<std::string> option_table::render(const std::vector<std::pair<int, std::string>>& options,
                                              std::initializer_list<std::string_view> drop) const {
    std::vector<std::string> words;
    for (const auto& [key, value] : options) {
        const option_spec* spec = nullptr;
        bool dropped = false;
        for (const auto& o : options_) {
            if (o.key != key) continue;
            if (!spec || (!spec->long_name && o.long_name)) spec = &o;
            for (auto d : drop) dropped = dropped || (o.long_name && d == o.long_name);
        }
        if (!spec || dropped) continue;
        bool valued = spec->has_arg == arg::required || (spec->has_arg == arg::optional && !value.empty());
        if (spec->long_name) {
            words.push_back(std::string("--") + spec->long_name + (valued ? "=" + value : ""));
        } else if (spec->has_arg == arg::optional) {
            words.push_back(std::string("-") + char(key) + value);   // an optional value must be attached
        } else {
            words.push_back(std::string("-") + char(key));
            if (valued) words.push_back(value);
        }
    }
    return words;
}

parsed_args option_table::parse(int argc, char** argv) const {
    parsed_args args;
    try {
        args = try_parse(argc, argv);
    } catch (const usage_problem& e) {
        usage_error(e.what());
    }
    if (args.help) {
        std::string h = help_text();
        std::fwrite(h.data(), 1, h.size(), stdout);
        std::exit(std::fflush(stdout) == 0 ? exit_ok : exit_internal);
    }
    if (args.version) {
        std::printf("%s\n", version_text().c_str());
        std::exit(std::fflush(stdout) == 0 ? exit_ok : exit_internal);
    }
    return args;
}

}  // namespace cli
