#include "progress.hpp"

#include <sys/ioctl.h>

#include <algorithm>
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

}  // namespace

std::string render_bar(std::string_view label, std::uint64_t done, std::optional<std::uint64_t> total,
                       std::chrono::nanoseconds elapsed, std::size_t width, std::optional<std::uint64_t> bytes) {
    std::size_t room = width > 1 ? width - 1 : 0;
    std::string head = label.empty() ? std::string() : std::string(label) + ": ";
    head += std::to_string(done);
    if (total) head += "/" + std::to_string(*total);
    if (bytes) head += " blocks";

    double secs = std::chrono::duration<double>(elapsed).count();
    double rate = secs > 0 ? double(done) / secs : 0;
    // Extras in the order they are given up when the line is narrow: last first.
    std::vector<std::string> extras;
    if (total) {
        std::uint64_t pct = *total == 0 ? 100 : (done >= *total ? 100 : done * 100 / *total);
        extras.push_back(std::to_string(pct) + "%");
    }
    if (bytes) {
        extras.push_back(format_size(*bytes));
        if (secs > 0) extras.push_back(format_size(std::uint64_t(double(*bytes) / secs)) + "/s");
    }
    if (secs > 0 && !bytes) extras.push_back(format_rate(rate));
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

std::string gnu_progress_header(unsigned cpus, unsigned max_jobs) {
    return "\nComputers / CPU cores / Max jobs to run\n1:local / " + std::to_string(cpus) + " / " +
           std::to_string(max_jobs) +
           "\n\nComputer:jobs running/jobs completed/%of started jobs/Average seconds to complete\n";
}

std::string render_gnu_progress(std::uint64_t running, std::uint64_t completed, std::uint64_t started,
                                std::uint64_t elapsed_seconds) {
    if (started == 0) return {};
    double avg = completed ? double(elapsed_seconds) / double(completed) : 0;
    char buf[160];
    std::snprintf(buf, sizeof buf, "local:%llu/%llu/%llu%%/%.1fs ", static_cast<unsigned long long>(running),
                  static_cast<unsigned long long>(completed),
                  static_cast<unsigned long long>((running + completed) * 100 / started), avg);
    return buf;
}

std::string gnu_eta::text(std::uint64_t total, std::uint64_t completed, std::uint64_t now_seconds) {
    // GNU parallel's compute_eta(), whole seconds as its time() gives them.
    total = std::max(total, completed);
    std::uint64_t left = total - completed;
    double avg = 0;
    long long eta = 0;
    if (completed) {
        double pct = std::min(double(completed) / double(total), 100.0);
        if (!first_completed_) first_completed_ = now_seconds;
        avg = double(now_seconds - *first_completed_) / double(completed);
        if (smoothed_ == 0) smoothed_ = avg;
        smoothed_ = (1 - pct) * smoothed_ + pct * avg;
        eta = static_cast<long long>(double(left) * smoothed_);
        if (double(eta) * 0.90 < double(last_eta_) && last_eta_ < eta) eta = last_eta_;   // up by < 10%: keep
        else last_eta_ = eta;
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "ETA: %llds Left: %llu AVG: %.2fs  ", eta, static_cast<unsigned long long>(left), avg);
    return buf;
}

std::size_t terminal_width(int fd) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

progress_bar::progress_bar(std::string label, bool force, clock::time_point start, int fd)
    : label_(std::move(label)), start_(start), fd_(fd), enabled_(fd >= 0 && (force || ::isatty(fd))) {}

std::string progress_bar::draw(std::uint64_t done, clock::time_point now) {
    std::string line;
    if (gnu_) {
        auto secs = std::uint64_t(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count());
        if (eta_) line = gnu_eta_.text(total_.value_or(done), done, secs);
        line += render_gnu_progress(running_, done, started_, secs);
    } else {
        line = render_bar(label_, done, total_, now - start_, terminal_width(fd_), bytes_);
    }
    std::size_t len = line.size();
    if (len < drawn_) line.append(drawn_ - len, ' ');  // blank what the longer last line left
    drawn_ = len;
    last_draw_ = now;
    return "\r" + line;
}

std::optional<std::string> progress_bar::frame(std::uint64_t done, clock::time_point now) {
    if (!enabled_ || finished_ || now < due()) return std::nullopt;
    return draw(done, now);
}

progress_bar::clock::time_point progress_bar::due() const noexcept {
    return last_draw_ ? *last_draw_ + std::chrono::milliseconds(100) : clock::time_point::min();
}

std::string progress_bar::erase() {
    if (!enabled_ || finished_ || drawn_ == 0) return {};
    std::string s = "\r" + std::string(drawn_, ' ') + "\r";
    drawn_ = 0;
    last_draw_.reset();
    return s;
}

std::string progress_bar::final_frame(std::uint64_t done, clock::time_point now) {
    if (!enabled_ || finished_) return {};
    finished_ = true;
    return draw(done, now) + "\n";
}

}  // namespace cli
