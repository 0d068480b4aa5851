// pqueue.hpp: what main() reads from the command line, and the commands that
// carry it out.  Each command returns the exit status (messages.hpp's codes).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "conc/shm_queue.hpp"

namespace pqueue {

enum class command { put, get, create, size, empty, full, stat, ls, rm, close, done, join };

// get: how many items to take.
enum class get_amount { one, count, all, follow };


struct config {
    command cmd = command::get;
    std::string name;                  // the queue (every command but ls)
    std::vector<std::string> operands; // put: the items; rm: more names
    char delimiter = '\n';             // -0, -d: between records on stdin (put) and stdout (get)
    bool nowait = false;               // --nowait
    std::optional<std::chrono::nanoseconds> timeout;  // --timeout: each wait
    std::int64_t priority = 0;         // put -p
    bool priority_given = false;
    get_amount amount = get_amount::one;
    std::uint64_t count = 1;           // get -n, done -n
    // create
    std::uint64_t maxsize = 0;         // 0: no limit but the bytes
    std::optional<std::uint64_t> bytes;
    conc::queue_kind kind = conc::queue_kind::fifo;
    mode_t mode = 0600;
    bool force = false;                // rm -f
    bool check = false;                // stat --check
};

// Opens the queue cfg.name, or dies with the documented exit code and a
// message: 2 for a bad name, a missing queue (unless create_missing), one that
// cannot be opened or is no queue; 125 when the system fails.  create_missing
// makes a missing queue with these settings, atomically.
conc::shm_queue open_queue(const std::string& name, const conc::queue_options* create_missing = nullptr);

// Exits 2 with "bad queue name 'NAME': why" unless name is a queue name or path.
void check_name(const std::string& name);

int put(const config& cfg);
int get(const config& cfg);
int create(const config& cfg);
int inspect(const config& cfg);   // size, empty, full, stat
int list(const config& cfg);      // ls
int remove(const config& cfg);    // rm
int close(const config& cfg);
int task_done(const config& cfg);
int join(const config& cfg);

}  // namespace pqueue
