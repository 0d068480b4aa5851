// progress.hpp: the --bar progress line on stderr.
// Why separate render_bar(): the text is a pure function of the numbers and
// can be tested; progress_bar only decides when and where to draw it.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cli {

// One progress line, at most width - 1 columns (so the cursor never wraps):
//   "pmap: 1234/5000 [=====>     ] 24% 812/s ETA 4s"   total known
//   "pmap: 1234 812/s"                                 total unknown
//   "ppipe: 12 blocks 12.0M 3.2M/s"                    bytes counted too
// When narrow, the bar goes first, then ETA, then the rate.  An empty label
// drops the "pmap: " prefix.
std::string render_bar(std::string_view label, std::uint64_t done, std::optional<std::uint64_t> total,
                       std::chrono::nanoseconds elapsed, std::size_t width,
                       std::optional<std::uint64_t> bytes = std::nullopt);

// GNU parallel's --progress, for this computer only ("local"): the lines
// printed once before the first status line, and the status line itself:
//   "local:RUNNING/COMPLETED/PCT%/AVG.Ss "   PCT of started jobs, AVG whole
//                                            seconds elapsed per completed job
// --eta puts "ETA: Ns Left: N AVG: N.NNs  " before it (gnu_eta keeps GNU's smoothing).
std::string gnu_progress_header(unsigned cpus, unsigned max_jobs);
std::string render_gnu_progress(std::uint64_t running, std::uint64_t completed, std::uint64_t started,
                                std::uint64_t elapsed_seconds);
class gnu_eta {
public:
    // "ETA: 3s Left: 5 AVG: 0.50s  " (zeros until a job completed).
    std::string text(std::uint64_t total, std::uint64_t completed, std::uint64_t now_seconds);

private:
    std::optional<std::uint64_t> first_completed_;
    double smoothed_ = 0;
    long long last_eta_ = 0;
};

// Columns of the terminal on fd (TIOCGWINSZ), or 80 when it is not one.
std::size_t terminal_width(int fd);

// The --bar line on a terminal, as text to write: the caller writes it (through
// its stderr writer, so the bar and messages never mix).  Frames come at most
// 10 times a second; a frame refused for that reason is due() later, and the
// final frame always shows the final counts.
class progress_bar {
public:
    using clock = std::chrono::steady_clock;

    // Enabled only if fd is a terminal, or always when force is true.
    progress_bar(std::string label, bool force, clock::time_point start = clock::now(), int fd = STDERR_FILENO);

    bool enabled() const noexcept { return enabled_; }
    void set_total(std::optional<std::uint64_t> total) noexcept { total_ = total; }
    const std::optional<std::uint64_t>& total() const noexcept { return total_; }
    // Bytes moved so far, shown with their rate (ppipe), from now on.
    void set_bytes(std::uint64_t bytes) noexcept { bytes_ = bytes; }
    // Draw GNU parallel's --progress status line (with --eta's estimate) instead of the bar.
    void use_gnu_progress(bool eta) noexcept { gnu_ = true, eta_ = eta; }
    // --progress: jobs running now and started in all.
    void set_running(std::uint64_t running, std::uint64_t started) noexcept { running_ = running, started_ = started; }

    // "\r" and the line for done, or nullopt within 100 ms of the last frame.
    std::optional<std::string> frame(std::uint64_t done, clock::time_point now);
    // When a refused frame may be drawn.
    clock::time_point due() const noexcept;
    // Text that blanks the line (empty when nothing is on screen); the next frame is drawn at once.
    std::string erase();
    // The final frame and a newline; empty once given, or when disabled.
    std::string final_frame(std::uint64_t done, clock::time_point now);

private:
    std::string draw(std::uint64_t done, clock::time_point now);

    std::string label_;
    std::optional<std::uint64_t> total_;
    std::optional<std::uint64_t> bytes_;
    clock::time_point start_;
    std::optional<clock::time_point> last_draw_;
    std::size_t drawn_ = 0;  // columns of the line on screen, to blank leftovers
    int fd_;
    bool enabled_;
    bool finished_ = false;
    bool gnu_ = false, eta_ = false;
    std::uint64_t running_ = 0, started_ = 0;
    gnu_eta gnu_eta_;
};

}  // namespace cli
