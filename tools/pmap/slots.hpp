// What decides, besides -j, whether pmap may start another job now (GNU
// parallel's --load, --memfree and -j FILE), read from /proc.
//
//   --load MAX     start no job while the number of runnable tasks right now
//                  (/proc/loadavg's fourth field, "running/total"; GNU counts
//                  processes in state R or D with ps) is MAX or more.
//   --memfree SIZE start no job while MemFree + Buffers + Cached + SwapCached
//                  (/proc/meminfo, GNU's sum) is below SIZE.
//   -j FILE        the job count is read again from FILE when a job ends,
//                  if FILE changed (its modification time).
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace pmap {

// --load's value: "N" (may have decimals) or "P%" of the online CPUs.  Throws bad_value.
double parse_load(std::string_view v, unsigned cpus);

// The tasks runnable right now, from the text of /proc/loadavg
// ("0.52 0.58 0.59 3/517 12345" gives 3); nullopt when it does not parse.
std::optional<double> runnable_of(std::string_view loadavg);
// GNU parallel's free memory in bytes, from the text of /proc/meminfo; nullopt when none of its lines is there.
std::optional<std::uint64_t> memfree_of(std::string_view meminfo);

struct start_limits {
    std::optional<double> max_load;          // --load
    std::optional<std::uint64_t> memfree;    // --memfree
    bool any() const noexcept { return max_load || memfree; }
};

// May a job start now?  Reads /proc; a value it cannot read does not hold jobs back.
bool room_to_start(const start_limits& l);

// -j FILE: the file and the time it was last read.
class jobs_file {
public:
    jobs_file() = default;
    explicit jobs_file(std::string path);
    bool active() const noexcept { return !path_.empty(); }
    // The new job count if the file changed since it was last read and holds a
    // valid one; nullopt otherwise (a file being rewritten, or gone, keeps the old count).
    std::optional<unsigned> changed(unsigned cpus);

private:
    std::string path_;
    timespec mtime_{};
};

}  // namespace pmap
