// output.hpp: a tool's stdout and stderr, shared by every job it runs.
//
// Jobs' bytes arrive on pipes; output reads them (drain) and decides when
// they leave, so that two jobs' output never mixes:
//   held   a job's output is written whole when the job ends (GNU parallel's default)
//   line   whole lines as they come (--line-buffer); a line longer than
//          line_max is written in pieces rather than held without limit
//   raw    the jobs write to the tool's own stdout (-u); nothing passes here
// ordered (-k) releases jobs in sequence order: the oldest job streams (line
// mode) or is written when it ends; later ones wait in spools that spill to
// an unlinked file past the memory budget.  An optional prefix starts every
// line (--tag, parun's names).  A --bar is erased and redrawn around output
// so the two never mix.  Every byte leaves through a conc::writer: no write
// blocks the loop, and the first write error stops the tool (on_error).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conc/child.hpp"
#include "conc/co_sync.hpp"
#include "conc/loop.hpp"
#include "conc/reorder.hpp"
#include "conc/writer.hpp"
#include "progress.hpp"

namespace cli {

enum class output_mode { held, line, raw };

struct output_options {
    output_mode mode = output_mode::held;
    bool ordered = false;                 // -k
    std::size_t line_max = 1u << 20;      // line mode: longest line held back whole
    std::size_t memory = 32u << 20;       // held output kept in memory before it spills to disk
    bool end_last_line = false;           // a last line without its newline gets one (held and line modes)
    bool whole_lines = false;             // line mode: a line past line_max waits whole (spilling to disk)
                                          // instead of going out in pieces that others' lines may split
};

class output {
public:
    output(conc::loop& lp, output_options opt, progress_bar* bar = nullptr);
    ~output();
    output(const output&) = delete;
    output& operator=(const output&) = delete;

    // Called once, on the loop, at the first write error on stdout or stderr
    // (the writer names the stream; EPIPE on stdout is writer::state::reader_gone).
    void on_error(std::function<void(const conc::writer&)> fn) { on_error_ = std::move(fn); }

    // One job's output, from open() to finish().
    class job;
    std::unique_ptr<job> open(std::uint64_t seq, std::string prefix = {});
    // Reads fd (the job's stdout for stream 1, stderr for 2) until end of file.
    conc::task<void> drain(job& j, int stream, int fd);
    // Reads a command's piped stdout and stderr (streams 1 and 2) at once, to end of file.
    conc::task<void> drain(job& j, conc::child& c);
    // The job ended and its streams are drained: its output goes out now, or
    // in its turn when ordered.  Returns once what may be written is written.
    conc::task<void> finish(std::unique_ptr<job> j);
    // Ordered: seq will have no output (skipped, never run); later jobs need not wait for it.
    conc::task<void> skip(std::uint64_t seq);
    // Text as if the job had written it on stream (pmap --files: the file's name, tagged).
    conc::task<void> add(job& j, int stream, std::string text);

    // Whole text to stream 1 or 2 (--dry-run lines, -v commands, messages).
    conc::task<void> print(int stream, std::string text);   // owns text: it may be spawned
    // Redraws the bar with done (at most 10 times a second; a refused frame is drawn later).
    void progress(std::uint64_t done);
    // Writes out everything still held, then the bar's final frame.
    conc::task<void> close(std::uint64_t done);

    // raw mode: stdout is a pipe or socket whose reader has gone (the jobs write there, not us).
    bool stdout_reader_gone() const noexcept;
    bool failed() const noexcept { return out_.status() != conc::writer::state::open || err_.status() != conc::writer::state::open; }
    conc::writer& out() noexcept { return out_; }
    conc::writer& err() noexcept { return err_; }

private:
    struct sink {
        conc::spool held;             // bytes not yet allowed out
        std::string partial;          // line mode: the unfinished last line
        bool at_line_start = true;    // the next byte starts a line
        std::string seen;             // on_line: the unfinished line seen so far
        bool long_line = false;       // whole_lines: the unfinished line is in held, past line_max
        std::uint64_t received = 0;   // bytes read from the job
        std::function<void(std::string_view)> divert;
        explicit sink(conc::spill_store& s) : held(s) {}
    };
    friend class job;

    conc::task<void> take(job& j, int stream, std::string_view data);
    static void watch(job& j, sink& s, std::string_view data);
    conc::task<void> write_held(job& j);
    conc::task<void> advance();
    conc::task<void> emit(int stream, std::string_view data);
    conc::task<void> emit_lines(int stream, std::string_view data);
    conc::task<void> write_long_line(job& j, int stream);
    conc::task<void> before_write(int stream);
    conc::task<void> switch_to(int stream);
    void schedule_redraw();
    conc::task<void> redraw();
    static std::string prefixed(std::string_view data, const job& j, bool& at_line_start);
    bool live(const job& j) const noexcept;

    conc::loop& lp_;
    output_options opt_;
    progress_bar* bar_;
    conc::writer out_, err_;
    conc::spill_store store_;
    conc::co::semaphore lock_{1};                // one writer of whole jobs at a time
    conc::reorder_buffer<std::unique_ptr<job>> order_;
    std::unordered_map<std::uint64_t, job*> open_;   // ordered: running jobs, to promote the oldest
    std::function<void(const conc::writer&)> on_error_;
    std::vector<std::unique_ptr<char[]>> spare_buffers_;   // drain()'s read buffers, reused
    int last_stream_ = 1;
    bool stdout_is_tty_ = false;
    bool switch_flushes_ = false;
    std::uint64_t done_ = 0;                     // the bar's latest count
    conc::job<void> redraw_;
};

class output::job {
public:
    std::uint64_t seq() const noexcept { return seq_; }
    // Drops what was held (a retried attempt starts afresh).
    void discard() noexcept;
    // Called with each line of the job's stdout or stderr as it is read
    // (without prefix or newline; a last line without newline too), in every
    // mode but raw, whether or not the line is written yet (parun's --ready).
    void on_line(std::function<void(std::string_view line)> fn) { on_line_ = std::move(fn); }
    // Nothing of this job is written (its lines still reach on_line).
    void silence() noexcept { silent_ = true; }
    // A new prefix, from the next line on (parun's {pid}, known once the command started).
    void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
    // A prefix made afresh for each line (parun's {time}); set, it replaces the fixed one.
    void prefix_each_line(std::function<std::string()> fn) { line_prefix_ = std::move(fn); }
    // Text before each newline of a prefixed line (pmap --ctag: the colour's reset).
    void set_line_end(std::string end) { line_end_ = std::move(end); }
    // The bytes of stream (1 or 2) go to fn instead of the tool's output
    // (pmap --results); on_line and received() still see them.
    void divert(int stream, std::function<void(std::string_view)> fn) { this->stream(stream).divert = std::move(fn); }
    // Bytes the job wrote on stream so far (the joblog's Receive).
    std::uint64_t received(int stream) const noexcept { return stream == 1 ? out_.received : err_.received; }

private:
    friend class output;
    job(std::uint64_t seq, std::string prefix, conc::spill_store& s) : seq_(seq), prefix_(std::move(prefix)), out_(s), err_(s) {}
    sink& stream(int n) noexcept { return n == 1 ? out_ : err_; }
    std::uint64_t seq_;
    std::string prefix_;
    std::string line_end_;
    sink out_, err_;
    bool live_ = false;      // ordered line mode: the oldest job, streaming
    std::function<void(std::string_view)> on_line_;
    std::function<std::string()> line_prefix_;
    bool silent_ = false;
    bool has_prefix() const noexcept { return !prefix_.empty() || line_prefix_; }
};

}  // namespace cli
