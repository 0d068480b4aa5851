// pmap --tag, --tagstring, --ctag, --color and --results NAME{}: a string
// with replacement strings, made once per job; and GNU parallel's colours.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "command_template.hpp"

namespace pmap {

// A template that makes one string (not an argv): the replacement strings of
// COMMAND (and -I, --colsep) with the values of the job; several items of a
// job come out space-separated, as GNU parallel's {} gives them.
class string_template {
public:
    string_template(std::string text, template_options opts);
    bool has_replacement() const noexcept { return tmpl_.has_replacement(); }
    std::string expand(std::span<const std::string_view> items, std::size_t seq, unsigned slot) const;

private:
    std::string text_;
    command_template tmpl_;
};

// GNU parallel's --color for job seq: background and foreground codes, then
// "clear to end of line" (\033[K); reset_colour ends each coloured line.
std::string colour_of(std::uint64_t seq);
inline constexpr std::string_view reset_colour = "\033[m";

// --tagstring's value as typed: \t, \n, \\ and the like become the bytes (GNU's unquote_printf).
std::string unquote_printf(std::string_view s);

}  // namespace pmap
