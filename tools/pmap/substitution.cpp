#include "substitution.hpp"

#include <cctype>

namespace pmap {

namespace {

[[noreturn]] void outside(std::string_view expr, std::string_view why) {
    throw std::invalid_argument("'" + std::string(expr) + "' " + std::string(why) +
                                ": pmap runs no Perl, only s/RE/REPL/[gi] and $_=\"TEXT\" statements joined by ';' or '||' "
                                "(see REPLACEMENT STRINGS in pmap(1)); use -s with sed or awk for more");
}

void skip_space(std::string_view s, std::size_t& i) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
}

// One delimited field of s///: up to the next unescaped delim; "\delim" means delim.
std::string field(std::string_view expr, std::size_t& i, char delim) {
    std::string out;
    for (; i < expr.size(); ++i) {
        char c = expr[i];
        if (c == delim) {
            ++i;
            return out;
        }
        if (c == '\\' && i + 1 < expr.size()) {
            if (expr[i + 1] != delim) out.push_back('\\');
            out.push_back(expr[++i]);
            continue;
        }
        out.push_back(c);
    }
    outside(expr, "has an unterminated s///");
}

// Perl's replacement text as a regex_replace format: $N ${N} $& kept, \X is X, a lone $ is literal.
std::string format_of(std::string_view repl, std::string_view expr) {
    std::string fmt;
    for (std::size_t i = 0; i < repl.size(); ++i) {
        char c = repl[i];
        if (c == '\\' && i + 1 < repl.size()) {
            char x = repl[++i];
            if (x == '$') fmt += "$$";
            else fmt.push_back(x);
        } else if (c == '$') {
            if (i + 1 < repl.size() && (std::isdigit(static_cast<unsigned char>(repl[i + 1])) || repl[i + 1] == '&')) {
                fmt.push_back('$');
            } else if (i + 1 < repl.size() && repl[i + 1] == '{') {
                std::size_t close = repl.find('}', i);
                if (close == std::string_view::npos) outside(expr, "has an unterminated ${");
                fmt += "$" + std::string(repl.substr(i + 2, close - i - 2));
                i = close;
            } else {
                outside(expr, "uses a Perl variable in its replacement");
            }
        } else {
            fmt.push_back(c);
        }
    }
    return fmt;
}

}  // namespace

substitution::substitution(std::string_view expr) {
    std::size_t i = 0;
    std::vector<step> alts;
    auto end_statement = [&] {
        if (!alts.empty()) statements_.push_back(std::move(alts));
        alts.clear();
    };
    for (;;) {
        skip_space(expr, i);
        if (i >= expr.size()) break;
        step st;
        if (expr[i] == 's' && i + 1 < expr.size() && !std::isalnum(static_cast<unsigned char>(expr[i + 1])) &&
            !std::isspace(static_cast<unsigned char>(expr[i + 1]))) {
            char delim = expr[i + 1];
            i += 2;
            std::string re = field(expr, i, delim);
            std::string repl = field(expr, i, delim);
            auto flags = std::regex::ECMAScript;
            while (i < expr.size() && std::isalpha(static_cast<unsigned char>(expr[i]))) {
                if (expr[i] == 'g') st.global = true;
                else if (expr[i] == 'i') flags |= std::regex::icase;
                else outside(expr, "uses a regex flag other than g and i");
                ++i;
            }
            try {
                st.re = std::regex(re, flags);
            } catch (const std::regex_error&) {
                outside(expr, "has a regex std::regex cannot read");
            }
            st.fmt = format_of(repl, expr);
        } else if (expr.substr(i).starts_with("$_")) {
            i += 2;
            skip_space(expr, i);
            if (i >= expr.size() || expr[i] != '=') outside(expr, "is not s/// or $_=\"TEXT\"");
            ++i;
            skip_space(expr, i);
            if (i >= expr.size() || (expr[i] != '"' && expr[i] != '\'')) outside(expr, "is not s/// or $_=\"TEXT\"");
            char q = expr[i++];
            std::size_t close = expr.find(q, i);
            if (close == std::string_view::npos) outside(expr, "has an unterminated string");
            std::string text(expr.substr(i, close - i));
            if (q == '"' && (text.find('$') != std::string::npos || text.find('@') != std::string::npos))
                outside(expr, "interpolates a Perl variable");
            st.assign = true;
            st.fmt = std::move(text);
            i = close + 1;
        } else {
            outside(expr, "is not s/// or $_=\"TEXT\"");
        }
        alts.push_back(std::move(st));
        skip_space(expr, i);
        if (i >= expr.size()) break;
        if (expr.substr(i).starts_with("||")) {
            i += 2;
        } else if (expr[i] == ';') {
            ++i;
            end_statement();
        } else {
            outside(expr, "is not s/// or $_=\"TEXT\"");
        }
    }
    end_statement();
}

substitution substitution::of(std::string re, std::string fmt, bool global) {
    substitution s;
    step st;
    try {
        st.re = std::regex(re, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
        outside(re, "is a regex std::regex cannot read");
    }
    st.fmt = std::move(fmt);
    st.global = global;
    s.statements_.push_back({std::move(st)});
    return s;
}

substitution substitution::default_value(std::string text) {
    substitution s;
    s.default_ = std::move(text);
    return s;
}

std::string substitution::apply(std::string_view value) const {
    std::string s(value);
    if (default_) return s.empty() || s == "0" ? *default_ : s;
    for (const auto& alts : statements_) {
        for (const auto& st : alts) {
            if (st.assign) {
                s = st.fmt;
                break;
            }
            if (!std::regex_search(s, st.re)) continue;   // || : try the next one
            s = std::regex_replace(s, st.re, st.fmt,
                                   st.global ? std::regex_constants::format_default
                                             : std::regex_constants::format_first_only);
            break;
        }
    }
    return s;
}

}  // namespace pmap
