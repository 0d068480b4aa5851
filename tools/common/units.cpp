#include "units.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

namespace cli {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Leading digits of s as an unsigned value; false on overflow.  Consumes them.
bool take_uint(std::string_view& s, std::uint64_t& out, std::size_t& ndigits) {
    out = 0;
    ndigits = 0;
    while (!s.empty() && is_digit(s.front())) {
        unsigned d = unsigned(s.front() - '0');
        if (out > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
        out = out * 10 + d;
        ++ndigits;
        s.remove_prefix(1);
    }
    return true;
}

}  // namespace

std::chrono::nanoseconds parse_duration(std::string_view text) {
    auto bad = [&](const char* why) { return bad_value("invalid duration " + quoted(text) + ": " + why); };
    std::string_view s = text;
    if (s.empty()) throw bad("empty");

    // Integer part, then a fraction kept as digits so "0.1" stays exact.
    std::uint64_t whole = 0;
    std::size_t nwhole = 0;
    if (!take_uint(s, whole, nwhole)) throw bad("too large");
    std::string_view frac;
    if (!s.empty() && s.front() == '.') {
        s.remove_prefix(1);
        std::size_t n = 0;
        while (n < s.size() && is_digit(s[n])) ++n;
        frac = s.substr(0, n);
        s.remove_prefix(n);
    }
    if (nwhole == 0 && frac.empty()) throw bad("expected a number such as 250ms, 1.5s or 2m");

    using std::int64_t;
    int64_t unit;
    if (s.empty() || s == "s") unit = 1'000'000'000;
    else if (s == "ms") unit = 1'000'000;
    else if (s == "us") unit = 1'000;
    else if (s == "ns") unit = 1;
    else if (s == "m") unit = 60'000'000'000;
    else if (s == "h") unit = 3'600'000'000'000;
    else if (s == "d") unit = 86'400'000'000'000;
    else throw bad("unknown unit (use ns, us, ms, s, m, h or d)");

    constexpr int64_t max = std::numeric_limits<int64_t>::max();
    if (whole > std::uint64_t(max / unit)) throw bad("too large");
    int64_t ns = int64_t(whole) * unit;
    if (!frac.empty()) {
        // The fraction adds less than one unit; long double is exact enough for it.
        long double f = 0, scale = 1;
        for (char c : frac.substr(0, 30)) {
            scale /= 10;
            f += (c - '0') * scale;
        }
        auto extra = static_cast<int64_t>(std::llround(f * static_cast<long double>(unit)));
        if (extra > max - ns) throw bad("too large");
        ns += extra;
    }
    return std::chrono::nanoseconds(ns);
}

std::uint64_t parse_size(std::string_view text) {
    auto bad = [&](const char* why) { return bad_value("invalid size " + quoted(text) + ": " + why); };
    std::string_view s = text;
    if (s.empty()) throw bad("empty");
    std::uint64_t n = 0;
    std::size_t digits = 0;
    if (!take_uint(s, n, digits)) throw bad("too large");
    if (digits == 0) throw bad("expected a number such as 4096, 64K or 1M");

    unsigned shift = 0;
    if (!s.empty()) {
        switch (lower(s.front())) {
            case 'k': shift = 10; break;
            case 'm': shift = 20; break;
            case 'g': shift = 30; break;
            case 't': shift = 40; break;
            default: break;
        }
        if (shift) s.remove_prefix(1);
        bool ok = s.empty() || iequal(s, "b") || (shift && iequal(s, "ib"));
        if (!ok) throw bad("unknown unit (use K, M, G or T, powers of 1024)");
    }
    if (shift && n > (std::numeric_limits<std::uint64_t>::max() >> shift)) throw bad("too large");
    return n << shift;
}

long long parse_count(std::string_view text, long long min, long long max) {
    auto bad = [&](const std::string& why) { return bad_value("invalid number " + quoted(text) + ": " + why); };
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && s.front() == '-' && min < 0) {
        negative = true;
        s.remove_prefix(1);
    }
    std::uint64_t mag = 0;
    std::size_t digits = 0;
    bool fits = take_uint(s, mag, digits);
    if (digits == 0 || !s.empty()) throw bad("expected a whole number");
    auto range = [&] { return bad("must be from " + std::to_string(min) + " to " + std::to_string(max)); };
    constexpr auto llmax = std::uint64_t(std::numeric_limits<long long>::max());
    if (!fits || mag > llmax + (negative ? 1 : 0)) throw range();
    long long v = negative ? (mag == llmax + 1 ? std::numeric_limits<long long>::min() : -(long long)mag)
                           : (long long)mag;
    if (v < min || v > max) throw range();
    return v;
}

std::string format_duration(std::chrono::nanoseconds d) {
    using namespace std::chrono;
    if (d.count() < 0) d = nanoseconds(0);
    char buf[64];
    if (d < seconds(1)) {
        std::snprintf(buf, sizeof buf, "%lldms", (long long)duration_cast<milliseconds>(d).count());
    } else if (d < seconds(10)) {
        long long tenths = duration_cast<milliseconds>(d).count() / 100;
        if (tenths % 10 == 0) std::snprintf(buf, sizeof buf, "%llds", tenths / 10);
        else std::snprintf(buf, sizeof buf, "%lld.%llds", tenths / 10, tenths % 10);
    } else {
        long long s = duration_cast<seconds>(d).count();
        if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
        else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
        else if (s < 86400) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
        else std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
    }
    return buf;
}

std::string format_size(std::uint64_t bytes) {
    static const char units[] = "KMGTPE";
    char buf[64];
    if (bytes < 1024) {
        std::snprintf(buf, sizeof buf, "%lluB", (unsigned long long)bytes);
        return buf;
    }
    long double v = static_cast<long double>(bytes);
    int u = -1;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    // One decimal below 10 ("1.5K"), whole numbers above ("64K"); never "10.0".
    long double tenths = std::floor(v * 10);
    if (tenths < 100) std::snprintf(buf, sizeof buf, "%.1Lf%c", tenths / 10, units[u]);
    else std::snprintf(buf, sizeof buf, "%.0Lf%c", std::floor(v), units[u]);
    return buf;
}

}  // namespace cli
