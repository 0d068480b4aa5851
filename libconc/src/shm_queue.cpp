// conc/shm_queue.cpp: the cross-process named queue.
//
// The segment (fixed layout, explicit sizes, checked by static_asserts):
//
//   identity   magic, layout version, kind, maxsize, capacity, where the data
//              lies; written once, before the segment gets its name
//   lock       a conc::mutex (robust, process-shared)
//   conditions three futex words: not_empty, not_full, all_done
//   state      head, used, count, bytes, counters, flags: the words that say
//              what is in the queue
//   journal    a redo log: up to journal_max (offset, value) pairs and their count
//   data       fifo: a byte ring of records [u64 length][bytes], wrapping freely
//              lifo: a byte stack of records [bytes][u64 length] (top = used)
//              priority: 64-byte blocks [u64 next][56 bytes], then a binary
//              heap of entries (priority, sequence, first block, length)
//
// Crash consistency.  Every change happens under the lock in three steps:
//   1. item bytes are written into free space (ring or stack bytes beyond the
//      used part, or blocks still on the free list); nothing reachable changes;
//   2. every word of the segment that must change (state words, heap entries,
//      one block's next link) is written to the journal as (offset, value),
//      then the journal's count is stored: that store is the commit point;
//   3. the values are copied to their places and the count is set back to 0.
// The journal holds absolute values, so applying it twice is applying it once.
// A process killed in step 1 or 2 (count still 0) changed nothing reachable:
// the item is wholly out.  Killed in step 3 or just before the count went back
// to 0: whoever takes the lock next sees a non-zero count and applies the
// journal again, so the item is wholly in (or out, for a get).  That check runs
// on every acquisition, not only when the mutex reports EOWNERDEAD, so a
// process killed while repairing is repaired in turn.  Reads never change
// anything, and the waits leave nothing half-done behind (see below).
//
// Order of the steps: only the compiler has to be kept from moving a store
// across a step (step_barrier, a signal fence).  The one who looks at the
// segment after a death is the next holder of the lock, and it can take the
// lock only after the kernel has released the dead owner's robust mutex, with
// atomic operations that make every store the dead thread executed visible.
// A store executed is never lost by being killed; a store not yet executed
// is simply not there.  So program order is the order that counts.
//
// The heap is written through the journal too: sift-up and sift-down move a
// "hole", so each heap slot is written at most once per operation and never
// read after it is written; their writes can therefore be staged in the
// journal while the reads see the old heap.  One priority item per commit.
//
// Why not conc::condition (pthread_cond_t)?  glibc's condition variable (2.25
// to 2.40, this system's 2.36 included) makes a waiter hold a reference on its
// group (__g_refs) while it sleeps, and a signaller that switches groups waits
// in __condvar_quiesce_and_switch_g1 until those references are gone; a
// waiter killed in its sleep never gives its reference back, and every later
// notify blocks forever.  (A signaller killed while holding the condition's
// internal lock does the same to everyone.)  The queue must survive processes
// killed at any instant, so its conditions are bare futex words: a sequence
// number with a "someone waits" bit.  A waiter sets the bit under the lock,
// unlocks and sleeps in FUTEX_WAIT_BITSET on the value it saw (absolute
// CLOCK_MONOTONIC deadline); a notifier that finds the bit set bumps the
// sequence, clears the bit and wakes every sleeper, still holding the lock
// (see queue_lock).  A dead waiter holds nothing: at worst it leaves the bit
// set, which costs one extra wake-up call.  Everyone woken re-checks under the
// lock, so a wake-up is never lost and never consumed by the wrong process.
#include "conc/shm_queue.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <new>
#include <stdexcept>

namespace conc {

// ---------------------------------------------------------------------------
// Names, kinds, statuses, batches.

const char* to_string(queue_kind k) noexcept {
    switch (k) {
        case queue_kind::fifo: return "fifo";
        case queue_kind::lifo: return "lifo";
        case queue_kind::priority: return "priority";
    }
    return "?";
}

std::optional<queue_kind> parse_queue_kind(std::string_view s) noexcept {
    if (s == "fifo") return queue_kind::fifo;
    if (s == "lifo") return queue_kind::lifo;
    if (s == "priority") return queue_kind::priority;
    return std::nullopt;
}

const char* to_string(queue_status s) noexcept {
    switch (s) {
        case queue_status::ok: return "ok";
        case queue_status::empty: return "empty";
        case queue_status::full: return "full";
        case queue_status::timeout: return "timeout";
        case queue_status::closed: return "closed";
        case queue_status::removed: return "removed";
        case queue_status::too_large: return "too large";
    }
    return "?";
}

void item_batch::push_back(std::string_view item, std::int64_t priority) {
    data_.append(item);
    ends_.push_back(data_.size());
    prio_.push_back(priority);
}

void item_batch::clear() noexcept {
    data_.clear();
    ends_.clear();
    prio_.clear();
}

void item_batch::reserve(std::size_t items, std::size_t bytes) {
    data_.reserve(bytes);
    ends_.reserve(items);
    prio_.reserve(items);
}

bool shm_queue::is_path(std::string_view name) noexcept {
    return name.starts_with('/') || name.starts_with("./");
}

std::string shm_queue::name_error(std::string_view name) {
    if (is_path(name)) {
        if (name.ends_with('/')) return "a queue file path must name a file, not a directory";
        if (name.size() >= PATH_MAX) return "path longer than " + std::to_string(PATH_MAX - 1) + " characters";
        if (name.find('\0') != std::string_view::npos) return "a path may not hold a NUL byte";
        return "";
    }
    if (name.empty()) return "empty name";
    if (name.size() > 100) return "longer than 100 characters";
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok) return "a name may hold only letters, digits, '.', '_' and '-' (a file path starts with '/' or './')";
    }
    return "";
}

// ---------------------------------------------------------------------------
// The segment layout.

namespace {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr u64 queue_magic = 0x3145555143'4e4f43ULL;  // "CONCQUE1" read little-endian
constexpr u32 layout_version = 2;   // 2: conc::mutex is a futex word on the robust list (was a pthread_mutex_t)
constexpr u32 journal_max = 320;
constexpr u64 block_size = 64;
constexpr u64 block_payload = block_size - sizeof(u64);
constexpr u64 no_block = ~u64(0);
constexpr u64 record_overhead = sizeof(u64);  // the length word of a fifo / lifo record
constexpr u64 max_capacity = u64(1) << 48;
constexpr u64 seq_middle = u64(1) << 63;  // puts count up from here, ungets down

struct journal_word {
    u64 off;
    u64 val;
};

// The words that say what is in the queue.  Changed only through the journal.
struct queue_state {
    u64 head;        // fifo: ring offset of the first record
    u64 used;        // fifo, lifo: ring / stack bytes in use; priority: blocks in use
    u64 count;       // items
    u64 bytes;       // sum of item lengths
    u64 puts;        // items ever put
    u64 gets;        // items ever taken, minus ungets
    u64 unfinished;  // put and not yet task_done
    u64 closed;      // 0 or 1
    u64 removed;     // 0 or 1
    u64 seq_back;    // priority: the sequence number of the next put
    u64 seq_front;   // priority: the sequence number of the next unget
    u64 free_head;   // priority: first block of the free list (no_block: none)
    u64 fresh;       // priority: blocks [fresh, nblocks) were never used
    u64 reserved[3];
};
static_assert(sizeof(queue_state) == 128);
constexpr unsigned state_words = sizeof(queue_state) / sizeof(u64);

// A heap entry of a priority queue.
struct heap_entry {
    i64 prio;
    u64 seq;
    u64 first;  // first block
    u64 len;
};
static_assert(sizeof(heap_entry) == 32);

bool before(const heap_entry& a, const heap_entry& b) noexcept {
    return a.prio != b.prio ? a.prio < b.prio : a.seq < b.seq;
}

// Where things lie, derived from the settings.
struct geometry {
    u64 data_off;
    u64 data_size;    // ring / stack bytes, or nblocks * block_size
    u64 entries_off;  // priority: the heap; otherwise 0
    u64 nblocks;      // priority: blocks; otherwise 0
    u64 total_size;
};

}  // namespace

