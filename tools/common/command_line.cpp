#include "command_line.hpp"

namespace cli {

namespace {

bool safe_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '/' || c == ',' || c == ':' || c == '@' || c == '%' || c == '+' || c == '=';
}

// Words the shell would read as syntax in command position.
bool reserved_word(std::string_view s) {
    static constexpr std::string_view words[] = {"if",   "then",  "else",  "elif",     "fi",     "do",
                                                 "done", "case",  "esac",  "while",    "until",  "for",
                                                 "in",   "select", "time", "function", "coproc"};
    for (auto w : words)
        if (s == w) return true;
    return false;
}

// NAME=... in command position is an assignment, not a word.
bool looks_like_assignment(std::string_view s) {
    std::size_t eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    if (s[0] >= '0' && s[0] <= '9') return false;
    for (std::size_t i = 0; i < eq; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

void append_shell_quoted(std::string& out, std::string_view s) {
    bool bare = !s.empty() && !reserved_word(s) && !looks_like_assignment(s);
    for (std::size_t i = 0; bare && i < s.size(); ++i) bare = safe_char(static_cast<unsigned char>(s[i]));
    if (bare) {
        out.append(s);
        return;
    }
    out.push_back('\'');
    for (char c : s) {
        if (c == '\'')
            out.append("'\\''");
        else
            out.push_back(c);
    }
    out.push_back('\'');
}

std::string shell_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    append_shell_quoted(out, s);
    return out;
}

std::string format_command(const std::vector<std::string>& argv) {
    std::string out;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (i) out.push_back(' ');
        append_shell_quoted(out, argv[i]);
    }
    return out;
}

std::vector<std::string> shell_argv(std::string script) { return {"/bin/sh", "-c", std::move(script)}; }

}  // namespace cli
