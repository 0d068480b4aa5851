// --prefix FORMAT: what goes before each line of a command's output.
// {name} (padded to the longest name), {index} (1, 2, ...), {pid} (the
// command's, once started; empty before) and {time} (local HH:MM:SS.mmm, when
// the line is written); {{ and }} are braces.  The default is "{name} |".
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parun {

class prefix_format {
public:
    // Throws cli::bad_value for an unknown {field} or a lone brace.
    explicit prefix_format(std::string_view format = "{name} |");

    enum class field { text, name, index, pid, time };
    struct part {
        field kind;
        std::string text;   // field::text only
    };

    // The prefix for one line; time is written as HH:MM:SS.mmm.
    std::string render(const std::string& name, std::size_t index, int pid, std::string_view time) const;
    bool uses(field f) const noexcept;

private:
    std::vector<part> parts_;
};

// Local wall-clock time now, HH:MM:SS.mmm.
std::string time_of_day();

}  // namespace parun
