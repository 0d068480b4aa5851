#include "command_template.hpp"

#include <charconv>
#include <stdexcept>

#include "command_line.hpp"
#include "shared_options.hpp"

namespace pmap {

namespace {

using part = command_template::part;
using part_kind = command_template::part_kind;
using word = command_template::word;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// The body of "{...}" (between the braces) as a replacement, if it is one.
std::optional<part> builtin_replacement(std::string_view inner, bool columns) {
    auto derived = [](std::string_view s) -> std::optional<part_kind> {
        if (s == ".") return part_kind::noext;
        if (s == "/") return part_kind::basename;
        if (s == "//") return part_kind::dirname;
        if (s == "/.") return part_kind::basename_noext;
        return std::nullopt;
    };
    if (inner == "#") return part{part_kind::seq, 0, {}};
    if (inner == "%") return part{part_kind::slot, 0, {}};
    if (auto k = derived(inner)) return part{*k, 0, {}};
    if (!columns || inner.empty() || inner[0] < '1' || inner[0] > '9') return std::nullopt;
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), n);
    if (ec != std::errc{}) return std::nullopt;
    std::string_view rest(end, static_cast<std::size_t>(inner.data() + inner.size() - end));
    if (rest.empty()) return part{part_kind::item, n, {}};
    if (auto k = derived(rest)) return part{*k, n, {}};
    return std::nullopt;
}

void add_literal(std::vector<part>& parts, std::string_view text) {
    if (text.empty()) return;
    if (parts.empty() || parts.back().kind != part_kind::literal) parts.push_back(part{part_kind::literal, 0, {}});
    parts.back().text.append(text);
}

// Splits s into literal text and replacements.  The -I string is tried first,
// then the fixed {...} forms; anything else is literal.
std::vector<part> parse(std::string_view s, std::string_view replace, bool columns) {
    std::vector<part> parts;
    std::size_t lit = 0, i = 0;
    while (i < s.size()) {
        std::optional<part> found;
        std::size_t len = 0;
        if (s.substr(i).starts_with(replace)) {
            found = part{part_kind::item, 0, {}};
            len = replace.size();
        } else if (s[i] == '{') {
            std::size_t close = s.find('}', i + 1);
            // No builtin form is longer than "{4294967295/.}".
            if (close != std::string_view::npos && close - i <= 14) {
                found = builtin_replacement(s.substr(i + 1, close - i - 1), columns);
                len = close - i + 1;
            }
        }
        if (!found) {
            ++i;
            continue;
        }
        add_literal(parts, s.substr(lit, i - lit));
        parts.push_back(std::move(*found));
        i += len;
        lit = i;
    }
    add_literal(parts, s.substr(lit));
    return parts;
}

bool item_derived(part_kind k) { return k != part_kind::literal && k != part_kind::seq && k != part_kind::slot; }

void finish_word(word& w) {
    for (const auto& p : w.parts) {
        if (item_derived(p.kind)) w.per_item = true;
        w.literal_size += p.text.size();
    }
}

void append_number(std::string& out, std::size_t n) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

}  // namespace

std::string_view path_noext(std::string_view s) {
    std::size_t dot = s.rfind('.');
    if (dot == std::string_view::npos) return s;
    if (s.find('/', dot) != std::string_view::npos) return s;
    return s.substr(0, dot);
}

