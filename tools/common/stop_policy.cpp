#include "stop_policy.hpp"

#include <charconv>
#include <utility>

#include "messages.hpp"
#include "units.hpp"

namespace cli {

namespace {

[[noreturn]] void bad(std::string_view value, std::string_view why) {
    throw bad_value("invalid --halt value '" + std::string(value) + "': " + std::string(why));
}

// "N" or "P%" after the '='.
void parse_threshold(std::string_view value, std::string_view t, stop_policy& p) {
    bool pct = !t.empty() && t.back() == '%';
    if (pct) t.remove_suffix(1);
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (t.empty() || ec != std::errc{} || end != t.data() + t.size())
        bad(value, "expected a number of jobs N or a percentage P% after '='");
    if (n == 0) bad(value, "the number of jobs must be at least 1");
    if (pct) {
        if (n > 100) bad(value, "a percentage must be between 1% and 100%");
        p.percent = true;
        p.pct = static_cast<unsigned>(n);
        p.count = 1;
    } else {
        p.count = n;
    }
}

// The value named word in table, if any.
template <class E, std::size_t N>
bool lookup(std::string_view word, const std::pair<std::string_view, E> (&table)[N], E& out) {
    for (const auto& [name, e] : table)
        if (word == name) {
            out = e;
            return true;
        }
    return false;
}

}  // namespace

stop_policy parse_halt(std::string_view value) {
    stop_policy p;
    if (value == "never" || value == "0") return p;
    if (value == "1") return {stop_action::soon, stop_count_of::fail, 1, 0, false};
    if (value == "2") return {stop_action::now, stop_count_of::fail, 1, 0, false};
    if (value == "-1") return {stop_action::soon, stop_count_of::success, 1, 0, false};
    if (value == "-2") return {stop_action::now, stop_count_of::success, 1, 0, false};
    std::string_view v = value;
    if (!v.empty() && v.back() == '%' && v.find(',') == std::string_view::npos) {  // "5%": soon,fail=5%
        p.when = stop_action::soon;
        parse_threshold(value, v, p);
        return p;
    }
    std::size_t comma = v.find(',');
    std::string_view when = v.substr(0, comma);
    constexpr std::pair<std::string_view, stop_action> whens[] = {{"now", stop_action::now}, {"soon", stop_action::soon}};
    if (!lookup(when, whens, p.when)) bad(value, "expected never, now,... or soon,... (or 0, 1, 2)");
    if (comma == std::string_view::npos) bad(value, "expected ,fail ,success or ,done after '" + std::string(when) + "'");
    std::string_view rest = v.substr(comma + 1);
    std::size_t eq = rest.find('=');
    constexpr std::pair<std::string_view, stop_count_of> whats[] = {
        {"fail", stop_count_of::fail}, {"success", stop_count_of::success}, {"done", stop_count_of::done}};
    if (!lookup(rest.substr(0, eq), whats, p.of))
        bad(value, "expected fail, success or done after '" + std::string(when) + ",'");
    if (eq != std::string_view::npos) parse_threshold(value, rest.substr(eq + 1), p);
    return p;
}

stop_policy parse_wait(std::string_view value) {
    if (value == "all") return {};
    if (value == "first") return {stop_action::now, stop_count_of::done, 1, 0, false};
    if (value == "error") return {stop_action::now, stop_count_of::fail, 1, 0, false};
    throw bad_value("invalid --wait value '" + std::string(value) + "': expected all, first or error");
}

stop_policy parse_wait(std::string_view value, std::string* name) {
    if (value == "all" || value == "first" || value == "error" || !name) return parse_wait(value);
    if (value.empty()) throw bad_value("invalid --wait value '': expected all, first, error or a command's name");
    *name = value;
    return {stop_action::now, stop_count_of::watched, 1, 0, false};
}

std::string to_string(const stop_policy& p) {
    if (p.never()) return "never";
    std::string s = p.when == stop_action::now ? "now," : "soon,";
    if (p.of == stop_count_of::watched) return s + "watched";
    s += p.of == stop_count_of::fail ? "fail=" : p.of == stop_count_of::success ? "success=" : "done=";
    s += p.percent ? std::to_string(p.pct) + "%" : std::to_string(p.count);
    return s;
}

stop_action stop_tracker::job_finished(int status, bool watched) noexcept {
    (status == 0 ? succeeded_ : failed_) += 1;
    if (watched) ++watched_;
    return evaluate(status);
}

stop_action stop_tracker::set_total(std::uint64_t total) noexcept {
    total_ = total;
    total_known_ = true;
    return evaluate(std::nullopt);
}

stop_action stop_tracker::evaluate(std::optional<int> last_status) noexcept {
    if (action_ != stop_action::none || policy_.never()) return action_;
    std::uint64_t n = policy_.of == stop_count_of::fail      ? failed_
                      : policy_.of == stop_count_of::success ? succeeded_
                      : policy_.of == stop_count_of::watched ? watched_
                                                             : succeeded_ + failed_;
    std::uint64_t threshold = policy_.count;
    if (policy_.percent) {
        if (!total_known_) return action_;
        // ceil(total * pct / 100) without overflow, and never below one job.
        std::uint64_t q = total_ / 100, r = total_ % 100;
        threshold = q * policy_.pct + (r * policy_.pct + 99) / 100;
        if (threshold == 0) threshold = 1;
    }
    if (n < threshold) return action_;
    action_ = policy_.when;
    bool by_one_job = !policy_.percent && policy_.count == 1;
    switch (policy_.of) {
    case stop_count_of::success: decided_exit_ = exit_ok; break;
    case stop_count_of::fail:
        decided_exit_ = by_one_job && last_status ? *last_status : exit_failed;
        break;
    case stop_count_of::done:
        if (by_one_job && last_status) decided_exit_ = *last_status;
        break;
    case stop_count_of::watched:
        if (last_status) decided_exit_ = *last_status;
        break;
    }
    return action_;
}

}  // namespace cli
