#include "command_template.hpp"

#include <algorithm>
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

part simple(part_kind k, std::uint32_t column = 0) { return part{k, column, {}, 0}; }

std::optional<part_kind> derived(std::string_view s) {
    if (s == ".") return part_kind::noext;
    if (s == "/") return part_kind::basename;
    if (s == "//") return part_kind::dirname;
    if (s == "/.") return part_kind::basename_noext;
    return std::nullopt;
}

// GNU parallel's make_regexp_ungreedy: * and + match as little as they can.
std::string ungreedy(std::string_view re) {
    std::string out;
    for (std::size_t i = 0; i < re.size(); ++i) {
        out.push_back(re[i]);
        if (re[i] == '\\' && i + 1 < re.size()) out.push_back(re[++i]);
        else if ((re[i] == '*' || re[i] == '+') && (i + 1 == re.size() || re[i + 1] != '?')) out.push_back('?');
    }
    return out;
}

// --plus: the strings GNU parallel defines with a Perl s///, as it writes them.
std::optional<std::string> plus_fixed(std::string_view inner) {
    static const std::pair<std::string_view, std::string_view> table[] = {
        {"+/", "s:/[^/]*$:: || s:.*$::"},
        {"+.", "s:.*\\.:: || s:.*$::"},
        {"+..", "s:.*\\.([^/.]*\\.[^/.]*)$:$1: || s:.*$::"},
        {"+...", "s:.*\\.([^/.]*\\.[^/.]*\\.[^/.]*)$:$1: || s:.*$::"},
        {"..", "s:\\.[^/.]*\\.[^/.]*$::"},
        {"...", "s:\\.[^/.]*\\.[^/.]*\\.[^/.]*$::"},
        {"/..", "s:.*/::; s:\\.[^/.]*\\.[^/.]*$::"},
        {"/...", "s:.*/::; s:\\.[^/.]*\\.[^/.]*\\.[^/.]*$::"},
    };
    for (auto& [tag, expr] : table)
        if (inner == tag) return std::string(expr);
    return std::nullopt;
}

bool all_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// --plus: GNU parallel's Bash-like strings ({:2}, {%.gz}, {/a/b}, ...) as substitutions.
std::optional<substitution> plus_pattern(std::string_view inner) {
    auto split2 = [](std::string_view s) -> std::optional<std::pair<std::string, std::string>> {
        std::size_t slash = s.find('/');
        if (slash == std::string_view::npos || slash == 0) return std::nullopt;
        return std::pair{std::string(s.substr(0, slash)), std::string(s.substr(slash + 1))};
    };
    auto subst = [](std::string re, std::string repl, bool global) {
        std::string expr = "s\x01" + re + "\x01" + repl + "\x01" + (global ? "g" : "");
        return substitution(expr);
    };
    if (inner.starts_with(":-") && inner.size() > 2) return substitution::default_value(std::string(inner.substr(2)));
    if (inner.starts_with(":")) {
        std::string_view r = inner.substr(1);
        std::size_t colon = r.find(':');
        if (colon == std::string_view::npos && all_digits(r))
            return substitution::of("^[\\s\\S]{0," + std::string(r) + "}", "", false);
        if (colon != std::string_view::npos && all_digits(r.substr(0, colon)) && all_digits(r.substr(colon + 1)))
            return substitution::of("^[\\s\\S]{0," + std::string(r.substr(0, colon)) + "}([\\s\\S]{0," +
                                        std::string(r.substr(colon + 1)) + "})[\\s\\S]*$",
                                    "$1", false);
        return std::nullopt;
    }
    if (inner.starts_with("##") && inner.size() > 2 && inner[2] != '#')
        return substitution::of("^(?:" + std::string(inner.substr(2)) + ")", "", false);
    if (inner.starts_with("#") && inner.size() > 1 && inner[1] != '#')
        return substitution::of("^(?:" + ungreedy(inner.substr(1)) + ")(.*)", "$1", false);
    if (inner.starts_with("%%") && inner.size() > 2)
        return substitution::of("(?:" + std::string(inner.substr(2)) + ")$", "", false);
    if (inner.starts_with("%") && inner.size() > 1)
        return substitution::of("^(.*)(?:" + ungreedy(inner.substr(1)) + ")$", "$1", false);
    if (inner.starts_with("/#"))
        if (auto p = split2(inner.substr(2))) return subst("^" + p->first, p->second, true);
    if (inner.starts_with("/%"))
        if (auto p = split2(inner.substr(2))) return subst(p->first + "$", p->second, true);
    if (inner.starts_with("//"))
        if (auto p = split2(inner.substr(2))) return subst(p->first, p->second, true);
    if (inner.starts_with("/"))
        if (auto p = split2(inner.substr(1))) return subst(p->first, p->second, false);
    return std::nullopt;
}

