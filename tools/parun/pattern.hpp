// A POSIX extended regular expression (regcomp/regexec from libc), owned:
// what --ready NAME=REGEX waits for in NAME's output.
#pragma once
#include <regex.h>

#include <memory>
#include <string>
#include <string_view>

namespace parun {

class line_pattern {
public:
    // Throws cli::bad_value with regerror's words when the expression is not valid.
    explicit line_pattern(const std::string& expression);
    // True when the line (without its newline) holds a match.
    bool matches(std::string_view line) const;
    const std::string& expression() const noexcept { return expression_; }

private:
    struct freer {
        void operator()(regex_t* r) const noexcept;
    };
    std::string expression_;
    std::unique_ptr<regex_t, freer> re_;
};

}  // namespace parun
