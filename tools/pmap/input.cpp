#include "input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <regex>

#include "messages.hpp"
#include "shared_options.hpp"

extern char** environ;

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

bool blank(char c) { return c == ' ' || c == '\t'; }

bool only_whitespace(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; });
}

}  // namespace

std::size_t argv_room(std::size_t env_extra) {
    long max = ::sysconf(_SC_ARG_MAX);
    std::size_t room = max > 0 ? std::size_t(max) : 131072;
    std::size_t env = env_extra + sizeof(char*);
    for (char** e = environ; e && *e; ++e) env += std::strlen(*e) + 1 + sizeof(char*);
    std::size_t used = env + 2048;   // xargs's headroom
    return room > used ? room - used : 0;
}

std::string_view trim_value(std::string_view s, trim_mode trim) {
    if (trim == trim_mode::left || trim == trim_mode::both)
        while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    if (trim == trim_mode::right || trim == trim_mode::both)
        while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

void split_record(std::string_view record, std::string_view sep, trim_mode trim, std::vector<std::string>& out) {
    if (sep.empty()) {
        out.emplace_back(trim_value(record, trim));
        return;
    }
    for (std::size_t start = 0;;) {
        std::size_t end = record.find(sep, start);
        out.emplace_back(trim_value(record.substr(start, end == std::string_view::npos ? end : end - start), trim));
        if (end == std::string_view::npos) return;
        start = end + sep.size();
    }
}

item_source::item_source(conc::loop& lp, const config& cfg, const command_template& tmpl)
    : cfg_(cfg), tmpl_(tmpl), max_args_(cfg.fill && cfg.max_args == 1 ? SIZE_MAX : std::max<std::size_t>(cfg.max_args, 1)),
      fill_(cfg.fill) {
    if (cfg.colsep) colsep_ = cli::parse_separator(*cfg.colsep);
    // GNU parallel: --colsep implies --trim rl.
    trim_ = cfg.trim != trim_mode::unset ? cfg.trim : cfg.colsep ? trim_mode::both : trim_mode::none;
    if (fill_ || cfg.max_chars) {
        // PARALLEL_SEQ=, PARALLEL_JOBSLOT= and the like that each job gets.
        room_ = argv_room(256);
        if (cfg.max_chars) room_ = std::min(room_, cfg.max_chars);
        // The script is one argument; its cost counts its text and more.
        if (tmpl.shell()) room_ = std::min(room_, max_arg_strlen - 1);
    }
    std::vector<input_source> given = cfg.sources;
    if (given.empty()) given.push_back(input_source{true, {}, "-", false});
    for (auto& g : given) {
        source& s = sources_.emplace_back();
        s.linked = g.linked;
        if (!g.from_file) {
            bool eof = false;
            for (std::size_t i = 0; i < g.items.size() && !eof; ++i) {
                if (i == 0 && cfg.header) {
                    split_record(g.items[0], colsep_, trim_, s.names);
                    continue;
                }
                std::string_view it = g.items[i];
                if (cfg.eof_string && it == *cfg.eof_string) break;
                if (cfg.skip_empty && only_whitespace(it)) continue;
                argument a;
                split_record(it, colsep_, trim_, a);
                s.records.push_back(std::move(a));
            }
            continue;
        }
        int fd = STDIN_FILENO;
        if (g.path != "-") {
            s.file = conc::open_file(g.path, O_RDONLY);
            fd = s.file.get();
        }
        s.reader.emplace(lp, fd, cfg.delimiter);
    }
    if (sources_.size() == 1 && !cfg.shuffle) {
        source& s = sources_[0];
        if (!s.reader) {
            total_ = jobs_for(s.records.size());
        } else if ((cfg.bar || cfg.halt.percent) && !fill_ && !cfg.header && !cfg.eof_string && !cfg.skip_empty &&
                   !cfg.continue_lines && regular_file(s.file ? s.file.get() : STDIN_FILENO)) {
            // Counted now, cheaply: the bar then has its total from the start.
            total_ = jobs_for(count_records(s.file ? s.file.get() : STDIN_FILENO, cfg.delimiter));
        }
        if (total_ && *total_ == 0 && fill_) total_.reset();
    }
}

conc::task<std::optional<item_source::argument>> item_source::read_record(source& s) {
    if (!s.reader) {
        if (s.next >= s.records.size()) co_return std::nullopt;
        co_return std::move(s.records[s.next++]);
    }
    std::string joined;   // -L: a record ending in a blank goes on in the next
    for (;;) {
        if (s.ended) co_return std::nullopt;
        auto r = co_await s.reader->next_record();
        if (!r) {
            if (joined.empty()) co_return std::nullopt;
            break;
        }
        std::string_view rec = *r;
        if (cfg_.eof_string && rec == *cfg_.eof_string) {
            s.ended = true;
            if (joined.empty()) co_return std::nullopt;
            break;
        }
        if (cfg_.continue_lines && !rec.empty() && blank(rec.back())) {
            joined.append(rec);
            continue;
        }
        if (!joined.empty()) {
            joined.append(rec);
            break;
        }
        if (cfg_.skip_empty && only_whitespace(rec)) continue;
        if (cfg_.delimiter != '\0' && rec.find('\0') != std::string_view::npos) {
            joined.assign(rec);
            break;
        }
        argument a;
        split_record(rec, colsep_, trim_, a);
        co_return a;
    }
    if (cfg_.skip_empty && only_whitespace(joined)) co_return co_await read_record(s);
    // No argument can hold a NUL byte: GNU parallel writes it as \0, and says so once.
    if (cfg_.delimiter != '\0' && joined.find('\0') != std::string::npos) {
        std::string out;
        for (char c : joined) {
            if (c == '\0') out += "\\0";
            else out.push_back(c);
        }
        joined = std::move(out);
        if (!nul_warned_) {
            nul_warned_ = true;
            cli::warn("warning: a NUL byte in the input was replaced with \\0, as no argument can hold one "
                      "(did you mean -0?)");
        }
    }
    argument a;
    split_record(joined, colsep_, trim_, a);
    co_return a;
}

conc::task<void> item_source::read_all() {
    for (auto& s : sources_) {
        if (!s.reader) continue;
        while (auto a = co_await read_record(s)) s.records.push_back(std::move(*a));
        s.reader.reset();
        s.file.reset();
    }
}

conc::task<void> item_source::prepare(bool need_total) {
    if (cfg_.header) {
        for (auto& s : sources_) {
            if (!s.reader) continue;
            auto r = co_await s.reader->next_record();
            if (!r) continue;
            std::string rec(*r);
            bool whole = *cfg_.header == ":";
            if (!whole) {
                std::regex re(*cfg_.header);
                whole = std::regex_search(rec + "\n", re);
            }
            if (whole) split_record(rec, colsep_, trim_, s.names);
            else {   // not a header: the first argument after all
                argument a;
                split_record(rec, colsep_, trim_, a);
                s.records.push_back(std::move(a));
            }
        }
        for (auto& s : sources_) names_.insert(names_.end(), s.names.begin(), s.names.end());
    }
    bool several = sources_.size() > 1;
    if (!several && !cfg_.shuffle && !(need_total && !total_)) co_return;
    co_await read_all();
    if (several) {
        for (std::size_t i = 0; i < sources_.size();) {
            std::size_t n = 1;
            while (i + n < sources_.size() && (cfg_.link_all || sources_[i + n].linked)) ++n;
            groups_.push_back({i, n});
            i += n;
        }
        index_.assign(groups_.size(), 0);
    }
    materialized_ = true;
    if (several) {
        while (auto a = combine()) ahead_.push_back(std::move(*a));
    } else {
        for (auto& r : sources_[0].records) ahead_.push_back(std::move(r));
        sources_[0].records.clear();
        sources_[0].next = 0;
    }
    if (cfg_.shuffle) {
        std::random_device rd;
        std::mt19937_64 gen(rd());
        std::shuffle(ahead_.begin(), ahead_.end(), gen);
    }
    if (!fill_) total_ = jobs_for(ahead_.size());
}

// The next argument of several sources: the odometer over the groups of
// linked sources, the last group turning fastest.
std::optional<item_source::argument> item_source::combine() {
    if (combos_done_) return std::nullopt;
    auto group_length = [&](std::pair<std::size_t, std::size_t> g) {
        std::size_t len = sources_[g.first].records.size();
        for (std::size_t k = 1; k < g.second; ++k) {
            std::size_t n = sources_[g.first + k].records.size();
            len = cfg_.link_all ? std::max(len, n) : std::min(len, n);
        }
        // --link: a source with nothing gives nothing to combine
        for (std::size_t k = 0; k < g.second; ++k)
            if (sources_[g.first + k].records.empty()) return std::size_t(0);
        return len;
    };
    for (auto& g : groups_)
        if (group_length(g) == 0) {
            combos_done_ = true;
            return std::nullopt;
        }
    argument a;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
        auto [first, count] = groups_[gi];
        for (std::size_t k = 0; k < count; ++k) {
            auto& recs = sources_[first + k].records;
            const argument& r = recs[index_[gi] % recs.size()];
            a.insert(a.end(), r.begin(), r.end());
        }
    }
    for (std::size_t gi = groups_.size(); gi-- > 0;) {
        if (++index_[gi] < group_length(groups_[gi])) return a;
        index_[gi] = 0;
    }
    combos_done_ = true;
    return a;
}

