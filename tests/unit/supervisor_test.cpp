// cli::exit_tally: what happened -> one exit status and its one-line summary.
#include <criterion/criterion.h>
#include <signal.h>

#include <string>

#include "messages.hpp"
#include "supervisor.hpp"

using namespace cli;

Test(exit_tally, failures_give_123_and_a_summary_of_those_that_finished) {
    exit_tally t;
    t.job_ended(true);
    t.job_ended(false);
    cr_assert_eq(t.code(), exit_failed);
    cr_assert_eq(t.summary(), "1 of 2 jobs failed");
}

Test(exit_tally, a_known_total_is_the_of_m) {
    exit_tally t;
    t.total = 5;
    t.job_ended(false);
    cr_assert_eq(t.summary("commands"), "1 of 5 commands failed");
}

Test(exit_tally, the_most_serious_cause_wins_and_then_no_summary) {
    exit_tally t;
    t.job_ended(false);
    t.timed_out = true;
    cr_assert_eq(t.code(), exit_timeout);
    cr_assert_eq(t.summary(), "");
    t.signal = SIGTERM;
    cr_assert_eq(t.code(), 128 + SIGTERM);
}

Test(exit_tally, a_decided_status_replaces_the_tally) {
    exit_tally t;
    t.job_ended(false);
    t.decided = 0;
    cr_assert_eq(t.code(), 0);
    cr_assert_eq(t.summary(), "");
}
