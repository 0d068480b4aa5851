// The part of Perl that GNU parallel's replacement strings need, run without
// Perl: `s/RE/REPL/[gi]` statements (any delimiter), joined by `;` (in turn)
// or `||` (the right one runs only when the left one matched nothing), and
// `$_ = "TEXT"`.  RE is an ECMAScript regex (std::regex): Perl's common
// syntax (classes, \d \s \w, groups, *? +?, anchors) means the same; REPL may
// hold $1..$9, ${N} and $&.  Used for --rpl tags, {= EXPR =} and the --plus
// strings that GNU parallel itself defines this way.
#pragma once

#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pmap {

class substitution {
public:
    // Throws std::invalid_argument when expr is outside the subset.
    explicit substitution(std::string_view expr);

    std::string apply(std::string_view value) const;

    // For the --plus strings pmap builds itself.
    static substitution of(std::string re, std::string fmt, bool global);
    // {:-TEXT}: TEXT when the value is empty or "0", as Perl's ||=.
    static substitution default_value(std::string text);

private:
    struct step {
        std::regex re;
        std::string fmt;   // std::regex_replace format
        bool global = false;
        bool assign = false;   // $_ = fmt
    };
    substitution() = default;
    std::vector<std::vector<step>> statements_;   // each: alternatives joined by ||
    std::optional<std::string> default_;
};

}  // namespace pmap
