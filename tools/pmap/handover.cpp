#include "handover.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "conc/fd.hpp"
#include "messages.hpp"
#include "shell.hpp"
#include "units.hpp"

namespace pmap {

namespace {

// Options (pmap's, ppipe's and GNU parallel's) whose value may be the next argument.
bool takes_value(std::string_view a) {
    static constexpr std::string_view with_value[] = {
        "-j", "-P", "-d", "-a", "-n", "-N", "-I", "-L", "-E", "-l",
        "--jobs", "--max-procs", "--delimiter", "--arg-file", "--max-args", "--max-lines", "--max-replace",
        "--block", "--block-size", "--recend", "--recstart", "--header", "--timeout", "--halt", "--joblog",
        "--delay", "--colsep", "--retries", "--tagstring", "--results", "--workdir", "--wd", "--env", "--load",
        "--memfree", "--nice", "--records", "--recsize", "--tmpdir", "--tempdir", "--termseq", "--sshlogin",
        "-S"};
    for (auto w : with_value)
        if (a == w) return true;
    return false;
}

bool is(std::string_view a, std::string_view name) { return a == name || (a.starts_with(name) && a.size() > name.size() && a[name.size()] == '='); }

// "--header=:" or ("--header", ":"): the value, and how many arguments it took.
std::string value_of(std::string_view a, std::string_view name, char** next, int& used) {
    if (a.size() > name.size() && a[name.size()] == '=') return std::string(a.substr(name.size() + 1));
    if (!*next) cli::usage_error(std::string(name) + " needs a value");
    ++used;
    return *next;
}

[[noreturn]] void exec_ppipe(std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (std::string dir = own_binary(); !dir.empty()) {
        dir.resize(dir.rfind('/') + 1);
        std::string beside = dir + "ppipe";
        if (::access(beside.c_str(), X_OK) == 0) ::execv(beside.c_str(), argv.data());
    }
    ::execvp("ppipe", argv.data());
    int e = errno;
    cli::die(e == ENOENT ? 127 : 126, "--pipe: cannot run ppipe (beside pmap, or on PATH): " + std::string(std::strerror(e)));
}

}  // namespace

void hand_over_to_ppipe_if_asked(int argc, char** argv) {
    // Is --pipe or --pipepart among the options (before the command)?
    int found = 0;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--" || a == ":::" || a == "::::" || a.size() < 2 || a[0] != '-') break;
        if (a == "--pipe" || a == "--pipepart") {
            found = i;
            break;
        }
        if (takes_value(a)) ++i;
    }
    if (!found) return;

    std::vector<std::string> out{"ppipe"};
    bool pipepart = false;
    std::string input, lines, records;   // -L, -N: combined at the end
    int i = 1;
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--" || a.size() < 2 || a[0] != '-') break;   // the command
        int used = 0;
        if (a == "--pipe") continue;
        if (a == "--pipepart") {
            pipepart = true;
            continue;
        }
        for (auto refused : {"--recstart", "--recend", "--regexp", "--cat", "--fifo", "--spreadstdin", "--remove-rec-sep",
                             "--removerecsep", "--rrs", "--files", "--results", "--tag", "--tagstring", "--joblog"})
            if (is(a, refused))
                cli::usage_error(std::string(refused) + ": not available with --pipe: ppipe(1) has no such option "
                                 "(records end at a newline, -d C or -0)");
        if (a == "-a" || is(a, "--arg-file") || (a.starts_with("-a") && a.size() > 2)) {
            input = a.starts_with("-a") && a.size() > 2 ? std::string(a.substr(2)) : value_of(a, a == "-a" ? "-a" : "--arg-file", argv + i + 1, used);
        } else if (is(a, "--header")) {
            std::string h = value_of(a, "--header", argv + i + 1, used);
            if (h == ":") h = "1";
            if (h.empty() || h.find_first_not_of("0123456789") != std::string::npos)
                cli::usage_error("--header " + h + ": with --pipe, only ':' (the first line) or a number of records");
            out.push_back("--header=" + h);
        } else if (a == "-L" || is(a, "--max-lines") || (a.starts_with("-L") && a.size() > 2)) {
            lines = a.starts_with("-L") && a.size() > 2 ? std::string(a.substr(2)) : value_of(a, a == "-L" ? "-L" : "--max-lines", argv + i + 1, used);
        } else if (a == "-N" || (a.starts_with("-N") && a.size() > 2)) {
            records = a.size() > 2 ? std::string(a.substr(2)) : value_of(a, "-N", argv + i + 1, used);
        } else if (is(a, "--nice")) {   // the niceness goes over with exec, to ppipe and its copies
            std::string n = value_of(a, "--nice", argv + i + 1, used);
            int v = int(cli::parse_value("--nice", n, [](auto& x) { return cli::parse_count(x, -20, 19); }));
            if (::setpriority(PRIO_PROCESS, 0, v) < 0) cli::warn("--nice " + n + ": cannot set the niceness: " + std::strerror(errno));
        } else if (is(a, "--env")) {   // no effect, as in pmap
            value_of(a, "--env", argv + i + 1, used);
        } else if (a == "--roundrobin") {
            out.push_back("--round-robin");
        } else {
            out.emplace_back(a);
            if (takes_value(a) && i + 1 < argc) out.emplace_back(argv[++i]);
        }
        i += used;
    }
    auto count = [](const std::string& v, const char* name) {
        return cli::parse_value(name, v, [](auto& s) { return cli::parse_count(s, 1, 1 << 30); });
    };
    if (!lines.empty() && !records.empty())   // GNU: -N records of -L lines each
        out.push_back("--records=" + std::to_string(count(lines, "-L") * count(records, "-N")));
    else if (!lines.empty())
        out.push_back("--recsize=" + lines);
    else if (!records.empty())
        out.push_back("--records=" + records);
    for (; i < argc; ++i) out.emplace_back(argv[i]);
    if (pipepart && input.empty()) cli::usage_error("--pipepart needs -a FILE (or use --pipe and standard input)");
    if (!input.empty() && input != "-") {
        try {
            conc::unique_fd f = conc::open_file(input, O_RDONLY);
            if (::dup2(f.get(), STDIN_FILENO) < 0) throw conc::sys_error(errno, "dup2");
        } catch (const conc::sys_error& e) {
            cli::die(cli::exit_usage, cli::describe(e));
        }
    }
    exec_ppipe(out);
}

}  // namespace pmap