// The segment's first bytes (shm_queue::header is this, by name).
struct queue_layout {
    // identity: 128 bytes
    u64 magic;
    u32 version;
    u32 kind;
    u64 maxsize;
    u64 capacity;
    u64 total_size;
    u64 data_off;
    u64 data_size;
    u64 entries_off;
    u64 nblocks;
    char boot_id[40];  // the boot the lock words belong to (see open_segment)
    u64 reserved0[1];
    // lock: 64 bytes
    alignas(64) unsigned char lock_storage[64];
    // conditions: 64 bytes
    alignas(64) u32 not_empty;
    u32 not_full;
    u32 all_done;
    u32 reserved1[13];
    // state: 128 bytes
    alignas(64) queue_state st;
    // journal
    alignas(64) u64 jcount;
    u64 reserved2[7];
    journal_word journal[journal_max];

    conc::mutex& lock() noexcept { return *std::launder(reinterpret_cast<conc::mutex*>(lock_storage)); }
};
static_assert(sizeof(conc::mutex) <= 64);
static_assert(offsetof(queue_layout, lock_storage) == 128);
static_assert(offsetof(queue_layout, not_empty) == 192);
static_assert(offsetof(queue_layout, st) == 256);
static_assert(offsetof(queue_layout, jcount) == 384);
static_assert(offsetof(queue_layout, journal) == 448);
static_assert(sizeof(queue_layout) == 448 + 16 * journal_max);

struct shm_queue::header : queue_layout {};

namespace {

u64 round_up(u64 n, u64 to) { return (n + to - 1) / to * to; }

geometry geometry_for(queue_kind kind, u64 capacity) {
    geometry g{};
    g.data_off = round_up(sizeof(queue_layout), 64);
    if (kind == queue_kind::priority) {
        g.nblocks = std::max<u64>(1, (capacity + block_payload - 1) / block_payload);
        g.data_size = g.nblocks * block_size;
        g.entries_off = g.data_off + g.data_size;
        g.total_size = g.entries_off + g.nblocks * sizeof(heap_entry);
    } else {
        g.data_size = capacity + record_overhead;
        g.total_size = g.data_off + round_up(g.data_size, 64);
    }
    return g;
}

std::string describe(queue_kind kind, u64 maxsize, u64 capacity) {
    return std::string(to_string(kind)) + ", maxsize " + std::to_string(maxsize) + ", capacity " +
           std::to_string(capacity);
}

std::string boot_id() {
    char buf[40] = {};
    unique_fd fd(::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
    if (fd) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
        if (n < 0) n = 0;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) --n;
        return std::string(buf, std::size_t(n));
    }
    return "";
}

// --- futex conditions ------------------------------------------------------

u32 load_word(u32& w) noexcept { return std::atomic_ref<u32>(w).load(std::memory_order_relaxed); }
void store_word(u32& w, u32 v) noexcept { std::atomic_ref<u32>(w).store(v, std::memory_order_relaxed); }

// Sleeps while w holds expected, until deadline (CLOCK_MONOTONIC, absolute;
// nullptr: no limit).  Returns false if the deadline passed.
bool futex_wait(u32& w, u32 expected, const timespec* deadline) {
    long rc = syscall(SYS_futex, &w, FUTEX_WAIT_BITSET, expected, deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return true;
    if (errno == ETIMEDOUT) return false;
    if (errno == EAGAIN || errno == EINTR) return true;
    throw sys_error(errno, "futex wait");
}

void futex_wake_all(u32& w) {
    if (syscall(SYS_futex, &w, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0) == -1)
        throw sys_error(errno, "futex wake");
}

// How long an operation may wait.
struct wait_limit {
    enum { forever, never, until } how = forever;
    timespec at{};

    static wait_limit from(const std::chrono::nanoseconds* t) {
        wait_limit w;
        if (!t) return w;
        w.how = until;
        clock_gettime(CLOCK_MONOTONIC, &w.at);
        long long ns = w.at.tv_nsec + t->count() % 1000000000LL;
        w.at.tv_sec += time_t(t->count() / 1000000000LL + ns / 1000000000LL);
        w.at.tv_nsec = long(ns % 1000000000LL);
        return w;
    }
    static wait_limit from(const std::optional<std::chrono::nanoseconds>& t) {
        if (t && t->count() <= 0) {
            wait_limit w;
            w.how = never;
            return w;
        }
        return from(t ? &*t : nullptr);
    }
};

// --- the queue engine: every function here runs with the lock held --------

class engine;

// Holds the queue's lock; on every acquisition finishes a commit that a dead
// holder left half-applied.
//
// Wake-ups are sent while the lock is held: a notifier killed between its
// commit and its wake-up then dies holding the lock, and the next holder,
// told by EOWNERDEAD, wakes every sleeper on every condition.  (Sent after
// unlocking, a wake-up lost with its sender would leave sleepers asleep with
// the waiter bit already cleared: nobody would ever wake them.)
class queue_lock {
public:
    explicit queue_lock(queue_layout& h, std::size_t map_size) : h_(h), size_(map_size) { acquire(); }
    ~queue_lock() {
        if (held_) h_.lock().unlock();
    }
    queue_lock(const queue_lock&) = delete;
    queue_lock& operator=(const queue_lock&) = delete;

    // Wakes everyone waiting on c, if anyone is.
    void notify(u32& c) {
        u32 w = load_word(c);
        if (w & 1u) {
            store_word(c, (w & ~1u) + 2);
            futex_wake_all(c);
        }
    }

    // Waits for a notify of c, or the limit.  false: the limit passed (or the
    // limit is never).  The state may have changed either way.
    bool wait(u32& c, const wait_limit& limit) {
        if (limit.how == wait_limit::never) return false;
        u32 w = load_word(c) | 1u;
        store_word(c, w);
        h_.lock().unlock();
        held_ = false;
        bool woke = futex_wait(c, w, limit.how == wait_limit::until ? &limit.at : nullptr);
        acquire();
        return woke;
    }

private:
    void acquire();
    queue_layout& h_;
    std::size_t size_;
    bool held_ = false;
};

}  // namespace

// A test seam: when set, called at every step of a commit and of a redo, so a
// test can kill a process at each one in turn (tests/unit/shm_queue_test.cpp).
namespace detail {
void (*shm_queue_crash_hook)() = nullptr;
}

