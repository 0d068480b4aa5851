// conc/shm_queue.hpp: a named queue shared by unrelated processes, the one
// behind pqueue(1).  Python's multiprocessing Queue, JoinableQueue,
// PriorityQueue and LifoQueue in one type, meeting by name instead of by
// inheritance:
//
//     auto q = conc::shm_queue::open_or_create("jobs");   // or create / open
//     q.put("one item");                                  // blocks while full
//     std::string item;
//     if (q.get(item) == conc::queue_status::ok) ...     // blocks while empty
//     q.task_done();                                      // JoinableQueue
//
// Names.  A NAME of 1 to 100 characters from [A-Za-z0-9._-] is a POSIX shared
// memory segment, /dev/shm/conc.q.NAME (shm_open "/conc.q.NAME"); it lives
// until remove() or a reboot.  A name that starts with '/' or "./" is a file
// path instead: the file is mapped MAP_SHARED, survives reboots, and access is
// the file's permissions.  Anything else (empty, too long, other characters,
// or a '/' without a leading '/' or "./", such as "../x" or "dir/q") is refused:
// name_error() says why, and the constructors throw std::invalid_argument.
//
// Kinds.  fifo (Queue), lifo (LifoQueue), priority (PriorityQueue: the lowest
// priority value first, first in first out among equal priorities).  Items are
// any bytes, 0 to capacity long, NUL included.
//
// Bounds.  maxsize items (0: no item limit) and a byte capacity for the items
// (default 16 MiB).  Each item also costs a little bookkeeping out of the
// capacity: 8 bytes in a fifo or lifo queue; in a priority queue items are
// kept in 64-byte blocks with 56 bytes of item each.  So a queue can be full
// before bytes_used reaches capacity.  An item longer than capacity can never
// fit: put refuses it with queue_status::too_large and puts nothing.  The
// whole capacity is allocated when the queue is made (a full /dev/shm is an
// error then, not a SIGBUS later).
//
// A file-backed queue is as durable as the page cache: it survives a clean
// reboot (the lock words are renewed on the first open after it), not a power
// cut in the middle of a put.
//
// Creation is atomic: a queue is built and initialised under no name, then
// linked into place (link(2), which fails if the name appeared meanwhile, in
// which case the other one is opened).  Any number of processes may race to
// create the same name; they all end up on one queue, and nobody maps a
// half-made one.  The segment records a magic number, a layout version and
// its settings; an opener refuses anything else (queue_format_error).
//
// Blocking.  put/get/join block on process-shared conditions (futex words in
// the segment; no polling).  The *_for forms take a timeout measured on
// CLOCK_MONOTONIC; the try_* forms never wait.  close() wakes every blocked
// put and get; remove() wakes every wait, join included: a process blocked on
// a removed queue returns queue_status::removed, and so does every later call
// on its handle.
//
// Crash consistency.  The queue is guarded by a robust process-shared mutex
// (conc::mutex).  A process killed with SIGKILL at any instant leaves every
// item either wholly in the queue or wholly out, with every counter agreeing;
// the next process to take the lock finishes or discards what the dead one
// was doing (see shm_queue.cpp for the argument).  A consumer killed after its
// get() committed has taken the item with it, as with any queue.
//
// Batches.  put_many/get_many move many items per lock hold and wake the
// other side only when someone waits; that is how a pipeline moves tens of
// millions of short items a second.
//
// Failures of the system throw conc::sys_error ("shm_open '/conc.q.jobs': No
// such file or directory"); ordinary outcomes (empty, full, timeout, closed,
// removed, too large) are queue_status values.  A handle is move-only; it
// unmaps when destroyed and leaves the queue in place.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "conc/error.hpp"
#include "conc/fd.hpp"
#include "conc/shm.hpp"
#include "conc/sync.hpp"

