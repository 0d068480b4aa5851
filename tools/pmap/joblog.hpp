// pmap --joblog and --resume: a TSV file with one row per finished job.
//
//   Seq<TAB>Slot<TAB>Starttime<TAB>JobRuntime<TAB>Exitval<TAB>Signal<TAB>Command
//
// Times are seconds with 3 decimals (Starttime since the epoch).  Each row
// goes out in one write(2), so a crash never leaves half a row behind.  The
// Command field escapes backslash, TAB, newline and CR as \\ \t \n \r.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conc/fd.hpp"

namespace pmap {

inline constexpr std::string_view joblog_header = "Seq\tSlot\tStarttime\tJobRuntime\tExitval\tSignal\tCommand\n";

// A set of job numbers, stored as sorted disjoint runs: a joblog of millions
// of consecutive jobs costs a few bytes.
class seq_set {
public:
    bool contains(std::uint64_t seq) const noexcept;
    std::size_t size() const noexcept;                      // number of seqs
    bool empty() const noexcept { return runs_.empty(); }
    const std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs() const noexcept { return runs_; }  // [lo, hi]
    // Builds the set from any list of seqs (duplicates allowed).
    static seq_set from(std::vector<std::uint64_t> seqs);

private:
    std::vector<std::pair<std::uint64_t, std::uint64_t>> runs_;
};

struct joblog_state {
    seq_set succeeded;  // some row of the seq has Exitval 0 and Signal 0
    seq_set failed;     // logged, and no row of the seq succeeded
    std::size_t bad_lines = 0;  // rows that could not be read (skipped)

    // --resume skips every logged job; --resume-failed only those that succeeded.
    bool skip(std::uint64_t seq, bool resume_failed) const noexcept {
        return succeeded.contains(seq) || (!resume_failed && failed.contains(seq));
    }
};

// Every error about the joblog is a conc::sys_error whose doing names it,
// "open the joblog 'PATH'", so cli::describe() makes the one message
// "cannot open the joblog 'PATH': REASON" (likewise read, write).
std::string joblog_doing(std::string_view doing, const std::string& path);

// Reads a joblog.  A missing file is an empty state (nothing to skip), as in
// GNU parallel; other errors (a directory too) throw conc::sys_error.  Columns are found by the
// header's names, so GNU parallel's joblog (with Host, Send, Receive) reads too;
// without a header pmap's own layout is assumed.
joblog_state read_joblog(const std::string& path);

// Escapes backslash, TAB, newline and CR so a command is one TSV field.
std::string joblog_escape(std::string_view command);

class joblog_writer {
public:
    enum class mode {
        truncate,  // a new log: truncate, then write the header
        append,    // --resume: keep the rows; the header only if the file is empty
    };
    // Throws conc::sys_error("open the joblog 'path'") when the file cannot
    // be opened, ("write the joblog 'path'") when its header cannot be written.
    joblog_writer(const std::string& path, mode m);

    // One row, in one write(2).  Throws conc::sys_error("write the joblog 'path'")
    // when it cannot be written.
    void write(std::uint64_t seq, unsigned slot, double start_epoch_seconds, double runtime_seconds, int exitval,
               int signal, std::string_view command);

    int fd() const noexcept { return fd_.get(); }
    const std::string& path() const noexcept { return path_; }

private:
    void write_row(std::string_view text);

    conc::unique_fd fd_;
    std::string path_;
    std::string row_;  // reused buffer
};

}  // namespace pmap
