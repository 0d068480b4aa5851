// pmap --halt: when to stop starting jobs (soon) or kill the running ones (now),
// with GNU parallel's spelling and meaning.
//
//   never                    the default
//   now|soon,fail[=X]        X jobs failed          (X is N or P%; bare means =1)
//   now|soon,success[=X]     X jobs succeeded
//   now|soon,done[=X]        X jobs finished, whatever their status
//   0 1 2 -1 -2              legacy: never, soon,fail=1, now,fail=1, soon,success=1, now,success=1
//   P%                       soon,fail=P%
//
// P% is P percent of the total number of jobs (GNU: the condition holds when
// count >= total * P / 100).  GNU parallel reads all its input before starting
// when a percentage is given; pmap reads lazily, so it checks a percentage only
// once the total is known: at once for ::: items, otherwise when the input
// reaches its end (set_total).  An endless input therefore never halts on a
// percentage; use a count there.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pmap {

enum class halt_action : std::uint8_t {
    none,  // keep going
    soon,  // start no new jobs; let the running ones finish
    now,   // kill the running jobs
};

enum class halt_count_of : std::uint8_t { fail, success, done };

struct halt_policy {
    halt_action when = halt_action::none;  // none: never halt
    halt_count_of of = halt_count_of::fail;
    std::uint64_t count = 1;               // threshold when !percent (>= 1)
    unsigned pct = 0;                      // 1..100 when percent
    bool percent = false;

    bool never() const noexcept { return when == halt_action::none; }
    friend bool operator==(const halt_policy&, const halt_policy&) = default;
};

// what() is one line for a usage error, e.g.
// "invalid --halt value 'sometimes': expected never, now or soon".
class halt_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

halt_policy parse_halt(std::string_view value);  // throws halt_error
std::string to_string(const halt_policy& p);     // canonical form: "now,fail=1", "soon,done=20%", "never"

// Counts outcomes and says when to halt.  The answer latches: once soon or
// now, it stays so.
class halt_tracker {
public:
    explicit halt_tracker(halt_policy p = {}) noexcept : policy_(p) {}

    // A job finished: succeeded means exit status 0 and no signal.
    halt_action job_finished(bool succeeded) noexcept;
    // The total number of jobs, once known (percentages wait for it).
    halt_action set_total(std::uint64_t total) noexcept;

    halt_action action() const noexcept { return action_; }
    bool total_known() const noexcept { return total_known_; }
    std::uint64_t finished() const noexcept { return succeeded_ + failed_; }
    std::uint64_t succeeded() const noexcept { return succeeded_; }
    std::uint64_t failed() const noexcept { return failed_; }
    const halt_policy& policy() const noexcept { return policy_; }

private:
    halt_action evaluate() noexcept;

    halt_policy policy_;
    halt_action action_ = halt_action::none;
    std::uint64_t succeeded_ = 0, failed_ = 0, total_ = 0;
    bool total_known_ = false;
};

}  // namespace pmap