std::string_view path_basename(std::string_view s) {
    std::size_t slash = s.rfind('/');
    return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

std::string_view path_dirname(std::string_view s) {
    // Perl's File::Basename::dirname, which GNU parallel uses for {//}.
    auto strip_trailing_slashes = [](std::string_view d) {
        while (d.size() > 1 && d.back() == '/') d.remove_suffix(1);
        return d;
    };
    auto fileparse_dir = [](std::string_view p, std::string_view& base) -> std::string_view {
        std::size_t slash = p.rfind('/');
        if (slash == std::string_view::npos) {
            base = p;
            return "./";
        }
        base = p.substr(slash + 1);
        return p.substr(0, slash + 1);
    };
    std::string_view base;
    std::string_view dir = strip_trailing_slashes(fileparse_dir(s, base));
    if (base.empty()) dir = strip_trailing_slashes(fileparse_dir(dir, base));
    return dir;
}

std::string_view record_column(std::string_view record, std::string_view sep, std::size_t n) {
    if (n == 0) return record;
    if (sep.empty()) return n == 1 ? record : std::string_view{};
    std::size_t start = 0;
    for (std::size_t col = 1;; ++col) {
        std::size_t end = record.find(sep, start);
        if (col == n) return record.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (end == std::string_view::npos) return {};
        start = end + sep.size();
    }
}

std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> record_columns(std::string_view record, std::string_view sep) {
    std::vector<std::string_view> cols;
    if (sep.empty()) {
        cols.push_back(trim_blanks(record));
        return cols;
    }
    for (std::size_t start = 0;;) {
        std::size_t end = record.find(sep, start);
        cols.push_back(trim_blanks(record.substr(start, end == std::string_view::npos ? end : end - start)));
        if (end == std::string_view::npos) return cols;
        start = end + sep.size();
    }
}

std::optional<std::size_t> too_long_argument(const std::vector<std::string>& argv) {
    for (std::size_t i = 0; i < argv.size(); ++i)
        if (argv[i].size() + 1 > max_arg_strlen) return i;
    return std::nullopt;
}

command_template::command_template(std::vector<std::string> args, template_options opts)
    : shell_(opts.shell) {
    if (args.empty()) throw std::invalid_argument("no command given");
    if (opts.replace.empty()) throw std::invalid_argument("the replacement string (-I) must not be empty");
    if (opts.colsep) {
        if (opts.colsep->empty()) throw std::invalid_argument("the column separator (--colsep) must not be empty");
        colsep_ = cli::parse_separator(*opts.colsep);
        has_colsep_ = true;
    }
    if (!shell_) {
        words_.reserve(args.size());
        for (const auto& a : args) {
            word w;
            w.parts = parse(a, opts.replace, has_colsep_);
            finish_word(w);
            words_.push_back(std::move(w));
        }
    } else {
        std::string script;
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (i) script.push_back(' ');
            script.append(args[i]);
        }
        // Group the parts into blank-separated words so that a word holding a
        // replacement can repeat once per item; blank runs are words of their own.
        word cur;
        auto flush = [&] {
            if (cur.parts.empty()) return;
            finish_word(cur);
            words_.push_back(std::move(cur));
            cur = word{};
        };
        for (auto& p : parse(script, opts.replace, has_colsep_)) {
            if (p.kind != part_kind::literal) {
                cur.parts.push_back(std::move(p));
                continue;
            }
            std::string_view t = p.text;
            while (!t.empty()) {
                bool blank = is_blank(t[0]);
                std::size_t n = 0;
                while (n < t.size() && is_blank(t[n]) == blank) ++n;
                if (blank) {
                    flush();
                    cur.parts.push_back(part{part_kind::literal, 0, std::string(t.substr(0, n))});
                    flush();
                } else {
                    add_literal(cur.parts, t.substr(0, n));
                }
                t.remove_prefix(n);
            }
        }
        flush();
    }
    for (const auto& w : words_) {
        if (w.per_item) uses_item_ = true;
        for (const auto& p : w.parts)
            if (p.kind != part_kind::literal) has_replacement_ = true;
    }
}

void command_template::render(const word& w, std::string_view item, std::size_t seq, unsigned slot,
                              std::string& out) const {
    for (const auto& p : w.parts) {
        switch (p.kind) {
        case part_kind::literal: out.append(p.text); continue;
        case part_kind::seq: append_number(out, seq); continue;
        case part_kind::slot: append_number(out, slot); continue;
        default: break;
        }
        // --colsep implies GNU parallel's --trim rl: blanks around a column go.
        std::string_view v = p.column ? trim_blanks(record_column(item, colsep_, p.column)) : item;
        switch (p.kind) {
        case part_kind::noext: v = path_noext(v); break;
        case part_kind::basename: v = path_basename(v); break;
        case part_kind::dirname: v = path_dirname(v); break;
        case part_kind::basename_noext: v = path_noext(path_basename(v)); break;
        default: break;
        }
        if (shell_)
            cli::append_shell_quoted(out, v);
        else
            out.append(v);
    }
}

std::vector<std::string> command_template::expand(std::span<const std::string_view> items, std::size_t seq,
                                                  unsigned slot) const {
    std::size_t items_size = 0;
    for (auto it : items) items_size += it.size();
    if (!shell_) {
        std::vector<std::string> argv;
        argv.reserve(words_.size() + items.size());
        for (const auto& w : words_) {
            if (!w.per_item) {
                std::string& a = argv.emplace_back();
                a.reserve(w.literal_size + 8);
                render(w, {}, seq, slot, a);
                continue;
            }
            for (auto it : items) {
                std::string& a = argv.emplace_back();
                a.reserve(w.literal_size + it.size());
                render(w, it, seq, slot, a);
            }
        }
        if (!has_replacement_) {
            for (auto it : items) {
                if (!has_colsep_) {
                    argv.emplace_back(it);
                    continue;
                }
                for (auto col : record_columns(it, colsep_)) argv.emplace_back(col);   // GNU: one argument a column
            }
        }
        return argv;
    }
    std::string script;
    script.reserve(64 + 2 * items_size);
    for (const auto& w : words_) {
        if (!w.per_item) {
            render(w, {}, seq, slot, script);
            continue;
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i) script.push_back(' ');
            render(w, items[i], seq, slot, script);
        }
    }
    if (!has_replacement_) {
        for (auto it : items) {
            if (!has_colsep_) {
                script.push_back(' ');
                cli::append_shell_quoted(script, it);
                continue;
            }
            for (auto col : record_columns(it, colsep_)) {
                script.push_back(' ');
                cli::append_shell_quoted(script, col);
            }
        }
    }
    std::vector<std::string> argv = cli::shell_argv(std::move(script));
    return argv;
}

}  // namespace pmap
