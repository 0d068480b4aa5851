#include "joblog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "conc/error.hpp"

namespace pmap {

std::string joblog_doing(std::string_view doing, const std::string& path) {
    return std::string(doing) + " the joblog '" + path + "'";
}

bool seq_set::contains(std::uint64_t seq) const noexcept {
    // The first run whose hi >= seq.
    auto it = std::lower_bound(runs_.begin(), runs_.end(), seq,
                               [](const auto& run, std::uint64_t s) { return run.second < s; });
    return it != runs_.end() && it->first <= seq;
}

std::size_t seq_set::size() const noexcept {
    std::size_t n = 0;
    for (const auto& [lo, hi] : runs_) n += static_cast<std::size_t>(hi - lo + 1);
    return n;
}

seq_set seq_set::from(std::vector<std::uint64_t> seqs) {
    std::sort(seqs.begin(), seqs.end());
    seq_set s;
    for (auto v : seqs) {
        if (!s.runs_.empty() && v <= s.runs_.back().second + 1)
            s.runs_.back().second = std::max(s.runs_.back().second, v);
        else
            s.runs_.emplace_back(v, v);
    }
    return s;
}

std::string joblog_escape(std::string_view command) {
    std::string out(command);
    for (char& c : out)
        if (c == '\n') c = '\0';
    return out;
}

std::string format_joblog_row(const joblog_row& r) {
    char nums[1024];  // any double fits "%.3f"
    int n = std::snprintf(nums, sizeof nums, "\t%.3f\t%10.3f\t%llu\t%llu\t%d\t%d\t", r.start, r.runtime,
                          static_cast<unsigned long long>(r.send), static_cast<unsigned long long>(r.receive),
                          r.exitval, r.signal);
    std::string row = std::to_string(r.seq) + '\t';
    for (char c : r.host) row.push_back(c == '\t' || c == '\n' ? ' ' : c);
    row.append(nums, static_cast<std::size_t>(n > 0 ? std::min<int>(n, sizeof nums - 1) : 0));
    row.reserve(row.size() + r.command.size() + 1);
    for (char c : r.command) row.push_back(c == '\n' ? '\0' : c);
    row.push_back('\n');
    return row;
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
    s = trim(s);
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

// The line from field i on, after i TABs (the Command field may hold TABs
// itself); empty when the line has fewer fields.
std::string_view rest_from(std::string_view line, std::size_t i) {
    std::size_t start = 0;
    for (std::size_t k = 0; k < i; ++k) {
        std::size_t tab = line.find('\t', start);
        if (tab == std::string_view::npos) return {};
        start = tab + 1;
    }
    return line.substr(start);
}

// Field i of a TAB-separated line.
std::string_view field(std::string_view line, std::size_t i) {
    std::string_view rest = rest_from(line, i);
    return rest.substr(0, rest.find('\t'));
}

// GNU parallel's layout; a header names the columns (pmap's older 7-column log too).
struct columns {
    std::size_t seq = 0, exitval = 6, signal = 7, command = 8;
};

class joblog_parser {
public:
    explicit joblog_parser(bool commands) : commands_(commands) {}
    void line(std::string_view l) {
        bool first = first_;
        first_ = false;
        if (first && field(l, 0) == "Seq") {
            std::size_t found = 0;
            std::string_view rest = l;
            for (std::size_t i = 0;; ++i) {
                std::size_t tab = rest.find('\t');
                std::string_view f = trim(rest.substr(0, tab));
                if (f == "Seq") cols_.seq = i, found |= 1;
                if (f == "Exitval") cols_.exitval = i, found |= 2;
                if (f == "Signal") cols_.signal = i, found |= 4;
                if (f == "Command") cols_.command = i;
                if (tab == std::string_view::npos) break;
                rest.remove_prefix(tab + 1);
            }
            if (found != 7) cols_ = columns{};
            return;
        }
        if (trim(l).empty()) return;
        std::uint64_t seq = 0;
        int exitval = 0, signal = 0;
        if (!parse_number(field(l, cols_.seq), seq) || seq == 0 || !parse_number(field(l, cols_.exitval), exitval) ||
            !parse_number(field(l, cols_.signal), signal)) {
            ++state.bad_lines;
            return;
        }
        (exitval == 0 && signal == 0 ? ok_ : bad_).push_back(seq);
        if (commands_ && !(exitval == 0 && signal == 0)) {
            std::string cmd(rest_from(l, cols_.command));
            for (char& c : cmd)
                if (c == '\0') c = '\n';
            commands_by_seq_[seq] = std::move(cmd);
        }
    }
    void finish() {
        state.succeeded = seq_set::from(std::move(ok_));
        std::vector<std::uint64_t> failed;
        for (auto s : bad_)
            if (!state.succeeded.contains(s)) failed.push_back(s);
        state.failed = seq_set::from(std::move(failed));
        for (auto& [seq, cmd] : commands_by_seq_)
            if (!state.succeeded.contains(seq)) state.failed_commands.emplace_back(seq, std::move(cmd));
    }
    joblog_state state;

private:
    columns cols_;
    bool first_ = true;
    bool commands_;
    std::vector<std::uint64_t> ok_, bad_;
    std::map<std::uint64_t, std::string> commands_by_seq_;
};

}  // namespace

joblog_state read_joblog(const std::string& path, bool commands) {
    int raw;
    do raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    while (raw < 0 && errno == EINTR);
    if (raw < 0) {
        if (errno == ENOENT) return {};
        throw conc::sys_error(joblog_doing("open", path));
    }
    conc::unique_fd fd(raw);
    struct stat st;
    if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) throw conc::sys_error(EISDIR, joblog_doing("open", path));
    joblog_parser parser(commands);
    std::string pending;
    char buf[65536];
    for (;;) {
        long n = 0;
        try {
            n = conc::read_some(fd.get(), buf, sizeof buf);
        } catch (const conc::sys_error& e) {
            throw conc::sys_error(e.err(), joblog_doing("read", path));
        }
        if (n <= 0) break;
        std::string_view chunk(buf, static_cast<std::size_t>(n));
        for (;;) {
            std::size_t nl = chunk.find('\n');
            if (nl == std::string_view::npos) {
                pending.append(chunk);
                break;
            }
            if (pending.empty()) {
                parser.line(chunk.substr(0, nl));
            } else {
                pending.append(chunk.substr(0, nl));
                parser.line(pending);
                pending.clear();
            }
            chunk.remove_prefix(nl + 1);
        }
    }
    // A last row without its newline was cut short (a crash mid-write, or a
    // full disk): it cannot be trusted, so the job runs again.
    if (!pending.empty()) ++parser.state.bad_lines;
    parser.finish();
    return std::move(parser.state);
}

