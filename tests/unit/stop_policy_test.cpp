// cli::stop_policy: --halt (GNU parallel's values) and --wait, deciding when to stop and the exit status.
#include <criterion/criterion.h>

#include <string>

#include "stop_policy.hpp"
#include "units.hpp"

using namespace cli;

namespace {

std::string roundtrip(const char* v) { return to_string(parse_halt(v)); }

std::string error_of(const char* v) {
    try {
        parse_halt(v);
    } catch (const bad_value& e) {
        return e.what();
    }
    return "";
}

}  // namespace

Test(stop_policy, parses_long_forms) {
    cr_assert_eq(roundtrip("never"), "never");
    cr_assert_eq(roundtrip("now,fail=1"), "now,fail=1");
    cr_assert_eq(roundtrip("soon,fail=3"), "soon,fail=3");
    cr_assert_eq(roundtrip("now,success=1"), "now,success=1");
    cr_assert_eq(roundtrip("soon,done=10"), "soon,done=10");
    cr_assert_eq(roundtrip("now,fail=20%"), "now,fail=20%");
    cr_assert_eq(roundtrip("soon,done=100%"), "soon,done=100%");
}

Test(stop_policy, shorthands_mean_one_job) {
    cr_assert_eq(roundtrip("now,fail"), "now,fail=1");
    cr_assert_eq(roundtrip("soon,success"), "soon,success=1");
    cr_assert_eq(roundtrip("now,done"), "now,done=1");
}

Test(stop_policy, legacy_numbers) {
    cr_assert(parse_halt("0").never());
    cr_assert_eq(roundtrip("1"), "soon,fail=1");
    cr_assert_eq(roundtrip("2"), "now,fail=1");
    cr_assert_eq(roundtrip("-1"), "soon,success=1");
    cr_assert_eq(roundtrip("-2"), "now,success=1");
    cr_assert_eq(roundtrip("5%"), "soon,fail=5%");
}

Test(stop_policy, policy_fields) {
    stop_policy p = parse_halt("now,fail=20%");
    cr_assert(p.when == stop_action::now);
    cr_assert(p.of == stop_count_of::fail);
    cr_assert(p.percent);
    cr_assert_eq(p.pct, 20u);
    stop_policy q = parse_halt("soon,success=7");
    cr_assert(q.when == stop_action::soon);
    cr_assert(q.of == stop_count_of::success);
    cr_assert_not(q.percent);
    cr_assert_eq(q.count, 7u);
    cr_assert(stop_policy{} == parse_halt("never"));
}

Test(stop_policy, bad_values_are_clear_errors) {
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

Test(stop_policy, never_never_halts) {
    stop_tracker t;
    for (int i = 0; i < 1000; ++i) cr_assert(t.job_finished(i % 2) == stop_action::none);
    cr_assert(t.set_total(1000) == stop_action::none);
    cr_assert_eq(t.failed(), 500u);
    cr_assert_eq(t.succeeded(), 500u);
}

Test(stop_policy, now_fail_one_halts_at_the_first_failure) {
    stop_tracker t(parse_halt("now,fail=1"));
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::now);
    cr_assert(t.job_finished(0) == stop_action::now, "the decision latches");
    cr_assert(t.action() == stop_action::now);
}

Test(stop_policy, soon_fail_counts_failures) {
    stop_tracker t(parse_halt("soon,fail=3"));
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::soon);
}

Test(stop_policy, success_counts_successes) {
    stop_tracker t(parse_halt("now,success=2"));
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::now);
}

Test(stop_policy, done_counts_every_job) {
    stop_tracker t(parse_halt("soon,done=3"));
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::soon);
    cr_assert_eq(t.finished(), 3u);
}

Test(stop_policy, percentage_of_a_known_total) {
    // GNU: halt when failed >= total * pct / 100: 25% of 10 needs 3.
    stop_tracker t(parse_halt("now,fail=25%"));
    cr_assert(t.set_total(10) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::now);
}

Test(stop_policy, percentage_waits_for_the_total) {
    stop_tracker t(parse_halt("soon,fail=50%"));
    for (int i = 0; i < 5; ++i) cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert_not(t.total_known());
    // The input ended: 5 of 8 failed is at least 50%.
    cr_assert(t.set_total(8) == stop_action::soon);
}

Test(stop_policy, percentage_not_reached_with_known_total) {
    stop_tracker t(parse_halt("soon,fail=50%"));
    t.set_total(10);
    for (int i = 0; i < 4; ++i) cr_assert(t.job_finished(1) == stop_action::none);
    for (int i = 0; i < 6; ++i) cr_assert(t.job_finished(0) == stop_action::none);
}

Test(stop_policy, small_percentages_of_small_totals_need_one_job) {
    stop_tracker t(parse_halt("now,fail=1%"));
    cr_assert(t.set_total(3) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::now);
    stop_tracker empty(parse_halt("now,done=50%"));
    cr_assert(empty.set_total(0) == stop_action::none);
}

