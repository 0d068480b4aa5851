#include "tag.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <vector>

namespace pmap {

namespace {

template_options one_string(template_options o) {
    o.shell = false;   // values as they are: the tag is text, not a script
    return o;
}

}  // namespace

string_template::string_template(std::string text, template_options opts)
    : text_(text), tmpl_({std::move(text)}, one_string(std::move(opts))) {}

std::string string_template::expand(std::span<const std::string_view> items, std::size_t seq, unsigned slot) const {
    if (!tmpl_.has_replacement()) return text_;   // the template would append the items
    std::string out;
    for (const auto& part : tmpl_.expand(items, seq, slot)) {
        if (!out.empty()) out += ' ';
        out += part;
    }
    return out;
}

namespace {

// GNU parallel's init_color(): readable background/foreground pairs,
// reordered so that neighbours differ.
std::vector<std::string> make_colours() {
    std::vector<std::pair<int, int>> combos;
    auto add = [&](int lo, int hi, int fg) {
        for (int c = lo; c <= hi; ++c) combos.emplace_back(c, fg);
    };
    for (auto [lo, hi] : std::vector<std::pair<int, int>>{{6, 7}, {9, 11}, {13, 15}, {40, 51}, {75, 87}, {113, 123},
                                                          {147, 159}, {171, 182}, {185, 231}, {249, 254}})
        add(lo, hi, 0);
    for (auto [lo, hi] : std::vector<std::pair<int, int>>{{1, 9}, {12, 13}, {16, 45}, {52, 81}, {88, 114}, {124, 149},
                                                          {160, 178}, {180, 180}, {182, 184}, {196, 214}, {232, 250}})
        add(lo, hi, 231);
    std::vector<std::size_t> order(combos.size());
    std::iota(order.begin(), order.end(), 0);
    // Perl's sort is a stable merge sort: ties keep their order.
    std::stable_sort(order.begin(), order.end(), [](std::size_t a, std::size_t b) {
        if (a % 23 != b % 23) return a % 23 < b % 23;
        return b % 7 < a % 7;
    });
    std::vector<std::string> colours;
    for (std::size_t i : order) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "\033[48;5;%03d;38;5;%03dm\033[K", combos[i].first, combos[i].second);
        colours.push_back(buf);
    }
    return colours;
}

}  // namespace

std::string colour_of(std::uint64_t seq) {
    static const std::vector<std::string> colours = make_colours();
    return colours[seq % colours.size()];
}

std::string unquote_printf(std::string_view s) {
    // GNU parallel's passes, in its order: \t \n \r, then \ddd and \d (octal).
    std::string cur(s);
    for (auto [from, to] : {std::pair<char, char>{'t', '\t'}, {'n', '\n'}, {'r', '\r'}}) {
        std::string next;
        for (std::size_t i = 0; i < cur.size(); ++i) {
            if (cur[i] == '\\' && i + 1 < cur.size() && cur[i + 1] == from) {
                next += to;
                ++i;
            } else {
                next += cur[i];
            }
        }
        cur = std::move(next);
    }
    auto octal = [](char c) { return c >= '0' && c <= '7'; };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    for (std::size_t width : {3u, 1u}) {
        std::string next;
        for (std::size_t i = 0; i < cur.size(); ++i) {
            bool all = cur[i] == '\\' && i + width < cur.size();
            for (std::size_t k = 1; all && k <= width; ++k) all = digit(cur[i + k]);
            if (!all) {
                next += cur[i];
                continue;
            }
            int v = 0;
            std::size_t k = 1;
            for (; k <= width && octal(cur[i + k]); ++k) v = v * 8 + (cur[i + k] - '0');
            next += char(v);
            next.append(cur, i + k, width + 1 - k);   // Perl stops at a non-octal digit and keeps it
            i += width;
        }
        cur = std::move(next);
    }
    return cur;
}

}  // namespace pmap
