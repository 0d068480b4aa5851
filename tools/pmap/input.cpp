#include "input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace pmap {

namespace {

// Records in a regular file, read with pread: the fd's offset stays where it is.
std::uint64_t count_records(int fd, char delim) {
    std::vector<char> buf(1 << 16);
    std::uint64_t n = 0;
    off_t off = 0;
    char last = delim;
    for (;;) {
        ssize_t got = ::pread(fd, buf.data(), buf.size(), off);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw conc::sys_error("read");
        if (got == 0) break;
        for (const char* p = buf.data(); (p = static_cast<const char*>(std::memchr(p, delim, buf.data() + got - p)));
             ++p)
            ++n;
        last = buf[std::size_t(got) - 1];
        off += got;
    }
    return n + (last != delim);   // a last record without its delimiter
}

bool regular_file(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

item_source::item_source(conc::loop& lp, const config& cfg) : max_args_(cfg.max_args) {
    if (cfg.input == input_kind::arguments) {
        ahead_.assign(cfg.arguments.begin(), cfg.arguments.end());
        total_ = jobs_for(ahead_.size());
        return;
    }
    int fd = STDIN_FILENO;
    if (cfg.input == input_kind::file_records) {
        file_ = conc::open_file(cfg.arg_file, O_RDONLY);
        fd = file_.get();
    }
    reader_.emplace(lp, fd, cfg.delimiter);
    // A regular file is counted now, cheaply: the bar then has its total from the start.
    if ((cfg.bar || cfg.halt.percent) && regular_file(fd)) total_ = jobs_for(count_records(fd, cfg.delimiter));
}

conc::task<void> item_source::prepare(bool need_total) {
    if (total_ || !need_total || !reader_) co_return;
    while (auto r = co_await reader_->next_record()) ahead_.emplace_back(*r);
    total_ = jobs_for(ahead_.size());
}

conc::task<std::vector<std::string>> item_source::next() {
    std::vector<std::string> items;
    while (items.size() < max_args_ && !ahead_.empty()) {
        items.push_back(std::move(ahead_.front()));
        ahead_.pop_front();
    }
    // Straight from the reader: no allocation per record but the item's own.
    while (items.size() < max_args_ && reader_) {
        auto r = co_await reader_->next_record();
        if (!r) break;
        items.emplace_back(*r);
    }
    co_return items;
}

}  // namespace pmap