namespace conc {

namespace detail {
struct batch_sink;
}

enum class queue_kind : std::uint32_t { fifo = 0, lifo = 1, priority = 2 };

// "fifo", "lifo", "priority"; and back (std::nullopt for anything else).
const char* to_string(queue_kind k) noexcept;
std::optional<queue_kind> parse_queue_kind(std::string_view s) noexcept;

// What a put, get, join or task_done came to.
enum class queue_status {
    ok,
    empty,      // try_get / get_many without waiting: nothing there
    full,       // try_put / put_many without waiting: no room
    timeout,    // a *_for wait ran out
    closed,     // put: the queue is closed; get: closed and drained
    removed,    // the queue was removed (before or during the call)
    too_large,  // put: the item is longer than the capacity; nothing was put
};
const char* to_string(queue_status s) noexcept;  // "ok", "empty", ... "too large"

// Settings of a new queue.  mode applies only when the queue is created (it is
// set exactly, whatever the umask).
struct queue_options {
    queue_kind kind = queue_kind::fifo;
    std::uint64_t maxsize = 0;                  // items; 0: no item limit
    std::uint64_t capacity = 16u << 20;         // bytes of items (at least 1)
    mode_t mode = 0600;
};

// A snapshot of a queue (pqueue stat).
struct queue_stats {
    queue_kind kind = queue_kind::fifo;
    std::uint64_t items = 0;       // qsize()
    std::uint64_t bytes_used = 0;  // sum of the items' lengths
    std::uint64_t capacity = 0;    // byte capacity for items
    std::uint64_t maxsize = 0;     // 0: no item limit
    bool closed = false;
    bool removed = false;
    std::uint64_t unfinished = 0;  // items put and not yet task_done()
    std::uint64_t puts = 0;        // items ever put (unget does not count)
    std::uint64_t gets = 0;        // items ever taken (minus those put back by unget)
    mode_t mode = 0;               // permission bits of the segment or file
    uid_t owner = 0;               // its owner
};

// The name exists with other settings (create()); what() names both.
class queue_mismatch : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The segment or file is not a conc queue of this layout version, or is
// damaged beyond what crash recovery repairs.
class queue_format_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Items moved by put_many and get_many: their bytes back to back in one
// buffer, so a batch of short items costs no allocation per item.  Each item
// carries a priority (used by priority queues, 0 unless given).
class item_batch {
public:
    void push_back(std::string_view item, std::int64_t priority = 0);
    void clear() noexcept;
    std::size_t size() const noexcept { return prio_.size(); }
    bool empty() const noexcept { return prio_.empty(); }
    std::string_view operator[](std::size_t i) const noexcept {
        return std::string_view(data_.data() + ends_[i] - len(i), len(i));
    }
    std::int64_t priority(std::size_t i) const noexcept { return prio_[i]; }
    std::size_t bytes() const noexcept { return data_.size(); }  // all items' bytes
    void reserve(std::size_t items, std::size_t bytes);

private:
    friend class shm_queue;
    friend struct detail::batch_sink;
    std::size_t len(std::size_t i) const noexcept { return ends_[i] - (i ? ends_[i - 1] : 0); }
    std::string data_;
    std::vector<std::size_t> ends_;  // item i is [ends_[i-1], ends_[i])
    std::vector<std::int64_t> prio_;
};

// What put_many / get_many did: count items moved, and why it stopped (ok:
// all of them were put / at least one was taken).
struct batch_result {
    std::size_t count = 0;
    queue_status status = queue_status::ok;
};

class shm_queue {
public:
    using nanoseconds = std::chrono::nanoseconds;

    // Why name is not a queue name, or "" when it is one.  The reasons:
    // "empty name", "longer than 100 characters", "a name may hold only
    // letters, digits, '.', '_' and '-' (a file path starts with '/' or './')".
    static std::string name_error(std::string_view name);
    // Whether name is a file path (starts with '/' or "./").
    static bool is_path(std::string_view name) noexcept;

    shm_queue() noexcept = default;
    // Opens a queue by name.  open_existing: throws sys_error ENOENT if
    // missing.  create_exclusive: sys_error EEXIST if present.  create_or_open:
    // opens it if present (keeping its own settings: compare stats()), creates
    // it with opts otherwise; created() tells which.
    shm_queue(std::string name, open_mode how, const queue_options& opts = {});

    // create_or_open, but an existing queue must have opts' kind, maxsize and
    // capacity, or queue_mismatch is thrown (pqueue create).
    static shm_queue create(std::string name, const queue_options& opts = {});
    static shm_queue open(std::string name);
    static shm_queue open_or_create(std::string name, const queue_options& opts = {});

    shm_queue(shm_queue&&) noexcept;
    shm_queue& operator=(shm_queue&&) noexcept;
    shm_queue(const shm_queue&) = delete;
    shm_queue& operator=(const shm_queue&) = delete;
    ~shm_queue();

    explicit operator bool() const noexcept { return hdr_ != nullptr; }
    const std::string& name() const noexcept { return name_; }
    // Where it lives: "/dev/shm/conc.q.NAME", or the file path.
    const std::string& path() const noexcept { return path_; }
    bool created() const noexcept { return created_; }

    // --- put: ok, full (try_put), timeout (put_for), closed, removed, too_large.
    // priority matters only to a priority queue.
    queue_status put(std::string_view item, std::int64_t priority = 0);
    queue_status try_put(std::string_view item, std::int64_t priority = 0);
    template <class R, class P>
    queue_status put_for(std::string_view item, const std::chrono::duration<R, P>& timeout,
                         std::int64_t priority = 0) {
        nanoseconds t = detail::to_nanos(timeout);
        return put_one(item, priority, &t);
    }

