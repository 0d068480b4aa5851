// pmap --halt: parsing GNU parallel's values and deciding when to stop.
#include <criterion/criterion.h>

#include <string>

#include "../../tools/pmap/halt.hpp"

using namespace pmap;

namespace {

std::string roundtrip(const char* v) { return to_string(parse_halt(v)); }

std::string error_of(const char* v) {
    try {
        parse_halt(v);
    } catch (const halt_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

Test(halt, parses_long_forms) {
    cr_assert_eq(roundtrip("never"), "never");
    cr_assert_eq(roundtrip("now,fail=1"), "now,fail=1");
    cr_assert_eq(roundtrip("soon,fail=3"), "soon,fail=3");
    cr_assert_eq(roundtrip("now,success=1"), "now,success=1");
    cr_assert_eq(roundtrip("soon,done=10"), "soon,done=10");
    cr_assert_eq(roundtrip("now,fail=20%"), "now,fail=20%");
    cr_assert_eq(roundtrip("soon,done=100%"), "soon,done=100%");
}

Test(halt, shorthands_mean_one_job) {
    cr_assert_eq(roundtrip("now,fail"), "now,fail=1");
    cr_assert_eq(roundtrip("soon,success"), "soon,success=1");
    cr_assert_eq(roundtrip("now,done"), "now,done=1");
}

Test(halt, legacy_numbers) {
    cr_assert(parse_halt("0").never());
    cr_assert_eq(roundtrip("1"), "soon,fail=1");
    cr_assert_eq(roundtrip("2"), "now,fail=1");
    cr_assert_eq(roundtrip("-1"), "soon,success=1");
    cr_assert_eq(roundtrip("-2"), "now,success=1");
    cr_assert_eq(roundtrip("5%"), "soon,fail=5%");
}

Test(halt, policy_fields) {
    halt_policy p = parse_halt("now,fail=20%");
    cr_assert(p.when == halt_action::now);
    cr_assert(p.of == halt_count_of::fail);
    cr_assert(p.percent);
    cr_assert_eq(p.pct, 20u);
    halt_policy q = parse_halt("soon,success=7");
    cr_assert(q.when == halt_action::soon);
    cr_assert(q.of == halt_count_of::success);
    cr_assert_not(q.percent);
    cr_assert_eq(q.count, 7u);
    cr_assert(halt_policy{} == parse_halt("never"));
}

Test(halt, bad_values_are_clear_errors) {
    const char* bad[] = {"",        "sometimes", "now",          "soon,",       "now,crash", "now,fail=",
                         "now,fail=x", "now,fail=0", "now,fail=0%", "now,fail=101%", "now,fail=-1", "3",
                         "now,fail=1,x", "NOW,fail", "never,fail=1", "now,fail=1.5%", "%"};
    for (const char* v : bad) {
        std::string e = error_of(v);
        cr_assert_neq(e, "", "'%s' was accepted", v);
        cr_assert(e.starts_with("invalid --halt value '" + std::string(v) + "': "), "%s", e.c_str());
        cr_assert_eq(e.find('\n'), std::string::npos);
    }
}

Test(halt, never_never_halts) {
    halt_tracker t;
    for (int i = 0; i < 1000; ++i) cr_assert(t.job_finished(i % 2) == halt_action::none);
    cr_assert(t.set_total(1000) == halt_action::none);
    cr_assert_eq(t.failed(), 500u);
    cr_assert_eq(t.succeeded(), 500u);
}

Test(halt, now_fail_one_halts_at_the_first_failure) {
    halt_tracker t(parse_halt("now,fail=1"));
    cr_assert(t.job_finished(true) == halt_action::none);
    cr_assert(t.job_finished(true) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::now);
    cr_assert(t.job_finished(true) == halt_action::now, "the decision latches");
    cr_assert(t.action() == halt_action::now);
}

Test(halt, soon_fail_counts_failures) {
    halt_tracker t(parse_halt("soon,fail=3"));
    cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert(t.job_finished(true) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::soon);
}

Test(halt, success_counts_successes) {
    halt_tracker t(parse_halt("now,success=2"));
    cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert(t.job_finished(true) == halt_action::none);
    cr_assert(t.job_finished(true) == halt_action::now);
}

Test(halt, done_counts_every_job) {
    halt_tracker t(parse_halt("soon,done=3"));
    cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert(t.job_finished(true) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::soon);
    cr_assert_eq(t.finished(), 3u);
}

Test(halt, percentage_of_a_known_total) {
    // GNU: halt when failed >= total * pct / 100: 25% of 10 needs 3.
    halt_tracker t(parse_halt("now,fail=25%"));
    cr_assert(t.set_total(10) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::now);
}

Test(halt, percentage_waits_for_the_total) {
    halt_tracker t(parse_halt("soon,fail=50%"));
    for (int i = 0; i < 5; ++i) cr_assert(t.job_finished(false) == halt_action::none);
    cr_assert_not(t.total_known());
    // The input ended: 5 of 8 failed is at least 50%.
    cr_assert(t.set_total(8) == halt_action::soon);
}

Test(halt, percentage_not_reached_with_known_total) {
    halt_tracker t(parse_halt("soon,fail=50%"));
    t.set_total(10);
    for (int i = 0; i < 4; ++i) cr_assert(t.job_finished(false) == halt_action::none);
    for (int i = 0; i < 6; ++i) cr_assert(t.job_finished(true) == halt_action::none);
}

Test(halt, small_percentages_of_small_totals_need_one_job) {
    halt_tracker t(parse_halt("now,fail=1%"));
    cr_assert(t.set_total(3) == halt_action::none);
    cr_assert(t.job_finished(true) == halt_action::none);
    cr_assert(t.job_finished(false) == halt_action::now);
    halt_tracker empty(parse_halt("now,done=50%"));
    cr_assert(empty.set_total(0) == halt_action::none);
}

Test(halt, huge_totals_do_not_overflow) {
    halt_tracker t(parse_halt("now,fail=100%"));
    cr_assert(t.set_total(UINT64_MAX) == halt_action::none);
    for (int i = 0; i < 1000; ++i) cr_assert(t.job_finished(false) == halt_action::none);
}