joblog_writer::joblog_writer(const std::string& path, mode m) : path_(path) {
    int flags = m == mode::truncate ? (O_WRONLY | O_CREAT | O_TRUNC) : (O_RDWR | O_CREAT | O_APPEND);
    try {
        fd_ = conc::open_file(path, flags, 0666);
    } catch (const conc::sys_error& e) {
        throw conc::sys_error(e.err(), joblog_doing("open", path));
    }
    std::string start;
    if (m == mode::truncate) {
        start = joblog_header;
    } else {
        struct stat st;
        if (::fstat(fd_.get(), &st) != 0) throw conc::sys_error(joblog_doing("open", path));
        if (st.st_size == 0) {
            start = joblog_header;
        } else {
            // A row cut short by a crash must not swallow the next one.
            char last = '\n';
            if (::pread(fd_.get(), &last, 1, st.st_size - 1) == 1 && last != '\n') start = "\n";
        }
    }
    if (!start.empty()) write_row(start);
}

void joblog_writer::write(const joblog_row& r) { write_row(format_joblog_row(r)); }

void joblog_writer::write_row(std::string_view text) {
    try {
        conc::write_all(fd_.get(), text);
    } catch (const conc::sys_error& e) {
        throw conc::sys_error(e.err(), joblog_doing("write", path_));
    }
}

}  // namespace pmap