void add_literal(std::vector<part>& parts, std::string_view text) {
    if (text.empty()) return;
    if (parts.empty() || parts.back().kind != part_kind::literal) parts.push_back(simple(part_kind::literal));
    parts.back().text.append(text);
}

bool item_derived(part_kind k) {
    return k != part_kind::literal && k != part_kind::seq && k != part_kind::slot && k != part_kind::total &&
           k != part_kind::seq0 && k != part_kind::slot0;
}

bool numeric(part_kind k) {
    return k == part_kind::seq || k == part_kind::slot || k == part_kind::total || k == part_kind::seq0 ||
           k == part_kind::slot0;
}

void finish_word(word& w) {
    w.per_item = false;
    w.literal_size = 0;
    for (const auto& p : w.parts) {
        if (item_derived(p.kind) && p.column == 0) w.per_item = true;
        w.literal_size += p.text.size();
    }
}

void append_number(std::string& out, std::size_t n, unsigned width = 0) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    for (auto len = unsigned(r.ptr - buf); len < width; ++len) out.push_back('0');
    out.append(buf, r.ptr);
}

unsigned digits(std::size_t n) {
    unsigned d = 1;
    while (n >= 10) n /= 10, ++d;
    return d;
}

// Splits a command word into literal text and replacements: --rpl tags first,
// then the -I string, then {= EXPR =}, the fixed {...} forms, --plus, and
// --header names; anything else is literal.
class template_parser {
public:
    template_parser(const template_options& o, std::vector<substitution>& transforms) : o_(o), transforms_(transforms) {
        for (auto& [tag, expr] : o.rpl) {
            if (tag.empty()) throw std::invalid_argument("an --rpl tag must not be empty");
            tags_.push_back({tag, add(substitution(expr))});
        }
        // The longest tag wins where several start at the same place.
        std::stable_sort(tags_.begin(), tags_.end(), [](auto& a, auto& b) { return a.tag.size() > b.tag.size(); });
    }

    std::vector<part> parse(std::string_view s) {
        std::vector<part> parts;
        std::size_t lit = 0, i = 0;
        while (i < s.size()) {
            std::size_t len = 0;
            std::optional<part> found = at(s, i, len);
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

private:
    struct user_tag {
        std::string tag;
        std::uint32_t transform;
    };

    std::uint32_t add(substitution t) {
        transforms_.push_back(std::move(t));
        return std::uint32_t(transforms_.size() - 1);
    }

    std::optional<part> at(std::string_view s, std::size_t i, std::size_t& len) {
        std::string_view rest = s.substr(i);
        for (auto& t : tags_) {
            if (rest.starts_with(t.tag)) {
                len = t.tag.size();
                return part{part_kind::transform, 0, {}, t.transform};
            }
            // {NX} for a tag {X}: the transform of value N.
            if (t.tag.size() > 2 && t.tag.front() == '{' && t.tag.back() == '}' && rest.size() > 1 && rest[0] == '{') {
                std::size_t d = 1;
                while (d < rest.size() && rest[d] >= '0' && rest[d] <= '9') ++d;
                std::string_view inner(t.tag.data() + 1, t.tag.size() - 1);   // "X}"
                if (d > 1 && rest.substr(d).starts_with(inner)) {
                    len = d + inner.size();
                    return part{part_kind::transform, column(rest.substr(1, d - 1)), {}, t.transform};
                }
            }
        }
        if (rest.starts_with(o_.replace)) {
            len = o_.replace.size();
            return simple(part_kind::item);
        }
        if (rest.size() < 2 || rest[0] != '{') return std::nullopt;
        if (rest[1] == '=') {
            std::size_t close = rest.find("=}", 2);
            if (close == std::string_view::npos) return std::nullopt;
            len = close + 2;
            std::string_view expr = rest.substr(2, close - 2);
            std::uint32_t col = 0;
            std::size_t d = 0;
            while (d < expr.size() && expr[d] >= '0' && expr[d] <= '9') ++d;
            if (d > 0 && d < expr.size() && expr[d] == ' ') {   // {=N EXPR =}: value N
                col = column(expr.substr(0, d));
                expr.remove_prefix(d);
            }
            try {
                return part{part_kind::transform, col, {}, add(substitution(expr))};
            } catch (const std::invalid_argument& e) {
                throw std::invalid_argument(std::string("{= ") + e.what());
            }
        }
        std::size_t close = rest.find('}', 1);
        if (close == std::string_view::npos) return std::nullopt;
        std::string_view inner = rest.substr(1, close - 1);
        len = close + 1;
        return builtin(inner);
    }

    static std::uint32_t column(std::string_view digits) {
        std::uint32_t n = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc{} || n == 0) throw std::invalid_argument("bad value number in '{" + std::string(digits) + "...}'");
        return n;
    }

    std::optional<part> builtin(std::string_view inner) {
        if (inner == "#") return simple(part_kind::seq);
        if (inner == "%") return simple(part_kind::slot);
        if (auto k = derived(inner)) return simple(*k);
        if (o_.plus) {
            if (inner == "##") return simple(part_kind::total);
            if (inner == "0#") return simple(part_kind::seq0);
            if (inner == "0%") return simple(part_kind::slot0);
            if (auto e = plus_fixed(inner)) return part{part_kind::transform, 0, {}, add(substitution(*e))};
        }
        if (!inner.empty() && inner[0] >= '1' && inner[0] <= '9') {
            std::uint32_t n = 0;
            auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), n);
            if (ec == std::errc{}) {
                std::string_view r(end, std::size_t(inner.data() + inner.size() - end));
                if (r.empty()) return simple(part_kind::item, n);
                if (auto k = derived(r)) return simple(*k, n);
                if (o_.plus)
                    if (auto e = plus_fixed(r)) return part{part_kind::transform, n, {}, add(substitution(*e))};
            }
        }
        if (o_.plus)
            if (auto t = plus_pattern(inner)) return part{part_kind::transform, 0, {}, add(std::move(*t))};
        if (o_.names && !inner.empty() && inner.find_first_of("{ \t\n") == std::string_view::npos)
            return part{part_kind::named, 0, std::string(inner), 0};
        return std::nullopt;
    }

    const template_options& o_;
    std::vector<substitution>& transforms_;
    std::vector<user_tag> tags_;
};

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