namespace {

inline void step_barrier() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

inline void crash_point() {
    if (detail::shm_queue_crash_hook) [[unlikely]]
        detail::shm_queue_crash_hook();
}

void apply_journal(queue_layout& h, std::size_t size) {
    auto& jc = h.jcount;
    u64 n = std::atomic_ref<u64>(jc).load(std::memory_order_relaxed);
    if (n == 0) return;
    if (n > journal_max) throw queue_format_error("conc::shm_queue: damaged journal (count " + std::to_string(n) + ")");
    auto* base = reinterpret_cast<char*>(&h);
    for (u64 i = 0; i < n; ++i) {
        const journal_word& j = h.journal[i];
        bool in_state = j.off >= offsetof(queue_layout, st) && j.off < offsetof(queue_layout, st) + sizeof(queue_state);
        if (j.off % 8 != 0 || (!in_state && j.off < h.data_off) || j.off > size - 8)
            throw queue_format_error("conc::shm_queue: damaged journal (offset " + std::to_string(j.off) + ")");
        *reinterpret_cast<u64*>(base + j.off) = j.val;
        crash_point();
    }
    step_barrier();
    std::atomic_ref<u64>(jc).store(0, std::memory_order_relaxed);
    crash_point();
}

void queue_lock::acquire() {
    lock_result got = h_.lock().lock_checked();
    held_ = true;
    try {
        apply_journal(h_, size_);
        if (got.owner_died) {
            // The dead holder may have owed someone a wake-up.
            for (u32* c : {&h_.not_empty, &h_.not_full, &h_.all_done}) {
                store_word(*c, (load_word(*c) & ~1u) + 2);
                futex_wake_all(*c);
            }
        }
    } catch (...) {
        h_.lock().unlock();
        held_ = false;
        throw;
    }
}

// One commit: a copy of the state to change, plus other words of the
// segment (heap entries, block links) staged for the journal.
class txn {
    queue_layout& h_;
    unsigned n_ = 0;

public:
    explicit txn(queue_layout& h) : h_(h), s(h.st) {}
    queue_state s;

    void stage(u64& word, u64 value) {
        h_.journal[n_++] = {u64(reinterpret_cast<char*>(&word) - reinterpret_cast<char*>(&h_)), value};
    }
    void stage_entry(heap_entry& at, const heap_entry& e) {
        stage(reinterpret_cast<u64&>(at.prio), u64(e.prio));
        stage(at.seq, e.seq);
        stage(at.first, e.first);
        stage(at.len, e.len);
    }
    // Publishes everything staged and every changed state word.
    void commit() {
        unsigned n = n_;
        n_ = 0;
        journal_word* const j = h_.journal;
        const u64* now = reinterpret_cast<const u64*>(&s);
        const u64* old = reinterpret_cast<const u64*>(&h_.st);
        constexpr u64 st_off = offsetof(queue_layout, st);
        for (unsigned i = 0; i < state_words; ++i) {  // branch-free: which words change varies
            j[n] = {st_off + i * sizeof(u64), now[i]};
            n += now[i] != old[i];
        }
        if (n == 0) return;
        void (*const hook)() = detail::shm_queue_crash_hook;
        if (hook) [[unlikely]] hook();
        step_barrier();  // item bytes and journal before the count
        std::atomic_ref<u64>(h_.jcount).store(n, std::memory_order_relaxed);  // the commit point
        step_barrier();  // the count before any value lands
        if (hook) [[unlikely]] hook();
        auto* base = reinterpret_cast<char*>(&h_);
        for (unsigned i = 0; i < n; ++i) {
            *reinterpret_cast<u64*>(base + j[i].off) = j[i].val;
            if (hook) [[unlikely]] hook();
        }
        step_barrier();
        std::atomic_ref<u64>(h_.jcount).store(0, std::memory_order_relaxed);
        if (hook) [[unlikely]] hook();
    }
};

// The data structures.  An item is read out through a sink: begin(len, prio),
// then its bytes in pieces, in order.
class engine {
public:
    // The settings are copied out of the segment: they never change, and the
    // compiler need not reload them after every store into the segment.
    explicit engine(queue_layout& h)
        : h_(h),
          base_(reinterpret_cast<unsigned char*>(&h)),
          data_(base_ + h.data_off),
          entries_(reinterpret_cast<heap_entry*>(base_ + h.entries_off)),
          kind_(queue_kind(h.kind)),
          capacity_(h.capacity),
          maxsize_(h.maxsize),
          size_(h.data_size),
          nblocks_(h.nblocks) {}

    queue_kind kind() const noexcept { return kind_; }

    bool too_large(u64 len) const noexcept { return len > capacity_; }

    // Room for one more item of len bytes (count: maxsize is checked unless ignore_max).
    template <queue_kind K>
    [[gnu::always_inline]] bool fits_k(const queue_state& s, u64 len, bool ignore_max) const noexcept {
        if (!ignore_max && maxsize_ != 0 && s.count >= maxsize_) return false;
        if constexpr (K == queue_kind::priority) return blocks_for(len) <= nblocks_ - s.used;
        else return s.used + record_overhead + len <= size_;
    }
    bool fits(const queue_state& s, u64 len, bool ignore_max) const noexcept {
        return kind() == queue_kind::priority ? fits_k<queue_kind::priority>(s, len, ignore_max)
                                              : fits_k<queue_kind::fifo>(s, len, ignore_max);
    }

    // The length of the item that would come out next (count > 0).
    u64 next_len(const queue_state& s) const noexcept {
        switch (kind()) {
            case queue_kind::fifo: return ring_word(s.head);
            case queue_kind::lifo: return load_u64(data() + s.used - record_overhead);
            case queue_kind::priority: return entries()[0].len;
        }
        return 0;
    }

    // Adds an item (at the back, or at the front for unget) in t.  A priority
    // push stages heap writes: commit before the next one.
    template <queue_kind K>
    [[gnu::always_inline]] void push(txn& t, std::string_view item, i64 prio, bool front) {
        queue_state& s = t.s;
        const u64 len = item.size();
        if constexpr (K == queue_kind::fifo) {
            const u64 rec = record_overhead + len;
            u64 at;
            if (front) {
                at = s.head >= rec ? s.head - rec : s.head + size_ - rec;
                s.head = at;
            } else {
                at = s.head + s.used;
                if (at >= size_) at -= size_;
            }
            if (at + rec <= size_) {  // the usual case: no wrap
                store_u64(data() + at, len);
                copy_bytes(data() + at + record_overhead, item.data(), len);
            } else {
                u64 lenword = len;
                ring_write(at, &lenword, record_overhead);
                ring_write(wrap(at + record_overhead), item.data(), len);
            }
            s.used += rec;
        } else if constexpr (K == queue_kind::lifo) {
            unsigned char* p = data() + s.used;
            copy_bytes(p, item.data(), len);
            store_u64(p + len, len);
            s.used += record_overhead + len;
        } else {
            push_heap(t, item, prio, front);
        }
        s.count += 1;
        s.bytes += len;
    }

    // Takes the next item out in t, giving it to sink.
    template <queue_kind K, class Sink>
    void pop(txn& t, Sink& sink) {
        queue_state& s = t.s;
        u64 len = 0;
        if constexpr (K == queue_kind::fifo) {
            len = ring_word(s.head);
            sink.begin(len, 0);
            u64 at = wrap(s.head + record_overhead);
            u64 first = std::min(len, size_ - at);
            if (first) sink.piece(data() + at, first);
            if (len > first) sink.piece(data(), len - first);
            sink.end();
            s.head = wrap(s.head + record_overhead + len);
            s.used -= record_overhead + len;
            if (s.used == 0) s.head = 0;
        } else if constexpr (K == queue_kind::lifo) {
            len = load_u64(data() + s.used - record_overhead);
            sink.begin(len, 0);
            if (len) sink.piece(data() + s.used - record_overhead - len, len);
            sink.end();
            s.used -= record_overhead + len;
        } else {
            len = pop_heap(t, sink);
        }
        s.count -= 1;
        s.bytes -= len;
    }