Test(stop_policy, huge_totals_do_not_overflow) {
    stop_tracker t(parse_halt("now,fail=100%"));
    cr_assert(t.set_total(UINT64_MAX) == stop_action::none);
    for (int i = 0; i < 1000; ++i) cr_assert(t.job_finished(1) == stop_action::none);
}

Test(stop_policy, percentage_with_the_total_known_at_the_start) {
    // --halt soon,fail=30% with 10 jobs: the 3rd failure halts.
    stop_tracker t(parse_halt("soon,fail=30%"));
    cr_assert(t.set_total(10) == stop_action::none);
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(2) == stop_action::none);
    cr_assert_not(t.decided_exit());
    cr_assert(t.job_finished(1) == stop_action::soon);
    cr_assert_eq(t.failed(), 3u);
    cr_assert_eq(t.decided_exit().value_or(-1), 123);
}

Test(stop_policy, wait_maps_onto_halt) {
    cr_assert(parse_wait("all").never());
    cr_assert_eq(to_string(parse_wait("first")), "now,done=1");
    cr_assert_eq(to_string(parse_wait("error")), "now,fail=1");
    for (const char* v : {"", "any", "First", "all,", "error=1"}) {
        try {
            parse_wait(v);
            cr_assert_fail("'%s' was accepted", v);
        } catch (const bad_value& e) {
            cr_assert(std::string(e.what()).starts_with("invalid --wait value '" + std::string(v) + "': "));
        }
    }
}

Test(stop_policy, no_decision_before_the_condition_is_met) {
    stop_tracker never;
    never.job_finished(3);
    cr_assert_not(never.decided_exit());
    stop_tracker t(parse_halt("now,fail=2"));
    t.job_finished(3);
    cr_assert_not(t.decided_exit());
}

Test(stop_policy, success_exits_zero_even_after_failures) {
    // GNU: --halt now,success=1 sh -c 'exit {}' ::: 3 0 exits 0.
    stop_tracker t(parse_halt("now,success=1"));
    cr_assert(t.job_finished(3) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::now);
    cr_assert_eq(t.decided_exit().value_or(-1), 0);
    t.job_finished(143);   // a job stopped because of the halt changes nothing
    cr_assert_eq(t.decided_exit().value_or(-1), 0);
}

Test(stop_policy, fail_one_exits_with_the_failing_jobs_status) {
    stop_tracker t(parse_halt("now,fail=1"));
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert(t.job_finished(7) == stop_action::now);
    t.job_finished(143);
    cr_assert_eq(t.decided_exit().value_or(-1), 7);
    stop_tracker killed(parse_halt("soon,fail"));
    killed.job_finished(128 + 9);
    cr_assert_eq(killed.decided_exit().value_or(-1), 137);
}

Test(stop_policy, fail_many_exits_123) {
    stop_tracker t(parse_halt("soon,fail=2"));
    t.job_finished(4);
    cr_assert(t.job_finished(5) == stop_action::soon);
    cr_assert_eq(t.decided_exit().value_or(-1), 123);
}

Test(stop_policy, done_one_exits_with_the_first_finished_jobs_status) {
    stop_tracker ok(parse_wait("first"));
    cr_assert(ok.job_finished(0) == stop_action::now);
    ok.job_finished(143);
    cr_assert_eq(ok.decided_exit().value_or(-1), 0);
    stop_tracker bad(parse_wait("first"));
    bad.job_finished(127);
    cr_assert_eq(bad.decided_exit().value_or(-1), 127);
}

Test(stop_policy, done_many_leaves_the_usual_tally) {
    stop_tracker t(parse_halt("soon,done=2"));
    t.job_finished(0);
    cr_assert(t.job_finished(1) == stop_action::soon);
    cr_assert_not(t.decided_exit());
}

Test(stop_policy, wait_names_a_watched_job) {
    std::string name;
    stop_policy p = parse_wait("db", &name);
    cr_assert_eq(name, "db");
    cr_assert_eq(to_string(p), "now,watched");
    cr_assert_eq(to_string(parse_wait("first", &name)), "now,done=1");
    cr_assert_eq(name, "db");
    try {
        parse_wait("", &name);
        cr_assert_fail("an empty name was accepted");
    } catch (const bad_value& e) {
        cr_assert(std::string(e.what()).starts_with("invalid --wait value '': "));
    }
    stop_tracker t(p);
    cr_assert(t.job_finished(1) == stop_action::none);
    cr_assert(t.job_finished(0) == stop_action::none);
    cr_assert_not(t.decided_exit());
    cr_assert(t.job_finished(3, true) == stop_action::now);
    cr_assert_eq(t.decided_exit().value_or(-1), 3);
    t.job_finished(143);   // stopped afterwards: changes nothing
    cr_assert_eq(t.decided_exit().value_or(-1), 3);
}
