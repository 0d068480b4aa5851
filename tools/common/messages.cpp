#include "messages.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "conc/error.hpp"

namespace cli {

namespace {
std::string& name_storage() {
    static std::string name = "conc";
    return name;
}

// Best effort: a message that cannot be written has nowhere else to go.
void write_stderr(std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::write(STDERR_FILENO, s.data(), s.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}
}  // namespace

void set_program_name(const char* argv0) {
    std::string_view s = argv0 ? argv0 : "";
    while (!s.empty() && s.back() == '/') s.remove_suffix(1);
    if (auto slash = s.rfind('/'); slash != std::string_view::npos) s.remove_prefix(slash + 1);
    if (!s.empty()) name_storage() = std::string(s);
}

const std::string& program_name() { return name_storage(); }

void warn(std::string_view msg) {
    std::string line;
    line.reserve(program_name().size() + msg.size() + 3);
    line.append(program_name()).append(": ").append(msg).append("\n");
    write_stderr(line);
}

void die(int code, std::string_view msg) {
    warn(msg);
    std::exit(code);
}

void usage_error(std::string_view msg) {
    warn(msg);
    write_stderr("Try '" + program_name() + " --help'.\n");
    std::exit(exit_usage);
}

std::string describe(const std::exception& e) {
    auto se = dynamic_cast<const conc::sys_error*>(&e);
    if (!se) return e.what();
    // system_error::what() is "doing: reason"; put "cannot" before the doing.
    std::string what = se->what();
    std::string reason = se->code().message();
    std::string suffix = ": " + reason;
    std::string doing = what;
    if (what.size() >= suffix.size() && what.compare(what.size() - suffix.size(), suffix.size(), suffix) == 0)
        doing = what.substr(0, what.size() - suffix.size());
    if (doing.empty()) return reason;
    return "cannot " + doing + ": " + reason;
}

void die(const std::exception& e, int code) { die(code, describe(e)); }

}  // namespace cli
