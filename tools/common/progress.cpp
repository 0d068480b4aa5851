#include "progress.hpp"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "units.hpp"

namespace cli {

namespace {

std::string format_rate(double per_second) {
    char buf[48];
    if (per_second < 10) std::snprintf(buf, sizeof buf, "%.1f/s", per_second);
    else std::snprintf(buf, sizeof buf, "%.0f/s", per_second);
    return buf;
}

void write_fd(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::write(fd, s.data(), s.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // a progress bar that cannot be drawn is not worth failing for
        }
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

std::string render_bar(std::string_view label, std::uint64_t done, std::optional<std::uint64_t> total,
                       std::chrono::nanoseconds elapsed, std::size_t width) {
    std::size_t room = width > 1 ? width - 1 : 0;
    std::string head = label.empty() ? std::string() : std::string(label) + ": ";
    head += std::to_string(done);
    if (total) head += "/" + std::to_string(*total);

    double secs = std::chrono::duration<double>(elapsed).count();
    double rate = secs > 0 ? double(done) / secs : 0;
    // Extras in the order they are given up when the line is narrow: last first.
    std::vector<std::string> extras;
    if (total) {
        std::uint64_t pct = *total == 0 ? 100 : (done >= *total ? 100 : done * 100 / *total);
        extras.push_back(std::to_string(pct) + "%");
    }
    if (secs > 0) extras.push_back(format_rate(rate));
    if (total && done < *total && rate > 0) {
        double eta = double(*total - done) / rate;
        auto whole = std::chrono::seconds(static_cast<long long>(eta + 0.999));
        extras.push_back("ETA " + format_duration(whole));
    }

    auto tail = [&](std::size_t n) {
        std::string t;
        for (std::size_t i = 0; i < n; ++i) t += " " + extras[i];
        return t;
    };

    if (total) {
        std::string t = tail(extras.size());
        std::size_t fixed = head.size() + 3 + t.size();  // " [" and "]"
        if (room >= fixed + 5) {
            std::size_t inner = std::min<std::size_t>(room - fixed, 50);
            std::size_t filled = *total == 0 || done >= *total ? inner : std::size_t(done * inner / *total);
            std::string bar(filled, '=');
            if (filled < inner) bar += '>';
            bar.resize(inner, ' ');
            return head + " [" + bar + "]" + t;
        }
    }
    for (std::size_t n = extras.size() + 1; n-- > 0;) {
        std::string line = head + tail(n);
        if (line.size() <= room) return line;
    }
    return head.substr(0, room);
}

std::size_t terminal_width(int fd) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

progress_bar::progress_bar(std::string label, std::optional<std::uint64_t> total, bool force,
                           clock::time_point start, int fd)
    : label_(std::move(label)), total_(total), start_(start), fd_(fd), enabled_(force || ::isatty(fd)) {}

void progress_bar::draw(std::uint64_t done, clock::time_point now) {
    std::string line = render_bar(label_, done, total_, now - start_, terminal_width(fd_));
    std::size_t len = line.size();
    if (len < drawn_) line.append(drawn_ - len, ' ');  // blank what the longer last line left
    write_fd(fd_, "\r" + line);
    drawn_ = len;
    last_draw_ = now;
}

void progress_bar::update(std::uint64_t done, clock::time_point now) {
    if (!enabled_ || finished_) return;
    if (last_draw_ && now - *last_draw_ < std::chrono::milliseconds(100)) return;
    draw(done, now);
}

void progress_bar::clear() {
    if (!enabled_ || finished_ || drawn_ == 0) return;
    write_fd(fd_, "\r" + std::string(drawn_, ' ') + "\r");
    drawn_ = 0;
    last_draw_.reset();
}

void progress_bar::finish(std::uint64_t done, clock::time_point now) {
    if (!enabled_ || finished_) return;
    draw(done, now);
    write_fd(fd_, "\n");
    finished_ = true;
}

}  // namespace cli