    // fifo and lifo: takes up to max items (and max_bytes after the first)
    // into a batch in two passes: lengths first, so the batch grows once,
    // then the bytes.  Returns how many.
    template <queue_kind K, class BatchSink>
    std::size_t pop_batch(txn& t, BatchSink& sink, std::size_t max, std::size_t max_bytes) {
        static_assert(K != queue_kind::priority);
        queue_state& s = t.s;
        std::size_t k = 0;
        u64 total = 0;
        const bool all = max >= s.count && max_bytes >= s.bytes;
        if (all) {  // the state has the sums
            k = std::size_t(s.count);
            total = s.bytes;
        }
        for (u64 at = K == queue_kind::fifo ? s.head : s.used, left = all ? 0 : s.used; k < max && left > 0; ++k) {
            u64 len = K == queue_kind::fifo ? ring_word(at) : load_u64(data() + at - record_overhead);
            if (k > 0 && (total >= max_bytes || len > max_bytes - total)) break;
            total += len;
            left -= record_overhead + len;
            if constexpr (K == queue_kind::fifo) at = wrap(at + record_overhead + len);
            else at -= record_overhead + len;
        }
        auto out = sink.grow(k, total);
        u64 off = 0;
        for (std::size_t i = 0; i < k; ++i) {
            u64 len;
            if constexpr (K == queue_kind::fifo) {
                len = ring_word(s.head);
                u64 at = s.head + record_overhead;
                if (at + len <= size_) {
                    copy_bytes(out.data + off, data() + at, len);
                } else {
                    at = wrap(at);
                    u64 first = std::min(len, size_ - at);
                    copy_bytes(out.data + off, data() + at, first);
                    copy_bytes(out.data + off + first, data(), len - first);
                }
                s.head = wrap(s.head + record_overhead + len);
            } else {
                len = load_u64(data() + s.used - record_overhead);
                copy_bytes(out.data + off, data() + s.used - record_overhead - len, len);
            }
            off += len;
            out.ends[i] = out.base + off;
            s.used -= record_overhead + len;
        }
        if (K == queue_kind::fifo && s.used == 0) s.head = 0;
        s.count -= k;
        s.bytes -= total;
        return k;
    }

