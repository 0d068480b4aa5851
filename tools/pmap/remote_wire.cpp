#include "remote_wire.hpp"

#include <cstdio>
#include <cstring>

namespace pmap::wire {

namespace {

constexpr std::string_view greeting_word = "pmap-worker ";

std::string byte_order() {
    std::uint64_t mark = 0x0102030405060708ull;
    unsigned char b[8];
    std::memcpy(b, &mark, 8);
    char hex[17];
    for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return std::string(hex, 16);
}

}  // namespace

std::string greeting(unsigned cpus) {
    return std::string(greeting_word) + std::to_string(version) + " " + std::to_string(cpus) + " " + byte_order() + "\n";
}

std::optional<unsigned> read_greeting(std::string_view line) {
    if (!line.starts_with(greeting_word)) return std::nullopt;
    line.remove_prefix(greeting_word.size());
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    std::string expected_version = std::to_string(version) + " ";
    if (!line.starts_with(expected_version)) return 0u;
    line.remove_prefix(expected_version.size());
    auto space = line.find(' ');
    if (space == std::string_view::npos || line.substr(space + 1) != byte_order()) return 0u;
    unsigned cpus = 0;
    for (char c : line.substr(0, space)) {
        if (c < '0' || c > '9' || cpus > 100000) return 0u;
        cpus = cpus * 10 + unsigned(c - '0');
    }
    return cpus ? cpus : 1u;
}

}  // namespace pmap::wire
