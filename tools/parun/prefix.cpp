#include "prefix.hpp"

#include <time.h>

#include <cstdio>

#include "units.hpp"

namespace parun {

prefix_format::prefix_format(std::string_view format) {
    static constexpr std::pair<std::string_view, field> fields[] = {
        {"name", field::name}, {"index", field::index}, {"pid", field::pid}, {"time", field::time}};
    auto text = [&](std::string_view t) {
        if (parts_.empty() || parts_.back().kind != field::text) parts_.push_back({field::text, {}});
        parts_.back().text += t;
    };
    for (std::size_t i = 0; i < format.size(); ++i) {
        char c = format[i];
        if ((c == '{' || c == '}') && i + 1 < format.size() && format[i + 1] == c) {
            text(std::string_view(&format[i], 1));
            ++i;
            continue;
        }
        if (c == '}') throw cli::bad_value("a lone '}' in '" + std::string(format) + "' (write }} for one)");
        if (c != '{') {
            text(std::string_view(&format[i], 1));
            continue;
        }
        std::size_t close = format.find('}', i);
        if (close == std::string_view::npos)
            throw cli::bad_value("a '{' without its '}' in '" + std::string(format) + "' (write {{ for one)");
        std::string_view word = format.substr(i + 1, close - i - 1);
        bool known = false;
        for (auto& [w, f] : fields)
            if (word == w) {
                parts_.push_back({f, {}});
                known = true;
            }
        if (!known)
            throw cli::bad_value("unknown field {" + std::string(word) + "}: expected {name}, {index}, {pid} or {time}");
        i = close;
    }
}

bool prefix_format::uses(field f) const noexcept {
    for (auto& p : parts_)
        if (p.kind == f) return true;
    return false;
}

std::string prefix_format::render(const std::string& name, std::size_t index, int pid, std::string_view time) const {
    std::string r;
    for (auto& p : parts_) {
        switch (p.kind) {
        case field::text: r += p.text; break;
        case field::name: r += name; break;
        case field::index: r += std::to_string(index); break;
        case field::pid: r += pid > 0 ? std::to_string(pid) : std::string(); break;
        case field::time: r += time; break;
        }
    }
    return r;
}

std::string time_of_day() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm local;
    ::localtime_r(&ts.tv_sec, &local);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld", local.tm_hour, local.tm_min, local.tm_sec,
                  ts.tv_nsec / 1000000);
    return buf;
}

}  // namespace parun
