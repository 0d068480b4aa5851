#include "remote_env.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string_view>

#include "conc/error.hpp"
#include "conc/fd.hpp"

extern char** environ;

namespace pmap {

std::optional<std::string> ignored_vars_path() {
    const char* home = std::getenv("HOME");
    if (!home || !*home) return std::nullopt;
    return std::string(home) + "/.parallel/ignored_vars";
}

void record_environment() {
    auto path = ignored_vars_path();
    if (!path) throw std::runtime_error("--record-env: HOME is not set");
    std::string dir = path->substr(0, path->rfind('/'));
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) throw conc::sys_error("create '" + dir + "'");
    std::string names;
    for (char** e = environ; *e; ++e) {
        std::string_view var(*e);
        names.append(var.substr(0, var.find('='))).push_back('\n');
    }
    // Written beside, then renamed: a reader sees the old list or the new one.
    std::string tmp = *path + ".pmap-" + std::to_string(::getpid());
    conc::unique_fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (!f) throw conc::sys_error("open '" + tmp + "'");
    try {
        conc::write_all(f.get(), names);
        if (::close(f.release()) != 0) throw conc::sys_error("write '" + tmp + "'");
        if (::rename(tmp.c_str(), path->c_str()) != 0) throw conc::sys_error("rename '" + tmp + "' to '" + *path + "'");
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
}

std::vector<std::string> variables_to_send(const std::vector<std::string>& names) {
    // Every login has its own of these.
    std::set<std::string, std::less<>> ignored = {"_", "HOME", "HOSTNAME", "LOGNAME", "MAIL", "OLDPWD", "PATH",
                                                  "PWD", "SHELL", "SHLVL", "TERM", "USER", "DISPLAY"};
    if (auto path = ignored_vars_path()) {
        std::ifstream f(*path);
        for (std::string w; f >> w;) ignored.insert(w);
    }
    auto skipped = [&](std::string_view name) {
        return ignored.contains(name) || name.starts_with("SSH_") || name.starts_with("XDG_") ||
               name.starts_with("PARALLEL_") || name.starts_with("PMAP_");
    };
    std::vector<std::string> out;
    auto add = [&](std::string v) {
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
    };
    for (const auto& name : names) {
        for (char** e = environ; *e; ++e) {
            std::string_view var(*e);
            std::string_view n = var.substr(0, var.find('='));
            bool all = name == "_" && !skipped(n);
            // An exported bash function travels as BASH_FUNC_name%%.
            bool named = n == name || n == "BASH_FUNC_" + name + "%%";
            if (all || named) add(std::string(var));
        }
    }
    return out;
}

}  // namespace pmap