    // Every invariant; "" when they hold.
    std::string check() const;

private:
    static u64 load_u64(const unsigned char* p) noexcept {
        u64 v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    static void store_u64(unsigned char* p, u64 v) noexcept { std::memcpy(p, &v, sizeof v); }
    // memcpy, without the call for the short items queues mostly carry.
    [[gnu::always_inline]] static void copy_bytes(void* dst, const void* src, u64 n) noexcept {
        auto* d = static_cast<unsigned char*>(dst);
        auto* r = static_cast<const unsigned char*>(src);
        if (n >= 8 && n <= 16) {
            u64 a, b;
            std::memcpy(&a, r, 8);
            std::memcpy(&b, r + n - 8, 8);
            std::memcpy(d, &a, 8);
            std::memcpy(d + n - 8, &b, 8);
        } else if (n < 8) {
            for (u64 i = 0; i < n; ++i) d[i] = r[i];
        } else {
            std::memcpy(d, r, n);
        }
    }

    unsigned char* data() const noexcept { return data_; }
    heap_entry* entries() const noexcept { return entries_; }
    [[gnu::always_inline]] u64 wrap(u64 at) const noexcept { return at >= size_ ? at - size_ : at; }

    void ring_write(u64 at, const void* src, u64 n) noexcept {
        u64 first = std::min(n, size_ - at);
        copy_bytes(data() + at, src, first);
        copy_bytes(data(), static_cast<const unsigned char*>(src) + first, n - first);
    }
    [[gnu::always_inline]] u64 ring_word(u64 at) const noexcept {
        if (at + 8 <= size_) return load_u64(data() + at);
        unsigned char buf[8];
        u64 first = std::min<u64>(8, size_ - at);
        std::memcpy(buf, data() + at, first);
        if (first < 8) std::memcpy(buf + first, data(), 8 - first);
        return load_u64(buf);
    }

    // --- priority: blocks and the heap
    static u64 blocks_for(u64 len) noexcept { return len == 0 ? 1 : (len + block_payload - 1) / block_payload; }
    unsigned char* block(u64 i) const noexcept { return data() + i * block_size; }
    u64& next_of(u64 i) const noexcept { return *reinterpret_cast<u64*>(block(i)); }

    void push_heap(txn& t, std::string_view item, i64 prio, bool front) {
        queue_state& s = t.s;
        const u64 len = item.size();
        const u64 k = blocks_for(len);
        // Take k blocks: from the free list, then never-used ones.  They stay
        // linked through their next words, which this does not write: the
        // item's length says how many to follow.
        u64 first = no_block, prev = no_block;
        for (u64 i = 0, done = 0; i < k; ++i) {
            u64 b;
            if (s.free_head != no_block) {
                b = s.free_head;
                s.free_head = next_of(b);
            } else {
                b = s.fresh++;
                // A never-used block joins the chain.  Its predecessor's link
                // is written through the journal if that one is still on the
                // free list (reachable), directly if it is never-used too.
                if (prev != no_block) {
                    if (prev < h_.st.fresh) t.stage(next_of(prev), b);
                    else next_of(prev) = b;
                }
            }
            if (first == no_block) first = b;
            u64 n = std::min(block_payload, len - done);
            if (n) std::memcpy(block(b) + sizeof(u64), item.data() + done, n);
            done += n;
            prev = b;
        }
        s.used += k;
        heap_entry e{prio, front ? s.seq_front-- : s.seq_back++, first, len};
        // Sift up from the new last slot.
        heap_entry* h = entries();
        u64 hole = s.count;
        while (hole > 0) {
            u64 parent = (hole - 1) / 2;
            if (!before(e, h[parent])) break;
            t.stage_entry(h[hole], h[parent]);
            hole = parent;
        }
        t.stage_entry(h[hole], e);
    }

    template <class Sink>
    u64 pop_heap(txn& t, Sink& sink) {
        queue_state& s = t.s;
        heap_entry* h = entries();
        const heap_entry top = h[0];
        const u64 k = blocks_for(top.len);
        sink.begin(top.len, top.prio);
        u64 b = top.first, last = top.first;
        for (u64 i = 0, done = 0; i < k; ++i) {
            u64 n = std::min(block_payload, top.len - done);
            if (n) sink.piece(block(b) + sizeof(u64), n);
            done += n;
            last = b;
            if (i + 1 < k) b = next_of(b);
        }
        sink.end();
        // The item's blocks go back on the free list as they are chained.
        t.stage(next_of(last), s.free_head);
        s.free_head = top.first;
        s.used -= k;
        // Sift the last entry down from the root.
        const u64 n = s.count - 1;
        if (n > 0) {
            const heap_entry moved = h[n];
            u64 hole = 0;
            for (;;) {
                u64 c = 2 * hole + 1;
                if (c >= n) break;
                if (c + 1 < n && before(h[c + 1], h[c])) ++c;
                if (!before(h[c], moved)) break;
                t.stage_entry(h[hole], h[c]);
                hole = c;
            }
            t.stage_entry(h[hole], moved);
        }
        return top.len;
    }

    queue_layout& h_;
    unsigned char* const base_;
    unsigned char* const data_;
    heap_entry* const entries_;
    const queue_kind kind_;
    const u64 capacity_, maxsize_, size_, nblocks_;
};

std::string engine::check() const {
    const queue_state& s = h_.st;
    auto bad = [](const std::string& what) { return what; };
    if (h_.jcount != 0) return bad("journal not applied");
    if (s.closed > 1 || s.removed > 1) return bad("closed/removed flags hold " + std::to_string(s.closed) + "/" + std::to_string(s.removed));
    if (s.puts - s.gets != s.count)
        return bad("puts " + std::to_string(s.puts) + " - gets " + std::to_string(s.gets) + " != items " + std::to_string(s.count));
    u64 count = 0, bytes = 0;
    switch (kind()) {
        case queue_kind::fifo: {
            if (s.head >= h_.data_size || s.used > h_.data_size) return bad("ring head/used out of range");
            u64 at = s.head, left = s.used;
            while (left > 0) {
                if (left < record_overhead) return bad("ring ends inside a record header");
                u64 len = ring_word(at);
                if (len > h_.capacity || record_overhead + len > left)
                    return bad("ring record at " + std::to_string(at) + " has length " + std::to_string(len));
                ++count;
                bytes += len;
                left -= record_overhead + len;
                at = (at + record_overhead + len) % h_.data_size;
            }
            break;
        }
        case queue_kind::lifo: {
            if (s.used > h_.data_size) return bad("stack top out of range");
            u64 top = s.used;
            while (top > 0) {
                if (top < record_overhead) return bad("stack ends inside a record");
                u64 len = load_u64(data() + top - record_overhead);
                if (len > h_.capacity || len > top - record_overhead)
                    return bad("stack record below " + std::to_string(top) + " has length " + std::to_string(len));
                ++count;
                bytes += len;
                top -= record_overhead + len;
            }
            break;
        }
        case queue_kind::priority: {
            if (s.fresh > h_.nblocks || s.used > s.fresh || s.count > h_.nblocks) return bad("block counts out of range");
            std::vector<unsigned char> owner(s.fresh, 0);
            const heap_entry* h = entries();
            u64 blocks = 0;
            for (u64 i = 0; i < s.count; ++i) {
                const heap_entry& e = h[i];
                if (i > 0 && before(e, h[(i - 1) / 2])) return bad("heap order broken at " + std::to_string(i));
                if (e.len > h_.capacity) return bad("heap entry " + std::to_string(i) + " has length " + std::to_string(e.len));
                u64 b = e.first, k = blocks_for(e.len);
                for (u64 j = 0; j < k; ++j) {
                    if (b >= s.fresh || owner[b]) return bad("item blocks overlap or run out of range");
                    owner[b] = 1;
                    if (j + 1 < k) b = next_of(b);
                }
                blocks += k;
                ++count;
                bytes += e.len;
            }
            if (blocks != s.used) return bad("items hold " + std::to_string(blocks) + " blocks, used says " + std::to_string(s.used));
            u64 free = 0;
            for (u64 b = s.free_head; b != no_block; b = next_of(b)) {
                if (b >= s.fresh || owner[b]) return bad("free list overlaps items or runs out of range");
                owner[b] = 2;
                ++free;
            }
            if (free + s.used != s.fresh) return bad("blocks lost: " + std::to_string(s.fresh - free - s.used));
            break;
        }
    }
    if (count != s.count) return bad("holds " + std::to_string(count) + " items, count says " + std::to_string(s.count));
    if (bytes != s.bytes) return bad("holds " + std::to_string(bytes) + " bytes, bytes says " + std::to_string(s.bytes));
    return "";
}

// Sinks for pop.
struct string_sink {
    static constexpr bool batch = false;
    std::string& out;
    i64* prio;
    void begin(u64 len, i64 p) {
        out.clear();
        out.reserve(len);
        if (prio) *prio = p;
    }
    void piece(const unsigned char* p, u64 n) { out.append(reinterpret_cast<const char*>(p), n); }
    void end() {}
};

}  // namespace

// Appends to a batch (a friend of item_batch).
struct detail::batch_sink {
    static constexpr bool batch = true;
    item_batch& b;
    i64 prio = 0;
    // Room for k more items of bytes in all, priority 0: where their bytes
    // go, where their ends go, and the offset of the first.
    struct room {
        char* data;
        std::size_t* ends;
        std::size_t base;
    };
    room grow(std::size_t k, std::size_t bytes) {
        const std::size_t d0 = b.data_.size(), e0 = b.ends_.size();
        b.data_.resize(d0 + bytes);
        b.ends_.resize(e0 + k);
        b.prio_.resize(e0 + k, 0);
        return {b.data_.data() + d0, b.ends_.data() + e0, d0};
    }
    void begin(u64, i64 p) { prio = p; }
    void piece(const unsigned char* p, u64 n) { b.data_.append(reinterpret_cast<const char*>(p), n); }
    void end() {
        b.ends_.push_back(b.data_.size());
        b.prio_.push_back(prio);
    }
};

// ---------------------------------------------------------------------------
// Opening and creating.

namespace {

struct where {
    std::string dir;     // the directory the queue lives in
    std::string base;    // its name in there
    std::string shm;     // "/conc.q.NAME" for shm_open; "" for a file
    std::string path;    // dir + "/" + base
};

constexpr const char* shm_dir = "/dev/shm";
constexpr const char* shm_prefix = "conc.q.";

where locate(const std::string& name) {
    std::string err = shm_queue::name_error(name);
    if (!err.empty()) throw std::invalid_argument("bad queue name '" + name + "': " + err);
    where w;
    if (shm_queue::is_path(name)) {
        auto slash = name.rfind('/');
        w.dir = slash == 0 ? "/" : name.substr(0, slash);
        w.base = name.substr(slash + 1);
        w.path = name;
    } else {
        w.dir = shm_dir;
        w.base = std::string(shm_prefix) + name;
        w.shm = "/" + w.base;
        w.path = w.dir + "/" + w.base;
    }
    return w;
}

std::string open_what(const where& w) { return w.shm.empty() ? "open '" + w.path + "'" : "shm_open '" + w.shm + "'"; }

// Opens the existing queue file; an invalid fd with errno ENOENT if missing.
unique_fd open_existing(const where& w) {
    int fd = w.shm.empty() ? ::open(w.path.c_str(), O_RDWR | O_CLOEXEC)
                           : shm_open(w.shm.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0 && errno != ENOENT) throw sys_error(errno, open_what(w));
    return unique_fd(fd);
}

// Checks what an opener mapped; throws queue_format_error.
void validate(const queue_layout& h, std::size_t size, const std::string& name) {
    const std::string who = "queue '" + name + "'";
    if (size < sizeof(queue_layout) || h.magic != queue_magic) throw queue_format_error(who + ": not a conc queue");
    if (h.version != layout_version)
        throw queue_format_error(who + ": made by another version of conc (layout " + std::to_string(h.version) + ", this is " +
                                 std::to_string(layout_version) + ")");
    if (h.kind > u32(queue_kind::priority) || h.capacity == 0 || h.capacity > max_capacity)
        throw queue_format_error(who + ": damaged header");
    geometry g = geometry_for(queue_kind(h.kind), h.capacity);
    if (g.data_off != h.data_off || g.data_size != h.data_size || g.entries_off != h.entries_off ||
        g.nblocks != h.nblocks || g.total_size != h.total_size || h.total_size != size)
        throw queue_format_error(who + ": damaged header (sizes disagree)");
}

void initialise(queue_layout* h, queue_kind kind, const queue_options& o, const geometry& g) {
    ::new (h) queue_layout{};
    h->version = layout_version;
    h->kind = u32(kind);
    h->maxsize = o.maxsize;
    h->capacity = o.capacity;
    h->total_size = g.total_size;
    h->data_off = g.data_off;
    h->data_size = g.data_size;
    h->entries_off = g.entries_off;
    h->nblocks = g.nblocks;
    std::string id = boot_id();
    std::memcpy(h->boot_id, id.data(), std::min(id.size(), sizeof h->boot_id - 1));
    ::new (h->lock_storage) conc::mutex();
    h->st.seq_back = seq_middle;
    h->st.seq_front = seq_middle - 1;
    h->st.free_head = no_block;
    // The magic goes last: nobody sees the segment before it is linked into
    // place anyway, but a file copied half-way must not pass for a queue.
    step_barrier();
    h->magic = queue_magic;
}

// A file opened for building a queue under no name (O_TMPFILE), or under a
// temporary one when the file system cannot do that; link() publishes it.
class new_file {
public:
    new_file(const where& w, mode_t mode) : dir_(w.dir) {
        // An O_TMPFILE file is linked through /proc/self/fd (linkat with
        // AT_EMPTY_PATH would need a capability).
        if (::access("/proc/self/fd", X_OK) == 0)
            fd_.reset(::open(w.dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 0777));
        if (!fd_) {
            if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
                throw sys_error(errno, "create '" + w.path + "'");
            if (errno == ENOENT && ::access(w.dir.c_str(), F_OK) != 0) throw sys_error(ENOENT, "create '" + w.path + "'");
            make_named(w, mode);
        }
        if (fchmod(fd_.get(), mode & 07777) == -1) throw sys_error(errno, "fchmod '" + w.path + "'");
    }
    new_file(const new_file&) = delete;
    new_file& operator=(const new_file&) = delete;
    ~new_file() {
        if (!tmp_.empty()) ::unlink(tmp_.c_str());
    }
    int fd() const noexcept { return fd_.get(); }
    unique_fd release_fd() noexcept { return std::move(fd_); }

