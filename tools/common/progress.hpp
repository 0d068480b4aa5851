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
// When narrow, the bar goes first, then ETA, then the rate.  An empty label
// drops the "pmap: " prefix.
std::string render_bar(std::string_view label, std::uint64_t done, std::optional<std::uint64_t> total,
                       std::chrono::nanoseconds elapsed, std::size_t width);

// Columns of the terminal on fd (TIOCGWINSZ), or 80 when it is not one.
std::size_t terminal_width(int fd);

// Draws render_bar() on one line of a terminal, redrawn in place with '\r'.
class progress_bar {
public:
    using clock = std::chrono::steady_clock;

    // Draws only if fd is a terminal, or always when force is true.
    explicit progress_bar(std::string label, std::optional<std::uint64_t> total = std::nullopt,
                          bool force = false, clock::time_point start = clock::now(),
                          int fd = STDERR_FILENO);

    // Whether anything will be drawn: callers may skip counting work otherwise.
    bool enabled() const noexcept { return enabled_; }

    // The total may become known late (after all input was read).
    void set_total(std::optional<std::uint64_t> total) { total_ = total; }

    // Redraws with done, at most 10 times a second (now says when it is).
    void update(std::uint64_t done, clock::time_point now);

    // Erases the line so a message can be printed; the next update() redraws.
    void clear();

    // Draws the final line and a newline; later calls do nothing.
    void finish(std::uint64_t done, clock::time_point now);

private:
    void draw(std::uint64_t done, clock::time_point now);

    std::string label_;
    std::optional<std::uint64_t> total_;
    clock::time_point start_;
    std::optional<clock::time_point> last_draw_;
    std::size_t drawn_ = 0;  // columns of the line on screen, to blank leftovers
    int fd_;
    bool enabled_;
    bool finished_ = false;
};

}  // namespace cli
