#include "procfile.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <unordered_map>

#include "conc/fd.hpp"

namespace parun {

namespace {

std::string_view trim(std::string_view s) {
    const char* space = " \t\r";
    std::size_t b = s.find_first_not_of(space);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(space) - b + 1);
}

}  // namespace

std::string name_problem(std::string_view name) {
    if (name.empty()) return "a name must not be empty";
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.';
        if (!ok) return "the name '" + std::string(name) + "' may hold only letters, digits, '_', '-' and '.'";
    }
    return {};
}

std::vector<named_command> parse_procfile(std::string_view text, const std::string& file) {
    std::vector<named_command> cmds;
    std::unordered_map<std::string, std::size_t> first_line;   // name -> line it was defined on
    std::size_t number = 0;
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++number;
        auto fail = [&](const std::string& why) {
            throw procfile_error(file + ":" + std::to_string(number) + ": " + why);
        };
        if (line.empty() || line.front() == '#') continue;
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) fail("expected 'name: command'");
        std::string name(trim(line.substr(0, colon)));
        if (std::string why = name_problem(name); !why.empty()) fail(why);
        std::string_view command = trim(line.substr(colon + 1));
        if (command.empty()) fail("the command for '" + name + "' is empty");
        auto [it, fresh] = first_line.emplace(name, number);
        if (!fresh) fail("the name '" + name + "' is already used on line " + std::to_string(it->second));
        cmds.push_back({std::move(name), std::string(command)});
    }
    if (cmds.empty()) throw procfile_error(file + ": no commands");
    return cmds;
}

std::vector<named_command> read_procfile(const std::string& path) {
    if (path == "-") return parse_procfile(conc::read_all(STDIN_FILENO), "standard input");
    conc::unique_fd f = conc::open_file(path, O_RDONLY);
    return parse_procfile(conc::read_all(f.get()), path);
}

}  // namespace parun