    // Gives the finished file its name; false if the name exists already.
    bool link_as(const std::string& path) {
        int rc;
        if (tmp_.empty()) {
            std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
            rc = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
        } else {
            rc = ::link(tmp_.c_str(), path.c_str());
        }
        if (rc == 0) return true;
        if (errno == EEXIST) return false;
        throw sys_error(errno, "link '" + path + "'");
    }

private:
    void make_named(const where& w, mode_t mode) {
        static std::atomic<unsigned> counter{0};
        for (int tries = 0; tries < 100; ++tries) {
            tmp_ = w.dir + "/" + (w.shm.empty() ? ".conc-tmp." : "conc.tmp.") + std::to_string(getpid()) + "." +
                   std::to_string(counter.fetch_add(1));
            fd_.reset(::open(tmp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777));
            if (fd_) return;
            if (errno != EEXIST) {
                tmp_.clear();
                throw sys_error(errno, "create '" + w.path + "'");
            }
        }
        tmp_.clear();
        throw sys_error(EEXIST, "open a temporary file in '" + w.dir + "'");
    }
    std::string dir_;
    std::string tmp_;
    unique_fd fd_;
};

}  // namespace

shm_queue::shm_queue(std::string name, open_mode how, const queue_options& opts) : name_(std::move(name)) {
    const where w = locate(name_);
    path_ = w.path;
    if (opts.capacity == 0) throw std::invalid_argument("queue '" + name_ + "': capacity must be at least 1 byte");
    if (opts.capacity > max_capacity)
        throw std::invalid_argument("queue '" + name_ + "': capacity larger than " + std::to_string(max_capacity));
    for (int round = 0;; ++round) {
        if (how != open_mode::create_exclusive) {
            fd_ = open_existing(w);
            if (fd_) break;
            if (how == open_mode::open_existing) throw sys_error(ENOENT, open_what(w));
        }
        // Build it whole under no name, then link it into place.
        const geometry g = geometry_for(opts.kind, opts.capacity);
        new_file f(w, opts.mode);
        if (int rc = posix_fallocate(f.fd(), 0, off_t(g.total_size)); rc != 0)
            throw sys_error(rc, "allocate " + std::to_string(g.total_size) + " bytes for queue '" + name_ + "'");
        detail::mapping m = detail::map_shared(f.fd(), g.total_size, "mmap queue '" + name_ + "'");
        initialise(static_cast<queue_layout*>(m.data()), opts.kind, opts, g);
        if (f.link_as(w.path)) {
            fd_ = f.release_fd();
            map_ = std::move(m);
            created_ = true;
            hdr_ = static_cast<header*>(map_.data());
            return;
        }
        if (how == open_mode::create_exclusive) throw sys_error(EEXIST, open_what(w));
        // Someone else's went in first: open theirs (it may be gone again; go round).
        if (round > 1000) throw sys_error(EAGAIN, open_what(w));
    }
    struct stat st;
    if (fstat(fd_.get(), &st) == -1) throw sys_error(errno, "fstat '" + w.path + "'");
    if (std::size_t(st.st_size) < sizeof(queue_layout))
        throw queue_format_error("queue '" + name_ + "': not a conc queue");
    map_ = detail::map_shared(fd_.get(), std::size_t(st.st_size), "mmap queue '" + name_ + "'");
    auto* h = static_cast<queue_layout*>(map_.data());
    validate(*h, map_.size(), name_);
    // The lock and the futex words belong to one boot: a file kept across a
    // reboot may hold a lock word owned by a thread id of the old boot.  The
    // first opener after the reboot renews them, under flock against the others.
    std::string id = boot_id();
    if (!id.empty() && std::string_view(h->boot_id, strnlen(h->boot_id, sizeof h->boot_id)) != id) {
        if (flock(fd_.get(), LOCK_EX) == -1) throw sys_error(errno, "flock '" + w.path + "'");
        if (std::string_view(h->boot_id, strnlen(h->boot_id, sizeof h->boot_id)) != id) {
            ::new (h->lock_storage) conc::mutex();
            h->not_empty = h->not_full = h->all_done = 0;
            std::memset(h->boot_id, 0, sizeof h->boot_id);
            std::memcpy(h->boot_id, id.data(), std::min(id.size(), sizeof h->boot_id - 1));
        }
        flock(fd_.get(), LOCK_UN);
    }
    hdr_ = static_cast<header*>(h);
}

shm_queue shm_queue::create(std::string name, const queue_options& opts) {
    shm_queue q(std::move(name), open_mode::create_or_open, opts);
    if (!q.created()) {
        const queue_layout& h = *q.hdr_;
        if (queue_kind(h.kind) != opts.kind || h.maxsize != opts.maxsize || h.capacity != opts.capacity)
            throw queue_mismatch("queue '" + q.name_ + "' exists with other settings: " +
                                 describe(queue_kind(h.kind), h.maxsize, h.capacity) + " (asked for " +
                                 describe(opts.kind, opts.maxsize, opts.capacity) + ")");
    }
    return q;
}

shm_queue shm_queue::open(std::string name) { return shm_queue(std::move(name), open_mode::open_existing); }

shm_queue shm_queue::open_or_create(std::string name, const queue_options& opts) {
    return shm_queue(std::move(name), open_mode::create_or_open, opts);
}

shm_queue::shm_queue(shm_queue&& o) noexcept
    : name_(std::move(o.name_)),
      path_(std::move(o.path_)),
      fd_(std::move(o.fd_)),
      map_(std::move(o.map_)),
      hdr_(std::exchange(o.hdr_, nullptr)),
      created_(o.created_) {}

shm_queue& shm_queue::operator=(shm_queue&& o) noexcept {
    if (this != &o) {
        name_ = std::move(o.name_);
        path_ = std::move(o.path_);
        map_ = std::move(o.map_);
        fd_ = std::move(o.fd_);
        hdr_ = std::exchange(o.hdr_, nullptr);
        created_ = o.created_;
    }
    return *this;
}

shm_queue::~shm_queue() = default;

// ---------------------------------------------------------------------------
// Operations.

namespace {
void need(const void* hdr) {
    if (!hdr) throw std::logic_error("conc::shm_queue: use of an empty handle");
}
}  // namespace

queue_status shm_queue::put(std::string_view item, std::int64_t priority) { return put_one(item, priority, nullptr); }

queue_status shm_queue::try_put(std::string_view item, std::int64_t priority) {
    return put_many(std::span<const std::string_view>(&item, 1), priority, nanoseconds::zero()).status;
}

namespace {

// Puts items while they fit, in t: returns false when the next one does not.
template <queue_kind K, class Item>
void fill(engine& e, txn& t, batch_result& r, std::size_t n, Item& item, bool front) {
    while (r.count < n) {
        std::size_t i = front ? n - 1 - r.count : r.count;
        auto [b, p] = item(i);
        if (e.too_large(b.size()) || !e.fits_k<K>(t.s, b.size(), front)) break;
        e.push<K>(t, b, p, front);
        if (front) {
            t.s.gets -= 1;
        } else {
            t.s.puts += 1;
            t.s.unfinished += 1;
        }
        ++r.count;
        if constexpr (K == queue_kind::priority) t.commit();
    }
    t.commit();
}

// The one put loop behind put, try_put, put_for, put_many, unget: items
// [0, n) via item(i) -> (bytes, priority).  front: unget (items go in from the
// last to the first, each to the front; maxsize and close do not apply).
template <class Item>
batch_result put_loop(queue_layout& h, std::size_t map_size, std::size_t n, Item item, bool front,
                      const wait_limit& limit) {
    engine e(h);
    batch_result r;
    queue_lock lk(h, map_size);
    while (r.count < n) {
        if (h.st.removed) {
            r.status = queue_status::removed;
            break;
        }
        if (h.st.closed && !front) {
            r.status = queue_status::closed;
            break;
        }
        std::size_t i = front ? n - 1 - r.count : r.count;
        auto [bytes, prio] = item(i);
        if (e.too_large(bytes.size())) {
            r.status = queue_status::too_large;
            break;
        }
        if (!e.fits(h.st, bytes.size(), front)) {
            if (!lk.wait(h.not_full, limit)) {
                // The deadline passed: one last look under the lock.
                if (!h.st.removed && (!h.st.closed || front) && e.fits(h.st, bytes.size(), front)) continue;
                if (h.st.removed) r.status = queue_status::removed;
                else if (h.st.closed && !front) r.status = queue_status::closed;
                else r.status = limit.how == wait_limit::never ? queue_status::full : queue_status::timeout;
                break;
            }
            continue;
        }
        // Put as many as fit in one commit (one commit per item in a priority queue).
        const std::size_t before = r.count;
        txn t(h);
        switch (e.kind()) {
            case queue_kind::fifo: fill<queue_kind::fifo>(e, t, r, n, item, front); break;
            case queue_kind::lifo: fill<queue_kind::lifo>(e, t, r, n, item, front); break;
            case queue_kind::priority: fill<queue_kind::priority>(e, t, r, n, item, front); break;
        }
        if (r.count > before) lk.notify(h.not_empty);
    }
    return r;
}

}  // namespace

queue_status shm_queue::put_one(std::string_view item, std::int64_t priority, const nanoseconds* timeout) {
    need(hdr_);
    return put_loop(*hdr_, map_.size(), 1, [&](std::size_t) { return std::pair{item, priority}; }, false,
                    wait_limit::from(timeout))
        .status;
}

batch_result shm_queue::put_many(const item_batch& items, std::optional<nanoseconds> timeout) {
    need(hdr_);
    return put_loop(*hdr_, map_.size(), items.size(),
                    [&](std::size_t i) { return std::pair{items[i], items.priority(i)}; }, false,
                    wait_limit::from(timeout));
}

batch_result shm_queue::put_many(std::span<const std::string_view> items, std::int64_t priority,
                                 std::optional<nanoseconds> timeout) {
    need(hdr_);
    return put_loop(*hdr_, map_.size(), items.size(), [&](std::size_t i) { return std::pair{items[i], priority}; },
                    false, wait_limit::from(timeout));
}

queue_status shm_queue::unget(std::string_view item, std::int64_t priority, std::optional<nanoseconds> timeout) {
    need(hdr_);
    return put_loop(*hdr_, map_.size(), 1, [&](std::size_t) { return std::pair{item, priority}; }, true,
                    wait_limit::from(timeout))
        .status;
}

queue_status shm_queue::unget_many(const item_batch& items, std::size_t first, std::optional<nanoseconds> timeout) {
    need(hdr_);
    if (first >= items.size()) return queue_status::ok;
    return put_loop(*hdr_, map_.size(), items.size() - first,
                    [&](std::size_t i) { return std::pair{items[first + i], items.priority(first + i)}; }, true,
                    wait_limit::from(timeout))
        .status;
}

namespace {

// Takes up to max items (and max_bytes after the first) through sink.
template <queue_kind K, class Sink>
std::size_t take(engine& e, txn& t, Sink& sink, std::size_t max, std::size_t max_bytes) {
    if constexpr (K != queue_kind::priority && Sink::batch) {
        std::size_t k = e.pop_batch<K>(t, sink, max, max_bytes);
        t.s.gets += k;
        return k;
    } else {
        std::size_t k = 0, bytes = 0;
        while (k < max && t.s.count > 0) {
            if (k > 0) {
                u64 len = e.next_len(t.s);
                if (bytes >= max_bytes || len > max_bytes - bytes) break;
            }
            std::size_t before_len = t.s.bytes;
            e.pop<K>(t, sink);
            bytes += before_len - t.s.bytes;
            ++k;
            t.s.gets += 1;
            if constexpr (K == queue_kind::priority) t.commit();  // each item its own commit
        }
        return k;
    }
}

// Waits, holding lk, until an item is there (ok) or why not: removed,
// closed (and drained), empty (limit never), timeout.
queue_status wait_for_item(queue_layout& h, queue_lock& lk, const wait_limit& limit) {
    for (;;) {
        if (h.st.removed) return queue_status::removed;
        if (h.st.count > 0) return queue_status::ok;
        if (h.st.closed) return queue_status::closed;
        if (!lk.wait(h.not_empty, limit)) {
            if (h.st.removed) return queue_status::removed;
            if (h.st.count > 0) return queue_status::ok;
            if (h.st.closed) return queue_status::closed;
            return limit.how == wait_limit::never ? queue_status::empty : queue_status::timeout;
        }
    }
}

// The one get loop: waits for an item, then takes up to max (and max_bytes
// after the first) through sink.
template <class Sink>
batch_result get_loop(queue_layout& h, std::size_t map_size, Sink& sink, std::size_t max, std::size_t max_bytes,
                      const wait_limit& limit) {
    engine e(h);
    batch_result r;
    queue_lock lk(h, map_size);
    r.status = wait_for_item(h, lk, limit);
    if (r.status != queue_status::ok) return r;
    txn t(h);
    switch (e.kind()) {
        case queue_kind::fifo: r.count = take<queue_kind::fifo>(e, t, sink, max, max_bytes); break;
        case queue_kind::lifo: r.count = take<queue_kind::lifo>(e, t, sink, max, max_bytes); break;
        case queue_kind::priority: r.count = take<queue_kind::priority>(e, t, sink, max, max_bytes); break;
    }
    t.commit();
    lk.notify(h.not_full);
    return r;
}

}  // namespace

queue_status shm_queue::get(std::string& item, std::int64_t* priority) { return get_one(item, priority, nullptr); }

queue_status shm_queue::try_get(std::string& item, std::int64_t* priority) {
    need(hdr_);
    string_sink sink{item, priority};
    return get_loop(*hdr_, map_.size(), sink, 1, SIZE_MAX, wait_limit::from(std::optional(nanoseconds::zero())))
        .status;
}

queue_status shm_queue::get_one(std::string& item, std::int64_t* priority, const nanoseconds* timeout) {
    need(hdr_);
    string_sink sink{item, priority};
    return get_loop(*hdr_, map_.size(), sink, 1, SIZE_MAX, wait_limit::from(timeout)).status;
}

batch_result shm_queue::get_many(item_batch& out, std::size_t max, std::optional<nanoseconds> timeout,
                                 std::size_t max_bytes) {
    need(hdr_);
    if (max == 0) return {0, queue_status::ok};
    detail::batch_sink sink{out};
    return get_loop(*hdr_, map_.size(), sink, max, max_bytes, wait_limit::from(timeout));
}

queue_status shm_queue::wait_for_items(std::optional<nanoseconds> timeout) {
    need(hdr_);
    queue_lock lk(*hdr_, map_.size());
    return wait_for_item(*hdr_, lk, wait_limit::from(timeout));
}

bool shm_queue::close() {
    need(hdr_);
    queue_lock lk(*hdr_, map_.size());
    if (hdr_->st.closed) return false;
    txn t(*hdr_);
    t.s.closed = 1;
    t.commit();
    lk.notify(hdr_->not_empty);
    lk.notify(hdr_->not_full);
    return true;
}

bool shm_queue::closed() const {
    need(hdr_);
    queue_lock lk(*hdr_, map_.size());
    return hdr_->st.closed != 0;
}

queue_status shm_queue::task_done(std::uint64_t n) {
    need(hdr_);
    queue_lock lk(*hdr_, map_.size());
    if (hdr_->st.removed) return queue_status::removed;
    if (n > hdr_->st.unfinished)
        throw std::logic_error("task_done(" + std::to_string(n) + ") with only " +
                               std::to_string(hdr_->st.unfinished) + " unfinished tasks");
    if (n == 0) return queue_status::ok;
    txn t(*hdr_);
    t.s.unfinished -= n;
    t.commit();
    if (hdr_->st.unfinished == 0) lk.notify(hdr_->all_done);
    return queue_status::ok;
}

queue_status shm_queue::join() { return join_ns(nullptr); }

queue_status shm_queue::join_ns(const nanoseconds* timeout) {
    need(hdr_);
    const wait_limit limit = wait_limit::from(timeout);
    queue_lock lk(*hdr_, map_.size());
    for (;;) {
        if (hdr_->st.removed) return queue_status::removed;
        if (hdr_->st.unfinished == 0) return queue_status::ok;
        if (!lk.wait(hdr_->all_done, limit)) {
            if (hdr_->st.removed) return queue_status::removed;
            return hdr_->st.unfinished == 0 ? queue_status::ok : queue_status::timeout;
        }
    }
}

std::uint64_t shm_queue::size() const {
    need(hdr_);
    queue_lock lk(*hdr_, map_.size());
    return hdr_->st.count;
}

bool shm_queue::empty() const { return size() == 0; }

bool shm_queue::full() const {
    need(hdr_);
    queue_lock lk(*hdr_, map_.size());
    return !engine(*hdr_).fits(hdr_->st, 0, false);
}

queue_stats shm_queue::stats() const {
    need(hdr_);
    queue_stats s;
    {
        queue_lock lk(*hdr_, map_.size());
        const queue_layout& h = *hdr_;
        s.kind = queue_kind(h.kind);
        s.items = h.st.count;
        s.bytes_used = h.st.bytes;
        s.capacity = h.capacity;
        s.maxsize = h.maxsize;
        s.closed = h.st.closed != 0;
        s.removed = h.st.removed != 0;
        s.unfinished = h.st.unfinished;
        s.puts = h.st.puts;
        s.gets = h.st.gets;
    }
    struct stat st;
    if (fstat(fd_.get(), &st) == -1) throw sys_error(errno, "fstat '" + path_ + "'");
    s.mode = st.st_mode & 07777;
    s.owner = st.st_uid;
    return s;
}

std::string shm_queue::check() const {
    need(hdr_);
    queue_lock lk(*hdr_, map_.size());
    return engine(*hdr_).check();
}

bool shm_queue::remove(const std::string& name) {
    const where w = locate(name);
    try {
        shm_queue q(name, open_mode::open_existing);
        queue_lock lk(*q.hdr_, q.map_.size());
        txn t(*q.hdr_);
        t.s.removed = 1;
        t.commit();
        lk.notify(q.hdr_->not_empty);
        lk.notify(q.hdr_->not_full);
        lk.notify(q.hdr_->all_done);
    } catch (const queue_format_error&) {
        // Not a queue: a name in /dev/shm under conc.q. is ours to unlink
        // all the same, but a file path may be anybody's file.
        if (w.shm.empty()) throw;
    } catch (const sys_error& e) {
        if (e.err() == ENOENT) return false;
        throw;
    }
    int rc = w.shm.empty() ? ::unlink(w.path.c_str()) : shm_unlink(w.shm.c_str());
    if (rc == 0) return true;
    if (errno == ENOENT) return false;
    throw sys_error(errno, (w.shm.empty() ? "unlink '" + w.path : "shm_unlink '" + w.shm) + "'");
}

std::vector<std::string> shm_queue::list() {
    std::vector<std::string> names;
    DIR* d = opendir(shm_dir);
    if (!d) throw sys_error(errno, std::string("opendir '") + shm_dir + "'");
    const std::string_view prefix = shm_prefix;
    while (dirent* e = readdir(d)) {
        std::string_view n = e->d_name;
        if (!n.starts_with(prefix)) continue;
        n.remove_prefix(prefix.size());
        if (name_error(n).empty()) names.emplace_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace conc
