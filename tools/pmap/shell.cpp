#include "shell.hpp"

#include <unistd.h>

#include <cstdlib>

namespace pmap {

namespace {

std::string_view env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

std::string_view base_name(std::string_view p) {
    auto slash = p.rfind('/');
    return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

bool posix_family(std::string_view shell) {
    static constexpr std::string_view names[] = {"sh", "bash", "dash", "ksh", "mksh", "zsh", "ash", "busybox"};
    std::string_view b = base_name(shell);
    for (auto n : names)
        if (b == n) return true;
    return false;
}

// Builtins a user may type as the command (POSIX special and regular
// built-ins, and bash's common ones) that no PATH directory usually holds.
bool shell_builtin(std::string_view s) {
    static constexpr std::string_view names[] = {
        ".",     ":",     "alias", "bg",      "break",  "builtin", "cd",       "command", "continue", "declare",
        "eval",  "exec",  "exit",  "export",  "fc",     "fg",      "getopts",  "hash",    "jobs",     "let",
        "local", "read",  "readonly", "return", "set",  "shift",   "source",   "times",   "trap",     "type",
        "typeset", "ulimit", "umask", "unalias", "unset", "wait"};
    for (auto n : names)
        if (s == n) return true;
    return false;
}

bool reserved_word(std::string_view s) {
    static constexpr std::string_view words[] = {"!",  "{",    "}",     "if",    "then",  "else", "elif",
                                                 "fi", "do",   "done",  "case",  "esac",  "while", "until",
                                                 "for", "in",  "select", "time", "function", "[[", "((", "coproc"};
    for (auto w : words)
        if (s == w) return true;
    return false;
}

// NAME=value: an assignment in command position.
bool assignment(std::string_view s) {
    auto eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0 || (s[0] >= '0' && s[0] <= '9')) return false;
    for (std::size_t i = 0; i < eq; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

// The literal text of a compiled word, replacement strings left out; whole
// when the word is nothing but literal text.
std::string literal_text(const command_template::word& w, bool& whole) {
    std::string s;
    whole = true;
    for (const auto& p : w.parts) {
        if (p.kind == command_template::part_kind::literal)
            s += p.text;
        else
            whole = false, s += 'x';   // a value: one ordinary character as far as syntax goes
    }
    return s;
}

}  // namespace

bool has_shell_syntax(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        switch (c) {
        case ' ': case '\t': case '\n': case '|': case '&': case ';': case '<': case '>': case '(': case ')':
        case '$': case '`': case '\\': case '"': case '\'': case '*': case '?': case '[': case ']': case '!':
            return true;
        case '#':
        case '~':
            if (i == 0) return true;
            break;
        default: break;
        }
    }
    return false;
}

bool shell_operator_word(std::string_view s) {
    static constexpr std::string_view ops[] = {"|", "||", "&", "&&", ";", ";;", "|&", "(", ")"};
    for (auto o : ops)
        if (s == o) return true;
    // Redirections: [n]> [n]>> [n]< <> >| &> &>> >& <&, alone or glued to their target.
    std::size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == 0 && s.starts_with("&>")) return true;
    return i < s.size() && (s[i] == '>' || s[i] == '<');
}

bool on_path(std::string_view name) {
    std::string_view path = env("PATH");
    if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
    for (std::size_t start = 0;;) {
        std::size_t end = path.find(':', start);
        std::string_view dir = path.substr(start, end == std::string_view::npos ? end : end - start);
        std::string file = std::string(dir.empty() ? "." : dir) + "/" + std::string(name);
        if (::access(file.c_str(), X_OK) == 0) return true;
        if (end == std::string_view::npos) return false;
        start = end + 1;
    }
}

bool exported_bash_function(std::string_view name) {
    std::string var = "BASH_FUNC_" + std::string(name) + "%%";
    return std::getenv(var.c_str()) != nullptr;
}

std::string needs_shell(const std::vector<std::string>& cmd, const command_template& t) {
    const auto& words = t.compiled();
    if (words.empty()) return {};
    bool whole = false;
    if (cmd.size() == 1) {
        std::string s = literal_text(words[0], whole);
        if (has_shell_syntax(s)) return "the command holds shell syntax";
    } else {
        for (const auto& w : words) {
            std::string s = literal_text(w, whole);
            if (shell_operator_word(s)) return "'" + s + "' is a shell operator";
        }
    }
    std::string first = literal_text(words[0], whole);
    if (!whole) return {};
    if (reserved_word(first) || assignment(first)) return "'" + first + "' means something to the shell";
    if (first.find('/') == std::string::npos && !first.empty() && !on_path(first)) {
        if (exported_bash_function(first)) return "'" + first + "' is an exported bash function";
        if (shell_builtin(first)) return "'" + first + "' is a shell builtin";
    }
    return {};
}

std::string choose_shell(bool wants_bash_functions) {
    if (std::string_view p = env("PARALLEL_SHELL"); !p.empty()) return std::string(p);
    std::string shell = "/bin/sh";
    if (std::string_view s = env("SHELL"); !s.empty() && posix_family(s)) shell = s;
    if (wants_bash_functions && base_name(shell) != "bash" && on_path("bash")) return "bash";
    return shell;
}

std::string own_binary() {
    char path[4096];
    long n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    return n > 0 ? std::string(path, std::size_t(n)) : std::string();
}

}  // namespace pmap
