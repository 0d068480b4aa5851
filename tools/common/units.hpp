// units.hpp: the durations, sizes and counts users type on the command line,
// and their human-readable forms for the progress bar.
// Every parse_* throws bad_value with a message ready for usage_error(), e.g.
//   try { t = cli::parse_duration(optarg); }
//   catch (const cli::bad_value& e) { cli::usage_error(std::string("--timeout: ") + e.what()); }
#pragma once
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cli {

// A command-line value that does not parse; what() says which and why.
class bad_value : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// "250ms", "1.5s", "2m", "1h", "1d", "10us", "5ns", or a bare number of seconds
// ("3", "0.5").  No sign, no spaces, no exponent; at most 292 years.
std::chrono::nanoseconds parse_duration(std::string_view s);

// "4096", "64K", "1M", "2G", "1T" in powers of 1024; the suffix may be lower
// case and may be followed by "B" or "iB" ("64KiB", "1mb", "100B").
std::uint64_t parse_size(std::string_view s);

// A decimal integer in [min, max] ("-j 4"): rejects "", "x", "1.5", "+1",
// " 1", trailing junk, overflow, and a minus sign unless min < 0.
long long parse_count(std::string_view s, long long min, long long max);

// A duration for people: "250ms", "2.3s", "4s", "42s", "1m05s", "2h03m", "3d04h".
std::string format_duration(std::chrono::nanoseconds d);

// A size for people, powers of 1024: "512B", "1.5K", "64K", "3.2M", "12G".
std::string format_size(std::uint64_t bytes);

}  // namespace cli
