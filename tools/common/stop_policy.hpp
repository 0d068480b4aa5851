// stop_policy.hpp: when a tool stops early, and with which exit status.
// pmap's --halt and parun's --wait are two spellings of the same policy.
//
// --halt (GNU parallel's spelling and meaning):
//   never                    the default
//   now|soon,fail[=X]        X jobs failed          (X is N or P%; bare means =1)
//   now|soon,success[=X]     X jobs succeeded
//   now|soon,done[=X]        X jobs finished, whatever their status
//   0 1 2 -1 -2              legacy: never, soon,fail=1, now,fail=1, soon,success=1, now,success=1
//   P%                       soon,fail=P%
// --wait (parun):
//   all                      never (wait for every command)
//   first                    now,done=1
//   error                    now,fail=1
//   NAME                     now,watched: the one job the tool watches ended
//                            (parse_wait with a name out-parameter only)
//
// soon: start nothing new, let the running jobs finish; now: stop them too.
//
// P% is P percent of the total number of jobs (GNU: the condition holds when
// count >= total * P / 100).  GNU parallel reads all its input before starting
// when a percentage is given; a tool that reads lazily calls set_total() once
// it knows the total (at once for ::: items, otherwise at the end of input),
// and a percentage is checked only from then on.  An endless input therefore
// never stops on a percentage; use a count there.
//
//   cli::stop_tracker t(cli::parse_halt("now,fail=1"));
//   t.set_total(n);                                   // when known
//   if (t.job_finished(status.shell_code()) == cli::stop_action::now) kill_the_rest();
//   ...
//   return t.decided_exit().value_or(usual_exit_status);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cli {

enum class stop_action : std::uint8_t {
    none,  // keep going
    soon,  // start no new jobs; let the running ones finish
    now,   // stop the running jobs
};

// watched: the one job the tool marks as watched (job_finished(status, true)).
enum class stop_count_of : std::uint8_t { fail, success, done, watched };

struct stop_policy {
    stop_action when = stop_action::none;  // none: never stop early
    stop_count_of of = stop_count_of::fail;
    std::uint64_t count = 1;               // threshold when !percent (>= 1)
    unsigned pct = 0;                      // 1..100 when percent
    bool percent = false;

    bool never() const noexcept { return when == stop_action::none; }
    friend bool operator==(const stop_policy&, const stop_policy&) = default;
};

// Both throw cli::bad_value (units.hpp) with a one-line message, e.g.
// "invalid --halt value 'sometimes': expected never, now,... or soon,... (or 0, 1, 2)".
stop_policy parse_halt(std::string_view value);
stop_policy parse_wait(std::string_view value);   // all | first | error
// The same, and any other non-empty value names a job: *name = value, and
// the policy is now,watched (stop when that job ends; its status is the exit).
stop_policy parse_wait(std::string_view value, std::string* name);

// The canonical --halt form: "now,fail=1", "soon,done=20%", "never".
std::string to_string(const stop_policy& p);

// Counts outcomes and says when to stop.  The answer latches: once soon or
// now, it stays so, and later jobs (those stopped, say) change nothing.
class stop_tracker {
public:
    explicit stop_tracker(stop_policy p = {}) noexcept : policy_(p) {}

    // A job finished with this status, as the shell numbers it: 0 succeeded;
    // 1-255 its exit code (126/127: it could not be run); 128+n killed by
    // signal n (conc::exit_status::shell_code()).
    // watched: this is the job a now,watched policy waits for.
    stop_action job_finished(int status, bool watched = false) noexcept;
    // The total number of jobs, once known (percentages wait for it).
    stop_action set_total(std::uint64_t total) noexcept;

    // The exit status the policy decided, GNU parallel's rule, once the
    // condition is met; nullopt before, or when the tool's usual tally
    // (0 if every job succeeded, else 123) is the answer:
    //   success=X          0
    //   fail=1, done=1     the status of the job that met the condition
    //   fail=N>1, fail=P%  123 (GNU: the number of failed jobs; conc's
    //                      convention gives 123 for "some jobs failed")
    //   done=N>1, done=P%  nullopt: the usual tally
    //   watched            the status of the watched job
    std::optional<int> decided_exit() const noexcept { return decided_exit_; }

    stop_action action() const noexcept { return action_; }
    bool total_known() const noexcept { return total_known_; }
    std::uint64_t finished() const noexcept { return succeeded_ + failed_; }
    std::uint64_t succeeded() const noexcept { return succeeded_; }
    std::uint64_t failed() const noexcept { return failed_; }
    const stop_policy& policy() const noexcept { return policy_; }

private:
    stop_action evaluate(std::optional<int> last_status) noexcept;

    stop_policy policy_;
    stop_action action_ = stop_action::none;
    std::optional<int> decided_exit_;
    std::uint64_t succeeded_ = 0, failed_ = 0, watched_ = 0, total_ = 0;
    bool total_known_ = false;
};

}  // namespace cli
