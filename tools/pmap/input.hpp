// pmap's items: from ::: arguments, an -a file, or stdin, handed out in
// groups of -n for each job.  The number of jobs is known from the start
// when it can be (::: items, a regular file: counted with pread, never a seek
// on a pipe), so the bar and percentage halts see it at once; a percentage
// halt on a pipe reads all input first, as GNU parallel does.
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/records.hpp"
#include "pmap.hpp"

namespace pmap {

class item_source {
public:
    // Opens the -a file (throws sys_error); counts a regular file's records
    // when the bar or a percentage halt wants the total.
    item_source(conc::loop& lp, const config& cfg);

    // Reads ahead to learn the total, if the constructor could not and it is needed.
    conc::task<void> prepare(bool need_total);

    // Up to -n items for the next job; empty at the end of input.
    conc::task<std::vector<std::string>> next();

    // The number of jobs, once known.
    const std::optional<std::uint64_t>& total_jobs() const noexcept { return total_; }

private:
    std::uint64_t jobs_for(std::uint64_t items) const { return (items + max_args_ - 1) / max_args_; }

    std::size_t max_args_;
    conc::unique_fd file_;
    std::optional<conc::async_record_reader> reader_;
    std::deque<std::string> ahead_;     // ::: items, or input read ahead
    std::optional<std::uint64_t> total_;
};

}  // namespace pmap
