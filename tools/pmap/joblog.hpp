// pmap --joblog and --resume: GNU parallel's joblog, one row per finished job,
// so either tool resumes from the other's log.
//
//   Seq<TAB>Host<TAB>Starttime<TAB>JobRuntime<TAB>Send<TAB>Receive<TAB>Exitval<TAB>Signal<TAB>Command
//
// As GNU parallel writes it: Host is ":" (this computer), Starttime is
// seconds since the epoch with 3 decimals ("%.3f"), JobRuntime "%10.3f"
// (padded to 10 columns), Send 0, Receive the bytes of the job's stdout, and
// the Command as run by a shell, each newline in it written as a NUL byte.
// Each row goes out in one write(2), so a crash never leaves half a row behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conc/fd.hpp"

namespace pmap {

inline constexpr std::string_view joblog_header =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

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
    // --retry-failed: the Command of each failed seq (its last row), NULs back to newlines.
    std::vector<std::pair<std::uint64_t, std::string>> failed_commands;

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
// With commands, failed_commands is filled too (--retry-failed).
joblog_state read_joblog(const std::string& path, bool commands = false);

// One finished job, as a joblog row.
struct joblog_row {
    std::uint64_t seq = 0;
    double start = 0;          // seconds since the epoch
    double runtime = 0;        // seconds
    std::uint64_t send = 0;    // bytes sent to the job (GNU: --pipe input)
    std::uint64_t receive = 0; // bytes of its stdout
    int exitval = 0;
    int signal = 0;
    std::string_view command;
    std::string_view host = ":";   // -S: where it ran
};

// The row's text, newline included (GNU parallel's format).
std::string format_joblog_row(const joblog_row& r);

// A command as one joblog field: each newline becomes a NUL byte, as GNU parallel writes it.
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
    void write(const joblog_row& r);

    int fd() const noexcept { return fd_.get(); }
    const std::string& path() const noexcept { return path_; }

private:
    void write_row(std::string_view text);

    conc::unique_fd fd_;
    std::string path_;
};

}  // namespace pmap
