#include "slots.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cmath>

#include "conc/fd.hpp"
#include "shared_options.hpp"
#include "units.hpp"

namespace pmap {

namespace {

// A small /proc file, whole (empty when it cannot be read).
std::string read_proc(const char* path) {
    std::string text;
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return text;
    conc::unique_fd f(fd);
    char buf[4096];
    for (ssize_t n; (n = ::read(f.get(), buf, sizeof buf)) != 0;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            return {};
        }
        text.append(buf, std::size_t(n));
    }
    return text;
}

bool newer(const timespec& a, const timespec& b) {
    return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

}  // namespace

double parse_load(std::string_view v, unsigned cpus) {
    bool pct = !v.empty() && v.back() == '%';
    std::string_view num = pct ? v.substr(0, v.size() - 1) : v;
    double x = 0;
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), x, std::chars_format::fixed);
    if (num.empty() || ec != std::errc{} || end != num.data() + num.size() || !(x >= 0) || !std::isfinite(x) ||
        num.front() == '-' || num.front() == '+')
        throw cli::bad_value("invalid load '" + std::string(v) + "': expected a number, or a percentage of the CPUs");
    return pct ? x * cpus / 100 : x;
}

std::optional<double> runnable_of(std::string_view loadavg) {
    // "0.52 0.58 0.59 3/517 12345": the fourth field's numerator.
    std::size_t pos = 0;
    for (int field = 0; field < 3; ++field) {
        pos = loadavg.find(' ', pos);
        if (pos == std::string_view::npos) return std::nullopt;
        ++pos;
    }
    unsigned long n = 0;
    auto [end, ec] = std::from_chars(loadavg.data() + pos, loadavg.data() + loadavg.size(), n);
    if (ec != std::errc{} || end == loadavg.data() + loadavg.size() || *end != '/') return std::nullopt;
    return double(n);
}

std::optional<std::uint64_t> memfree_of(std::string_view meminfo) {
    static constexpr std::string_view keys[] = {"MemFree:", "Buffers:", "Cached:", "SwapCached:"};
    std::uint64_t kib = 0;
    bool found = false;
    for (std::size_t start = 0; start < meminfo.size();) {
        std::size_t end = meminfo.find('\n', start);
        std::string_view line = meminfo.substr(start, end == std::string_view::npos ? end : end - start);
        for (auto k : keys) {
            if (!line.starts_with(k)) continue;
            std::string_view rest = line.substr(k.size());
            while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
            std::uint64_t v = 0;
            if (std::from_chars(rest.data(), rest.data() + rest.size(), v).ec == std::errc{}) kib += v, found = true;
        }
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    if (!found) return std::nullopt;
    return kib * 1024;
}

bool room_to_start(const start_limits& l) {
    if (l.max_load) {
        // GNU parallel: too high when load >= max.
        if (auto n = runnable_of(read_proc("/proc/loadavg")); n && *n >= *l.max_load) return false;
    }
    if (l.memfree) {
        if (auto m = memfree_of(read_proc("/proc/meminfo")); m && *m < *l.memfree) return false;
    }
    return true;
}

jobs_file::jobs_file(std::string path) : path_(std::move(path)) {
    struct stat st;
    if (::stat(path_.c_str(), &st) == 0) mtime_ = st.st_mtim;   // read once already, by -j's parsing
}

std::optional<unsigned> jobs_file::changed(unsigned cpus) {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0 || !newer(st.st_mtim, mtime_)) return std::nullopt;
    try {
        std::optional<unsigned> n = cli::read_jobs_file(path_, cpus);
        if (n) mtime_ = st.st_mtim;
        return n;
    } catch (const std::exception&) {
        return std::nullopt;   // half written, or gone: keep the count, and read it again next time
    }
}

}  // namespace pmap