std::optional<std::size_t> too_long_argument(const std::vector<std::string>& argv) {
    for (std::size_t i = 0; i < argv.size(); ++i)
        if (argv[i].size() + 1 > max_arg_strlen) return i;
    return std::nullopt;
}

command_template::command_template(std::vector<std::string> args, template_options opts)
    : shell_(opts.shell), context_(opts.context) {
    if (args.empty()) throw std::invalid_argument("no command given");
    if (opts.replace.empty()) throw std::invalid_argument("the replacement string (-I) must not be empty");
    slot_digits_ = digits(opts.slots ? opts.slots : 1);
    template_parser parser(opts, transforms_);
    if (!shell_) {
        words_.reserve(args.size());
        for (const auto& a : args) {
            word w;
            w.parts = parser.parse(a);
            words_.push_back(std::move(w));
        }
    } else {
        std::string script;
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (i) script.push_back(' ');
            script.append(args[i]);
        }
        // Group the parts into blank-separated words so that a word holding a
        // replacement can repeat once per value (-X); blank runs are words of their own.
        word cur;
        auto flush = [&] {
            if (cur.parts.empty()) return;
            words_.push_back(std::move(cur));
            cur = word{};
        };
        for (auto& p : parser.parse(script)) {
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
                    cur.parts.push_back(part{part_kind::literal, 0, std::string(t.substr(0, n)), 0});
                    flush();
                } else {
                    add_literal(cur.parts, t.substr(0, n));
                }
                t.remove_prefix(n);
            }
        }
        flush();
    }
    finish();
}

void command_template::bind_names(const std::vector<std::string>& names) {
    for (auto& w : words_)
        for (auto& p : w.parts) {
            if (p.kind != part_kind::named) continue;
            auto it = std::find(names.begin(), names.end(), p.text);
            if (it == names.end()) {   // GNU parallel leaves an unknown {NAME} as it is
                p.kind = part_kind::literal;
                p.text = "{" + p.text + "}";
            } else {
                p.kind = part_kind::item;
                p.column = std::uint32_t(it - names.begin() + 1);
                p.text.clear();
            }
        }
    finish();
}

