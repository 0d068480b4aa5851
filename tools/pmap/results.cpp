#include "results.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "conc/error.hpp"

namespace pmap {

std::string results_escape(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\t': out += "\\t"; break;
        case '\0': out += "\\0"; break;
        case '/': out += "\\_"; break;
        default: out += c;
        }
    }
    return out;
}

namespace {

// Perl's numeric value of a string, as <=> sees it: its leading number, else 0.
double perl_number(const std::string& s) {
    const char* p = s.c_str();
    while (*p == ' ' || *p == '\t' || *p == '\n') ++p;
    char* end = nullptr;
    double v = std::strtod(p, &end);
    return end == p ? 0 : v;
}

}  // namespace

std::string results_subdir(const job_values& values, const std::vector<std::string>& names) {
    std::string dir;
    for (const auto& arg : values) {
        std::vector<std::string> header(arg.size());
        std::vector<std::size_t> order(arg.size());
        for (std::size_t n = 0; n < arg.size(); ++n) {
            header[n] = n < names.size() && !names[n].empty() ? names[n] : std::to_string(n + 1);
            order[n] = n;
        }
        if (!names.empty())
            std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                double x = perl_number(header[a]), y = perl_number(header[b]);
                return x != y ? x < y : header[a] < header[b];
            });
        for (std::size_t n : order) {
            if (!dir.empty()) dir += '/';
            dir += header[n];
            dir += '/';
            dir += results_escape(arg[n]);
        }
    }
    return dir;
}

std::string csv_field(std::string_view v, char sep) {
    bool quote = false;
    std::string body;
    body.reserve(v.size());
    for (char c : v) {
        // Perl's \s: space, \t \n \v \f \r.
        if (c == sep || c == ' ' || (c >= '\t' && c <= '\r') || c == '\0') quote = true;
        if (c == '"') {
            quote = true;
            body += '"';
        }
        body += c;
    }
    return quote ? '"' + body + '"' : body;
}

std::string csv_line(const std::vector<std::string>& fields, char sep) {
    std::string line;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i) line += sep;
        line += csv_field(fields[i], sep);
    }
    line += '\n';
    return line;
}

