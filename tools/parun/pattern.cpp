#include "pattern.hpp"

#include "units.hpp"

namespace parun {

void line_pattern::freer::operator()(regex_t* r) const noexcept {
    ::regfree(r);
    delete r;
}

line_pattern::line_pattern(const std::string& expression) : expression_(expression) {
    auto* r = new regex_t;
    if (int rc = ::regcomp(r, expression.c_str(), REG_EXTENDED | REG_NOSUB); rc != 0) {
        char why[256];
        ::regerror(rc, r, why, sizeof why);
        delete r;
        throw cli::bad_value("invalid regular expression '" + expression + "': " + why);
    }
    re_.reset(r);
}

bool line_pattern::matches(std::string_view line) const {
    std::string s(line);   // regexec wants a C string; a NUL byte in the line ends it
    return ::regexec(re_.get(), s.c_str(), 0, nullptr, 0) == 0;
}

}  // namespace parun
