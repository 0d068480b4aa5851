// pmap's input: the sources (::: items, :::: and -a files, stdin) turned into
// arguments, each holding one value per source (or per --colsep column), and
// packed into jobs (-n/-N/-L, or -m/-X as many as fit in an argv).
//
// One source streams: a record is read when a job needs it.  Several sources
// are read whole first, then combined as GNU parallel does: the cross product
// (the last source changing fastest), sources linked by :::+ / ::::+ taken
// side by side (as long as the shortest), --link linking all (as long as the
// longest, the shorter ones starting over).
//
// The number of jobs is known from the start when it can be (items, a regular
// file counted with pread, never a seek on a pipe), so the bar and percentage
// halts see it at once; a percentage halt on a pipe reads all input first.
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "command_template.hpp"
#include "conc/fd.hpp"
#include "conc/loop.hpp"
#include "conc/records.hpp"
#include "pmap.hpp"

namespace pmap {

// The bytes an exec can carry: sysconf(_SC_ARG_MAX) minus the environment
// (strings and pointers) and xargs's 2048 bytes of headroom.
std::size_t argv_room(std::size_t env_extra = 0);

// Splits a record at sep (literal; empty: no split) into values, trimmed.
void split_record(std::string_view record, std::string_view sep, trim_mode trim, std::vector<std::string>& out);
std::string_view trim_value(std::string_view s, trim_mode trim);

class item_source {
public:
    // Opens the files (throws sys_error); counts a regular file's records
    // when the bar or a percentage halt wants the total.  tmpl prices each
    // value for -m/-X and --max-chars.
    item_source(conc::loop& lp, const config& cfg, const command_template& tmpl);

    // Reads the --header records, and all input when several sources, --shuf
    // or need_total ask for it.
    conc::task<void> prepare(bool need_total);

    // The values of the next job, argument after argument; nullopt at the end.
    conc::task<std::optional<std::vector<std::string>>> next();

    // The number of jobs, once known.
    const std::optional<std::uint64_t>& total_jobs() const noexcept { return total_; }
    // --header: the name of each value's position.
    const std::vector<std::string>& column_names() const noexcept { return names_; }

private:
    using argument = std::vector<std::string>;
    struct source {
        conc::unique_fd file;
        std::optional<conc::async_record_reader> reader;
        std::vector<argument> records;     // read whole (or ::: items)
        std::size_t next = 0;              // streaming: the next of records
        bool ended = false;                // -E met
        bool linked = false;
        std::vector<std::string> names;    // --header
    };

    conc::task<std::optional<argument>> read_record(source& s);
    conc::task<std::optional<argument>> next_argument();
    std::optional<argument> combine();
    conc::task<void> read_all();
    std::uint64_t jobs_for(std::uint64_t args) const { return fill_ ? 0 : (args + max_args_ - 1) / max_args_; }

    const config& cfg_;
    const command_template& tmpl_;
    std::string colsep_;
    trim_mode trim_;
    std::size_t max_args_;
    bool fill_;
    std::size_t room_ = 0;                 // -m/-X, --max-chars: argv bytes a job may use
    bool first_job_ = true;
    bool nul_warned_ = false;
    std::deque<source> sources_;       // a deque: a reader never moves
    bool materialized_ = false;            // all arguments are in ahead_
    std::deque<argument> ahead_;
    // Several sources: the position in each group of linked sources.
    std::vector<std::pair<std::size_t, std::size_t>> groups_;   // first source, count
    std::vector<std::size_t> index_;
    bool combos_done_ = false;
    std::optional<std::uint64_t> total_;
    std::vector<std::string> names_;
};

}  // namespace pmap