    // --- get: ok, empty (try_get), timeout (get_for), closed (and drained),
    // removed.  item is replaced by what was taken; priority, when given,
    // receives its priority (0 in fifo and lifo queues).
    queue_status get(std::string& item, std::int64_t* priority = nullptr);
    queue_status try_get(std::string& item, std::int64_t* priority = nullptr);
    template <class R, class P>
    queue_status get_for(std::string& item, const std::chrono::duration<R, P>& timeout,
                         std::int64_t* priority = nullptr) {
        nanoseconds t = detail::to_nanos(timeout);
        return get_one(item, priority, &t);
    }

    // --- batches.  timeout: std::nullopt waits as long as needed, zero never
    // waits, anything else is the longest wait in all.
    //
    // put_many puts the items in order (each with its batch priority, or with
    // priority in the span form), as many per lock hold as fit, waiting for room
    // in between.  Returns when all are in (ok) or with the count put so far and
    // full / timeout / closed / removed / too_large (items[count] is the one
    // that is longer than the capacity).
    batch_result put_many(const item_batch& items, std::optional<nanoseconds> timeout = std::nullopt);
    batch_result put_many(std::span<const std::string_view> items, std::int64_t priority = 0,
                          std::optional<nanoseconds> timeout = std::nullopt);
    // get_many waits until at least one item is there, then appends up to max
    // items (and, after the first, up to max_bytes of them) to out in one lock
    // hold.  count 0 comes with empty / timeout / closed / removed.
    batch_result get_many(item_batch& out, std::size_t max,
                          std::optional<nanoseconds> timeout = std::nullopt,
                          std::size_t max_bytes = SIZE_MAX);
    // wait_for_items waits as get_many does, but takes nothing: ok when an
    // item is there (another consumer may take it first), else empty (zero
    // timeout), timeout, closed (and drained), removed.  For a consumer that
    // must never be stopped holding items: it waits where being stopped costs
    // nothing, then takes with a zero timeout.
    queue_status wait_for_items(std::optional<nanoseconds> timeout = std::nullopt);

    // --- putting back.  unget returns an item taken by get to the front of the
    // queue: the next get returns it (fifo and lifo; in a priority queue, first
    // among its equals).  It ignores maxsize and close(), since the item was
    // already counted in; it waits only if others have filled the byte
    // capacity meanwhile.  It undoes the get in the counters (gets, and not
    // unfinished).  unget_many(items, first) puts back items[first..] so that
    // items[first] is the next to come out: what a consumer does with the part
    // of a get_many batch it could not deliver.  ok, timeout, removed, too_large.
    queue_status unget(std::string_view item, std::int64_t priority = 0,
                       std::optional<nanoseconds> timeout = std::nullopt);
    queue_status unget_many(const item_batch& items, std::size_t first = 0,
                            std::optional<nanoseconds> timeout = std::nullopt);

    // --- closing.  No more puts (they return closed); gets take what is left,
    // then return closed.  Wakes every blocked put and get.  Irreversible.
    // Returns false if it was closed already.
    bool close();
    bool closed() const;

    // --- JoinableQueue.  task_done(n) marks n taken items done; it throws
    // std::logic_error (and changes nothing) if n exceeds unfinished tasks.
    // join waits until every item ever put has been marked done: ok, timeout,
    // removed.
    queue_status task_done(std::uint64_t n = 1);
    queue_status join();
    template <class R, class P>
    queue_status join_for(const std::chrono::duration<R, P>& timeout) {
        nanoseconds t = detail::to_nanos(timeout);
        return join_ns(&t);
    }

    // --- looking.  Snapshots, stale when they return (as in Python).
    std::uint64_t size() const;  // qsize()
    bool empty() const;
    bool full() const;  // maxsize reached, or not even an empty item fits
    queue_stats stats() const;
    // Takes the lock and checks every invariant of the structure; "" when
    // consistent, else what is wrong (pqueue stat --check, the tests).
    std::string check() const;

    // --- names.  remove marks the queue removed, wakes every process blocked
    // on it, and unlinks the name (shm_unlink, or unlink for a path); processes
    // holding it open get queue_status::removed from then on.  false if there
    // was no such name.  A NAME in /dev/shm that holds no valid queue is
    // unlinked all the same; a file path that is not a queue is left alone
    // (queue_format_error).
    static bool remove(const std::string& name);
    // The NAMEs of the queues in /dev/shm (file-backed queues are not listed), sorted.
    static std::vector<std::string> list();

private:
    struct header;
    queue_status put_one(std::string_view item, std::int64_t priority, const nanoseconds* timeout);
    queue_status get_one(std::string& item, std::int64_t* priority, const nanoseconds* timeout);
    queue_status join_ns(const nanoseconds* timeout);

    std::string name_;
    std::string path_;
    unique_fd fd_;
    detail::mapping map_;
    header* hdr_ = nullptr;
    bool created_ = false;
};

}  // namespace conc
