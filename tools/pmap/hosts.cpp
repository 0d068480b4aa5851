#include "hosts.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <vector>

#include "conc/fd.hpp"
#include "options.hpp"

namespace pmap {

namespace {

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

[[noreturn]] void bad(std::string_view spec, const std::string& why) {
    throw cli::usage_problem("--sshlogin '" + std::string(spec) + "': " + why);
}

}  // namespace

sshlogin parse_sshlogin(std::string_view spec) {
    std::string_view s = trimmed(spec);
    sshlogin l;
    // N/ before the first blank (a transport's words may hold slashes: "ssh -F /etc/x host").
    if (auto slash = s.find('/'); slash != std::string_view::npos && s.substr(0, slash).find_first_of(" \t") == std::string_view::npos) {
        std::string_view n = s.substr(0, slash);
        if (!all_digits(n) || n.size() > 6 || std::stoul(std::string(n)) == 0)
            bad(spec, "the job slots before '/' must be a number of 1 or more");
        l.slots = unsigned(std::stoul(std::string(n)));
        s.remove_prefix(slash + 1);
    }
    l.name = std::string(s);
    if (s == ":") return l;
    if (s.empty()) bad(spec, "no host");
    // "ssh -p 2222 host": a transport of its own, then the host.
    if (auto blank = s.find_last_of(" \t"); blank != std::string_view::npos) {
        for (std::string_view words = s.substr(0, blank); !words.empty();) {
            auto end = words.find_first_of(" \t");
            if (end != 0) l.ssh.emplace_back(words.substr(0, end));
            words = end == std::string_view::npos ? std::string_view() : words.substr(end + 1);
        }
        s.remove_prefix(blank + 1);
    }
    if (s.find_first_of(" \t'\"\\$`;&|<>()*?{}!#~") != std::string_view::npos)
        bad(spec, "a host is [user@]host[:port], without shell characters");
    if (auto at = s.rfind('@'); at != std::string_view::npos) {
        l.user = std::string(s.substr(0, at));
        if (l.user.empty()) bad(spec, "no user before '@'");
        s.remove_prefix(at + 1);
    }
    // host:port; an IPv6 address is written [addr]:port.
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos) bad(spec, "no ']' after an IPv6 address");
        l.host = std::string(s.substr(1, close - 1));
        s.remove_prefix(close + 1);
        if (!s.empty() && s.front() != ':') bad(spec, "expected ':PORT' after ']'");
    } else {
        auto colon = s.find(':');
        l.host = std::string(s.substr(0, colon));
        s = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
    }
    if (!s.empty()) {
        std::string_view port = s.substr(1);
        if (!all_digits(port) || port.size() > 5 || std::stoul(std::string(port)) > 65535 || std::stoul(std::string(port)) == 0)
            bad(spec, "the port after ':' must be a number from 1 to 65535");
        l.port = std::string(port);
    }
    if (l.host.empty()) bad(spec, "no host");
    if (l.host.front() == '-') bad(spec, "a host cannot start with '-'");
    return l;
}

void add_sshlogins(std::string_view list, std::vector<sshlogin>& out) {
    if (trimmed(list).empty()) bad(list, "no host");
    for (std::size_t start = 0; start <= list.size();) {
        std::size_t comma = list.find(',', start);
        std::string_view spec = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (!trimmed(spec).empty()) {
            sshlogin l = parse_sshlogin(spec);
            bool replaced = false;
            for (auto& o : out)
                if (o.name == l.name) o = l, replaced = true;
            if (!replaced) out.push_back(std::move(l));
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
}

std::vector<sshlogin> parse_sshlogin_file(std::string_view text) {
    std::vector<sshlogin> out;
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        if (!trimmed(line).empty()) add_sshlogins(line, out);
    }
    return out;
}

std::string sshlogin_file_path(const std::string& arg) {
    if (arg != "..") return arg;
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + "/.parallel/sshloginfile";
}

std::optional<std::vector<sshlogin>> sshlogin_file::changed() {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0) {
        if (!read_) throw cli::usage_problem("--sshloginfile '" + path_ + "': cannot read it");
        return std::nullopt;
    }
    if (read_ && st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec) return std::nullopt;
    std::string text;
    try {
        text = conc::read_all(conc::open_file(path_, O_RDONLY).get());
    } catch (const conc::sys_error&) {
        if (!read_) throw cli::usage_problem("--sshloginfile '" + path_ + "': cannot read it");
        return std::nullopt;
    }
    mtime_ = st.st_mtim;
    read_ = true;
    return parse_sshlogin_file(text);
}

}  // namespace pmap
