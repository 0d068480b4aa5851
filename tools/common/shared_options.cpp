#include "shared_options.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "conc/fd.hpp"

#include "messages.hpp"
#include "units.hpp"

namespace cli {

namespace {

constexpr long long max_jobs = 1000000;

unsigned at_least_one(long long n) { return unsigned(std::clamp<long long>(n, 1, max_jobs)); }

}  // namespace

unsigned parse_jobs(std::string_view v, unsigned cpus) {
    if (!v.empty() && v.back() == '%') {
        // GNU parallel: \d+(\.\d+)?%, the product rounded up.
        std::string_view num = v.substr(0, v.size() - 1);
        std::size_t dot = num.find('.');
        long long whole = parse_count(num.substr(0, dot), 0, 100000);
        double pct = double(whole);
        if (dot != std::string_view::npos) {
            std::string_view frac = num.substr(dot + 1);
            if (frac.empty() || frac.size() > 6) throw bad_value("invalid percentage '" + std::string(v) + "'");
            pct += double(parse_count(frac, 0, 999999)) / std::pow(10.0, double(frac.size()));
        }
        if (pct <= 0) throw bad_value("invalid percentage '" + std::string(v) + "': must be more than 0%");
        return at_least_one(static_cast<long long>(std::ceil(cpus * pct / 100 - 1e-9)));
    }
    if (!v.empty() && (v.front() == '+' || v.front() == '-')) {
        long long k = parse_count(v.substr(1), 0, max_jobs);
        return at_least_one(v.front() == '+' ? cpus + k : cpus - k);
    }
    long long n = parse_count(v, 0, max_jobs);
    return n == 0 ? as_many_jobs_as_possible() : unsigned(n);
}

std::optional<unsigned> read_jobs_file(const std::string& path, unsigned cpus) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    conc::unique_fd f = conc::open_file(path, O_RDONLY);
    std::string text;
    char buf[256];
    for (ssize_t n; (n = ::read(f.get(), buf, sizeof buf)) != 0 && text.size() < 4096;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            throw conc::sys_error(errno, "read '" + path + "'");
        }
        text.append(buf, std::size_t(n));
    }
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    std::string_view t = text;
    while (!t.empty() && blank(t.front())) t.remove_prefix(1);
    while (!t.empty() && blank(t.back())) t.remove_suffix(1);
    try {
        return parse_jobs(t, cpus);
    } catch (const bad_value& e) {
        throw bad_value("the file '" + path + "' holds no job count: " + e.what());
    }
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
    case 'j':
    case 'P': {
        const char* name = key == 'j' ? "-j" : "-P";
        jobs_given = true;
        jobs_file.clear();
        try {
            jobs = parse_jobs(v, conc::online_cpus());
        } catch (const bad_value& e) {   // not a number: a file holding one (GNU parallel's -j FILE)?
            std::optional<unsigned> n;
            try {
                n = parse(name, [&] { return read_jobs_file(v, conc::online_cpus()); });
            } catch (const conc::sys_error& se) {
                throw usage_problem(std::string(name) + ": " + describe(se));
            }
            if (!n) throw usage_problem(std::string(name) + ": " + e.what() + " (nor a file holding one)");
            jobs = *n;
            jobs_file = v;
        }
        return true;
    }
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
         "run at most N jobs at once (default: online CPUs; also N% of them, +N/-N, 0: no limit, FILE holding one)"},
        {'P', "max-procs", arg::required, "N", "the same as -j (xargs, GNU parallel)"},
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
    auto chosen = [&](int key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); };
    std::erase_if(rows, [&](const option_spec& r) { return !chosen(r.key == 'P' ? 'j' : r.key); });
    return rows;
}

}  // namespace cli
