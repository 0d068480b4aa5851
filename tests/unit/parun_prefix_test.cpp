// parun's --prefix FORMAT: fields, braces, and errors.
#include <criterion/criterion.h>

#include <string>

#include "../../tools/parun/prefix.hpp"
#include "units.hpp"

using parun::prefix_format;

namespace {

std::string error_of(const char* format) {
    try {
        prefix_format f(format);
    } catch (const cli::bad_value& e) {
        return e.what();
    }
    return "";
}

}  // namespace

Test(parun_prefix, the_default_is_the_name_and_a_bar) {
    prefix_format f;
    cr_assert_eq(f.render("web ", 2, 77, "12:00:00.000"), "web  |");
    cr_assert_not(f.uses(prefix_format::field::time));
    cr_assert_not(f.uses(prefix_format::field::pid));
}

Test(parun_prefix, every_field_and_escaped_braces) {
    prefix_format f("[{index}:{name}:{pid}] {time} {{x}}");
    cr_assert_eq(f.render("db", 3, 4242, "01:02:03.004"), "[3:db:4242] 01:02:03.004 {x}");
    cr_assert_eq(f.render("db", 3, 0, ""), "[3:db:]  {x}");   // no pid before the start
    cr_assert(f.uses(prefix_format::field::time));
    cr_assert(f.uses(prefix_format::field::pid));
}

Test(parun_prefix, unknown_fields_and_lone_braces_are_errors) {
    cr_assert_eq(error_of("{nope}"), "unknown field {nope}: expected {name}, {index}, {pid} or {time}");
    cr_assert_eq(error_of("a {name"), "a '{' without its '}' in 'a {name' (write {{ for one)");
    cr_assert_eq(error_of("a }"), "a lone '}' in 'a }' (write }} for one)");
    cr_assert_eq(error_of("plain"), "");
}

Test(parun_prefix, time_of_day_has_milliseconds) {
    std::string t = parun::time_of_day();
    cr_assert_eq(t.size(), 12u);
    cr_assert_eq(t[2], ':');
    cr_assert_eq(t[5], ':');
    cr_assert_eq(t[8], '.');
}
