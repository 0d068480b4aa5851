#include "shared_options.hpp"

#include <sys/resource.h>

#include <algorithm>

#include "units.hpp"

namespace cli {

namespace {

constexpr long long max_jobs = 1000000;

unsigned at_least_one(long long n) { return unsigned(std::clamp<long long>(n, 1, max_jobs)); }

}  // namespace

unsigned parse_jobs(std::string_view v, unsigned cpus) {
    if (!v.empty() && v.back() == '%') {
        long long pct = parse_count(v.substr(0, v.size() - 1), 1, 100000);
        return at_least_one(static_cast<long long>(cpus) * pct / 100);
    }
    if (!v.empty() && (v.front() == '+' || v.front() == '-')) {
        long long k = parse_count(v.substr(1), 0, max_jobs);
        return at_least_one(v.front() == '+' ? cpus + k : cpus - k);
    }
    long long n = parse_count(v, 0, max_jobs);
    return n == 0 ? as_many_jobs_as_possible() : unsigned(n);
}

unsigned as_many_jobs_as_possible() {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t fds = rl.rlim_cur == RLIM_INFINITY ? 65536 : rl.rlim_cur;
    return unsigned(std::clamp<rlim_t>((fds > 64 ? fds - 64 : 1) / 2, 1, 32768));
}

std::string parse_separator(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c == '\\' && i + 1 < v.size()) {
            switch (v[i + 1]) {
            case 'n': c = '\n', ++i; break;
            case 't': c = '\t', ++i; break;
            case '0': c = '\0', ++i; break;
            case '\\': ++i; break;
            default: break;   // not an escape: the backslash stays
            }
        }
        out.push_back(c);
    }
    return out;
}

char parse_delimiter(std::string_view v) {
    std::string d = parse_separator(v);
    if (d.size() != 1)
        throw bad_value("invalid delimiter '" + std::string(v) + "': expected one character, or \\n, \\t, \\0, \\\\");
    return d[0];
}

bool shared_options::take(int key, const std::string& v) {
    auto parse = [](const char* option, auto f) {
        try {
            return f();
        } catch (const bad_value& e) {
            throw usage_problem(std::string(option) + ": " + e.what());
        }
    };
    switch (key) {
    case 'j': jobs = parse("-j", [&] { return parse_jobs(v, conc::online_cpus()); }); return true;
    case '0': delimiter = '\0'; return true;
    case 'd': delimiter = parse("-d", [&] { return parse_delimiter(v); }); return true;
    case opt_shared_timeout: timeout = parse("--timeout", [&] { return parse_duration(v); }); return true;
    case opt_shared_bar:
        if (!v.empty() && v != "always") throw usage_problem("--bar takes no value but 'always'");
        bar = true;
        bar_forced = v == "always";
        return true;
    case opt_shared_dry_run: dry_run = true; return true;
    case 'v': verbose = true; return true;
    default: return false;
    }
}

std::vector<option_spec> shared_option_rows(const char* timeout_help) {
    return {
        {'j', "jobs", arg::required, "N",
         "run at most N jobs at once (default: online CPUs; also N% of them, +N/-N, 0: no limit)"},
        {'0', "null", arg::none, nullptr, "records end with NUL, not newline"},
        {'d', "delimiter", arg::required, "C", "records end with the character C (or \\n, \\t, \\0, \\\\)"},
        {opt_shared_timeout, "timeout", arg::required, "DUR", timeout_help},
        {opt_shared_bar, "bar", arg::optional, "always", "progress bar on stderr (when it is a terminal)"},
        {opt_shared_dry_run, "dry-run", arg::none, nullptr, "print the commands, run nothing"},
        {'v', "verbose", arg::none, nullptr, "print each command on stderr as it starts"},
    };
}

std::vector<option_spec> shared_option_rows(const char* timeout_help, std::initializer_list<int> keys) {
    std::vector<option_spec> rows = shared_option_rows(timeout_help);
    std::erase_if(rows, [&](const option_spec& r) { return std::find(keys.begin(), keys.end(), r.key) == keys.end(); });
    return rows;
}

}  // namespace cli