conc::task<std::optional<item_source::argument>> item_source::next_argument() {
    if (!ahead_.empty()) {
        argument a = std::move(ahead_.front());
        ahead_.pop_front();
        co_return a;
    }
    if (materialized_) co_return std::nullopt;
    co_return co_await read_record(sources_[0]);
}

conc::task<std::optional<std::vector<std::string>>> item_source::next() {
    std::vector<std::string> values;
    std::vector<std::size_t> bounds;   // -m/-X: where each argument's values start
    std::size_t args = 0, cost = tmpl_.base_cost();
    bool input_ended = false;
    while (args < max_args_) {
        auto a = co_await next_argument();
        if (!a) {
            input_ended = true;
            break;
        }
        if (room_) {
            std::size_t c = 0;
            for (auto& v : *a) c += tmpl_.value_cost(v.size());
            // One argument is given alone even when too long: the job then fails with why.
            if (args > 0 && cost + c > room_) {
                ahead_.push_front(std::move(*a));
                break;
            }
            cost += c;
        }
        if (fill_) bounds.push_back(values.size());
        ++args;
        if (cfg_.no_values) continue;   // -N 0
        for (auto& v : *a) values.push_back(std::move(v));
    }
    // -m/-X: when all input fits in one job, GNU parallel spreads it over the job slots.
    if (fill_ && first_job_ && input_ended && args > 1 && cfg_.jobs > 1) {
        std::size_t per = (args + cfg_.jobs - 1) / cfg_.jobs;
        for (std::size_t k = args; k-- > per;) {
            argument back(std::make_move_iterator(values.begin() + std::ptrdiff_t(bounds[k])),
                          std::make_move_iterator(values.end()));
            values.resize(bounds[k]);
            ahead_.push_front(std::move(back));
        }
        max_args_ = per;
        materialized_ = true;
    }
    first_job_ = false;
    if (args == 0) co_return std::nullopt;
    co_return values;
}

}  // namespace pmap