void make_directories(const std::string& path) {
    for (std::size_t i = 1; i <= path.size(); ++i) {
        if (i < path.size() && path[i] != '/') continue;
        std::string part = path.substr(0, i);
        if (::mkdir(part.c_str(), 0777) == 0 || errno == EEXIST) continue;
        throw conc::sys_error("create the directory '" + part + "'");
    }
    struct stat st;
    if (!path.empty() && (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
        throw conc::sys_error(ENOTDIR, "create the directory '" + path + "'");
}

namespace {

bool ends_with_nocase(std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    for (std::size_t i = 0; i < suffix.size(); ++i) {
        char c = s[s.size() - suffix.size() + i];
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        if (c != suffix[i]) return false;
    }
    return true;
}

conc::unique_fd create(const std::string& path) {
    try {
        return conc::open_file(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    } catch (const conc::sys_error& e) {
        throw conc::sys_error(e.err(), "create '" + path + "'");
    }
}

void write_file(const std::string& path, std::string_view text) {
    conc::unique_fd fd = create(path);
    try {
        conc::write_all(fd.get(), text);
    } catch (const conc::sys_error& e) {
        throw conc::sys_error(e.err(), "write '" + path + "'");
    }
}

std::string parent_of(const std::string& path) {
    std::size_t slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? std::string() : path.substr(0, slash);
}

}  // namespace

results::results(std::string spec, bool files, bool named, bool keep_order)
    : spec_(std::move(spec)), files_(files), keep_order_(keep_order) {
    if (spec_.empty()) return;
    if (ends_with_nocase(spec_, ".csv") || ends_with_nocase(spec_, ".tsv") || ends_with_nocase(spec_, ".json")) {
        kind_ = kind::table;
        json_ = ends_with_nocase(spec_, ".json");
        sep_ = ends_with_nocase(spec_, ".csv") ? ',' : '\t';
        if (spec_ != "-.csv" && spec_ != "-.tsv" && spec_ != "-.json") table_fd_ = create(spec_);
        return;
    }
    kind_ = named ? kind::named : kind::tree;
}

results::job_files results::open_job(std::uint64_t seq, const job_values& values,
                                     const std::string& expanded_name) const {
    job_files f;
    std::string seq_text = std::to_string(seq);
    if (kind_ == kind::none) {   // --files alone: a file that outlives pmap, as GNU parallel's
        std::string name = conc::temp_dir() + "/parXXXXXX.par";
        int fd = ::mkostemps(name.data(), 4, O_CLOEXEC);
        if (fd < 0) throw conc::sys_error("create '" + name + "'");
        f.out = conc::unique_fd(fd);
        f.stdout_path = name;
        return f;
    }
    std::string dir;
    if (kind_ == kind::tree) dir = spec_ + "/" + results_subdir(values) + "/";
    else if (!expanded_name.empty() && expanded_name.back() == '/') dir = expanded_name;
    if (!dir.empty()) {
        make_directories(dir.substr(0, dir.size() - 1));
        write_file(dir + "seq", seq_text);
        f.stdout_path = dir + "stdout";
        f.out = create(f.stdout_path);
        f.err = create(dir + "stderr");
        return f;
    }
    if (std::string parent = parent_of(expanded_name); !parent.empty()) make_directories(parent);
    write_file(expanded_name + ".seq", seq_text);
    f.stdout_path = expanded_name;
    f.out = create(f.stdout_path);
    f.err = create(expanded_name + ".err");
    return f;
}

std::string results::add_row(const row& r) {
    auto fixed = [](const char* fmt, double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, fmt, v);
        return std::string(buf);
    };
    if (json_) return ready(r.seq, json_row(r, fixed));
    std::vector<std::string> fields{std::to_string(r.seq),     ":",
                                    fixed("%.3f", r.start),    fixed("%.3f", r.runtime),
                                    "0",                       std::to_string(r.receive),
                                    std::to_string(r.exitval), std::to_string(r.signal),
                                    r.command};
    std::size_t nvalues = 0;
    for (const auto& arg : *r.values)
        for (const auto& v : arg) fields.push_back(v), ++nvalues;
    fields.push_back(r.out);
    fields.push_back(r.err);
    std::string text;
    if (!header_done_) {
        header_done_ = true;
        std::vector<std::string> head{"Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive", "Exitval", "Signal",
                                      "Command"};
        for (std::size_t i = 1; i <= nvalues; ++i) head.push_back("V" + std::to_string(i));
        head.push_back("Stdout");
        head.push_back("Stderr");
        text = csv_line(head, sep_);
    }
    return text + ready(r.seq, csv_line(fields, sep_));
}

// GNU parallel's --results NAME.json: one object a line.
template <class Fixed>
std::string results::json_row(const row& r, Fixed fixed) {
    std::string t = "{ \"Seq\": " + std::to_string(r.seq) + ", \"Host\": \":\", \"Starttime\": " + fixed("%.3f", r.start) +
                    ", \"JobRuntime\": " + fixed("%.3f", r.runtime) + ", \"Send\": 0, \"Receive\": " +
                    std::to_string(r.receive) + ", \"Exitval\": " + std::to_string(r.exitval) +
                    ", \"Signal\": " + std::to_string(r.signal) + ", \"Command\": " + json_string(r.command) +
                    ", \"V\": [ ";
    bool first = true;
    for (const auto& arg : *r.values)
        for (const auto& v : arg) t += (first ? "" : ", ") + json_string(v), first = false;
    return t + " ], \"Stdout\": " + json_string(r.out) + ", \"Stderr\": " + json_string(r.err) + " }\n";
}

std::string json_string(std::string_view v) {
    std::string out = "\"";
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    return out + '"';
}

std::string results::skip(std::uint64_t seq) { return keep_order_ ? ready(seq, {}) : std::string(); }

std::string results::ready(std::uint64_t seq, std::string text) {
    if (!keep_order_) return text;
    order_.put(seq, std::move(text));
    std::string out;
    while (auto next = order_.pop()) out += *next;
    return out;
}

void results::write_table(std::string_view text) {
    if (text.empty() || !table_fd_) return;
    try {
        conc::write_all(table_fd_.get(), text);
    } catch (const conc::sys_error& e) {
        throw conc::sys_error(e.err(), "write '" + spec_ + "'");
    }
}

}  // namespace pmap