void command_template::finish() {
    uses_item_ = has_replacement_ = uses_total_ = false;
    base_cost_ = sizeof(char*) + (shell_ ? 64 : 0);   // argv's NULL; the shell's own words
    std::size_t whole = 0, positional = 0, context_fixed = 0, context_parts = 0;
    for (auto& w : words_) {
        finish_word(w);
        std::size_t numbers = 0, whole_here = 0;
        for (const auto& p : w.parts) {
            if (p.kind == part_kind::literal) continue;
            has_replacement_ = true;
            if (p.kind == part_kind::total || p.kind == part_kind::seq0) uses_total_ = true;
            if (numeric(p.kind)) ++numbers;
            else if (p.column == 0) ++whole_here;
            else ++positional;
            if (item_derived(p.kind)) uses_item_ = true;
        }
        std::size_t own = w.literal_size + 1 + sizeof(char*) + 20 * numbers;
        whole += whole_here;
        if (context_ && w.per_item) {
            context_fixed += own;
            context_parts += whole_here;
        } else {
            base_cost_ += own;
        }
    }
    if (!has_replacement_) {   // appended: an argument a value
        fixed_per_value_ = sizeof(char*);
        parts_per_value_ = 1;
    } else if (context_) {
        fixed_per_value_ = context_fixed;
        parts_per_value_ = context_parts + positional;
    } else {
        // Each value of {} is an argument of its own.
        fixed_per_value_ = whole * sizeof(char*);
        parts_per_value_ = whole + positional;
    }
}

struct command_template::job_view {
    std::span<const std::string_view> values;
    std::size_t seq;
    unsigned slot;
    std::size_t total;
};

void command_template::value_of(const part& p, std::string_view v, std::string& out) const {
    std::string changed;
    switch (p.kind) {
    case part_kind::noext: v = path_noext(v); break;
    case part_kind::basename: v = path_basename(v); break;
    case part_kind::dirname: v = path_dirname(v); break;
    case part_kind::basename_noext: v = path_noext(path_basename(v)); break;
    case part_kind::transform:
        changed = transforms_[p.transform].apply(v);
        v = changed;
        break;
    default: break;
    }
    if (shell_)
        cli::append_shell_quoted(out, v);
    else
        out.append(v);
}

// One rendering of w: into argv (each value of {} starts a new argument) or
// into the script (values joined by a blank); one is the value of a -X repeat.
void command_template::render(const word& w, const job_view& j, const std::string_view* one,
                              std::vector<std::string>* argv, std::string* script) const {
    std::string* out = argv ? &argv->back() : script;
    for (const auto& p : w.parts) {
        switch (p.kind) {
        case part_kind::literal: out->append(p.text); continue;
        case part_kind::seq: append_number(*out, j.seq); continue;
        case part_kind::slot: append_number(*out, j.slot); continue;
        case part_kind::total: append_number(*out, j.total); continue;
        case part_kind::seq0: append_number(*out, j.seq, digits(j.total)); continue;
        case part_kind::slot0: append_number(*out, j.slot, slot_digits_); continue;
        case part_kind::named: out->append("{" + p.text + "}"); continue;   // bind_names() not called
        default: break;
        }
        if (p.column) {
            value_of(p, p.column <= j.values.size() ? j.values[p.column - 1] : std::string_view{}, *out);
        } else if (one) {
            value_of(p, *one, *out);
        } else {
            for (std::size_t i = 0; i < j.values.size(); ++i) {
                if (i) {
                    if (argv) out = &argv->emplace_back();
                    else out->push_back(' ');
                }
                value_of(p, j.values[i], *out);
            }
        }
    }
}

std::vector<std::string> command_template::expand(std::span<const std::string_view> values, std::size_t seq,
                                                  unsigned slot, std::size_t total) const {
    job_view j{values, seq, slot, total};
    if (!shell_) {
        std::vector<std::string> argv;
        argv.reserve(words_.size() + values.size());
        for (const auto& w : words_) {
            if (context_ && w.per_item) {
                for (auto v : values) {
                    argv.emplace_back();
                    render(w, j, &v, &argv, nullptr);
                }
                continue;
            }
            argv.emplace_back().reserve(w.literal_size + (w.per_item && values.size() == 1 ? values[0].size() : 8));
            render(w, j, nullptr, &argv, nullptr);
        }
        if (!has_replacement_)
            for (auto v : values) argv.emplace_back(v);
        return argv;
    }
    std::size_t values_size = 0;
    for (auto v : values) values_size += v.size();
    std::string script;
    script.reserve(64 + 2 * values_size);
    for (const auto& w : words_) {
        if (context_ && w.per_item) {
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (i) script.push_back(' ');
                render(w, j, &values[i], nullptr, &script);
            }
            continue;
        }
        render(w, j, nullptr, nullptr, &script);
    }
    if (!has_replacement_) {
        for (auto v : values) {
            script.push_back(' ');
            cli::append_shell_quoted(script, v);
        }
    }
    return cli::shell_argv(std::move(script));
}

}  // namespace pmap
