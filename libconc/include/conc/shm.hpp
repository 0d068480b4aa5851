// conc/shm.hpp: shared memory.  POSIX segments (shm_open), System V segments
// (shmget), regular files mapped MAP_SHARED, and the typed cells that live in
// them: shared_value<T>, shared_array<T, N> and shared_array<T> (sized at
// run time) (Python's multiprocessing Value and Array), and shared_map<V>
// (a fixed-capacity string-keyed map, the usual Manager().dict()), each
// guarded by its own process-shared lock.
//
// Every handle here is RAII (unmaps / detaches when destroyed) and move-only.
// Names and contents outlive handles: a POSIX segment stays in /dev/shm until
// unlink(), a System V segment until remove() and its last detach.
#pragma once
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "conc/error.hpp"
#include "conc/fd.hpp"
#include "conc/sync.hpp"

namespace conc {

namespace detail {
// One mmap'd range; munmap when destroyed.  Move-only.
class mapping {
public:
    mapping() noexcept = default;
    mapping(void* addr, std::size_t len) noexcept : addr_(addr), len_(len) {}
    mapping(mapping&& o) noexcept
        : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    mapping& operator=(mapping&& o) noexcept {
        if (this != &o) {
            reset();
            addr_ = std::exchange(o.addr_, nullptr);
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    mapping(const mapping&) = delete;
    mapping& operator=(const mapping&) = delete;
    ~mapping() { reset(); }

    void* data() const noexcept { return addr_; }
    std::size_t size() const noexcept { return len_; }
    void reset() noexcept;

private:
    void* addr_ = nullptr;
    std::size_t len_ = 0;
};

// Throws std::out_of_range: "who: index i out of range (size n)".
[[noreturn]] void index_out_of_range(const char* who, std::size_t i, std::size_t n);

// mmap(MAP_SHARED) of fd (or MAP_ANONYMOUS when fd is -1), read-write.
mapping map_shared(int fd, std::size_t len, const std::string& what);

// The address of an object of objsize bytes and alignment align at offset
// in [base, base + size); throws std::out_of_range / std::invalid_argument.
void* place(void* base, std::size_t size, std::size_t offset, std::size_t objsize, std::size_t align);
}  // namespace detail

// ---------------------------------------------------------------------------
// A POSIX shared memory segment: shm_open + ftruncate + mmap(MAP_SHARED).
class posix_shm {
public:
    posix_shm() noexcept = default;
    // name gets a leading '/' if it lacks one.  On creation the segment is
    // sized to size bytes (zero-filled).  On opening an existing one, size 0
    // maps it whole; a larger size than it has extends it.
    // Throws sys_error: "shm_open '/name': File exists", "...: No such file or directory".
    posix_shm(std::string name, open_mode how, std::size_t size = 0, mode_t mode = 0600);
    posix_shm(posix_shm&&) noexcept = default;
    posix_shm& operator=(posix_shm&&) noexcept = default;

    void* data() const noexcept { return map_.data(); }
    std::size_t size() const noexcept { return map_.size(); }
    const std::string& name() const noexcept { return name_; }
    bool created() const noexcept { return created_; }  // this handle made it
    explicit operator bool() const noexcept { return map_.data() != nullptr; }

    void unlink() const;                        // shm_unlink(name()); the mapping stays
    static void unlink(const std::string& name);  // throws ENOENT if missing
    static bool unlink_if_exists(const std::string& name);

private:
    detail::mapping map_;
    std::string name_;
    bool created_ = false;
};

// ---------------------------------------------------------------------------
// A System V shared memory segment: shmget + shmat; detached when destroyed.
class sysv_shm {
public:
    sysv_shm() noexcept = default;
    // A private key always creates.  Opening an existing segment with size 0
    // attaches it whole.
    sysv_shm(ipc_key key, std::size_t size, open_mode how, mode_t mode = 0600);
    sysv_shm(sysv_shm&& o) noexcept;
    sysv_shm& operator=(sysv_shm&& o) noexcept;
    sysv_shm(const sysv_shm&) = delete;
    sysv_shm& operator=(const sysv_shm&) = delete;
    ~sysv_shm() { detach(); }

    void* data() const noexcept { return addr_; }
    std::size_t size() const noexcept { return size_; }
    int id() const noexcept { return id_; }
    bool created() const noexcept { return created_; }
    explicit operator bool() const noexcept { return addr_ != nullptr; }

    void remove();            // IPC_RMID: freed after the last process detaches
    void detach() noexcept;   // shmdt; data() becomes null

private:
    void* addr_ = nullptr;
    std::size_t size_ = 0;
    int id_ = -1;
    bool created_ = false;
};

// ---------------------------------------------------------------------------
// A regular file mapped MAP_SHARED, for shared data that must survive a
// reboot.  Created if missing (per how), extended to size if shorter; size 0
// maps the file as it is.  flush() is msync.
class mapped_file {
public:
    mapped_file() noexcept = default;
    mapped_file(std::string path, std::size_t size, open_mode how = open_mode::create_or_open,
                mode_t mode = 0644);
    mapped_file(mapped_file&&) noexcept = default;
    mapped_file& operator=(mapped_file&&) noexcept = default;

    void* data() const noexcept { return map_.data(); }
    std::size_t size() const noexcept { return map_.size(); }
    const std::string& path() const noexcept { return path_; }
    bool created() const noexcept { return created_; }
    explicit operator bool() const noexcept { return map_.data() != nullptr; }

    // msync(MS_SYNC): returns when the data is on disk.  async: MS_ASYNC.
    void flush(bool async = false) const;

private:
    detail::mapping map_;
    std::string path_;
    bool created_ = false;
};

// ---------------------------------------------------------------------------
// Placing objects in segments.

// Anything with data() and size(): posix_shm, sysv_shm, mapped_file, ...
template <class S>
concept segment = requires(const S& s) {
    { s.data() } -> std::convertible_to<void*>;
    { s.size() } -> std::convertible_to<std::size_t>;
};

// Constructs a T at offset in the segment (the creator does this once).
// Throws std::out_of_range if it does not fit, std::invalid_argument if
// offset is misaligned for T.
template <class T, segment S, class... Args>
T& construct_in(const S& seg, std::size_t offset, Args&&... args) {
    void* p = detail::place(seg.data(), seg.size(), offset, sizeof(T), alignof(T));
    return *::new (p) T(std::forward<Args>(args)...);
}

// The T that another process constructed at offset in the segment.
template <class T, segment S>
T& attach_to(const S& seg, std::size_t offset) {
    void* p = detail::place(seg.data(), seg.size(), offset, sizeof(T), alignof(T));
    return *std::launder(static_cast<T*>(p));
}

// A T in its own anonymous MAP_SHARED mapping: create it before fork() and
// parent and children see the same object.  Owns the mapping (each process
// unmaps its own view); only the process that created the T destroys it.
template <class T>
class shared_object {
public:
    template <class... Args>
    explicit shared_object(std::in_place_t, Args&&... args)
        : map_(detail::map_shared(-1, sizeof(T), "mmap anonymous shared")), creator_(getpid()) {
        ::new (map_.data()) T(std::forward<Args>(args)...);
    }
    shared_object(shared_object&& o) noexcept = default;
    shared_object& operator=(shared_object&& o) noexcept {
        if (this != &o) {
            destroy();
            map_ = std::move(o.map_);
            creator_ = o.creator_;
        }
        return *this;
    }
    ~shared_object() { destroy(); }

    T* get() const noexcept { return static_cast<T*>(map_.data()); }
    T& operator*() const noexcept { return *get(); }
    T* operator->() const noexcept { return get(); }
    explicit operator bool() const noexcept { return get() != nullptr; }

private:
    void destroy() noexcept {
        if (get() && getpid() == creator_) std::destroy_at(get());
        map_.reset();
    }
    detail::mapping map_;
    pid_t creator_ = 0;
};

template <class T, class... Args>
shared_object<T> make_shared_object(Args&&... args) {
    return shared_object<T>(std::in_place, std::forward<Args>(args)...);
}

// ---------------------------------------------------------------------------
// shared_value<T>: one T and its lock, at a fixed address in shared memory
// (multiprocessing.Value).  get() and set() each take the lock for one load or
// store, so neither sees a torn T; but get-then-set is not atomic.  A
// read-modify-write must hold get_lock() across it (as in Python):
//
//     std::lock_guard g(v.get_lock());
//     v.value() += 1;
//
// The lock is a robust recursive_mutex, so get()/set() may be called under it.
template <class T>
class shared_value {
    static_assert(std::is_trivially_copyable_v<T>, "shared_value<T> needs a trivially copyable T");

public:
    explicit shared_value(const T& init = T{}) : value_(init) {}
    shared_value(const shared_value&) = delete;
    shared_value& operator=(const shared_value&) = delete;

    T get() const {
        std::lock_guard g(lock_);
        return value_;
    }
    void set(const T& v) {
        std::lock_guard g(lock_);
        value_ = v;
    }
    // The value itself: read or write it while holding get_lock().
    T& value() noexcept { return value_; }
    const T& value() const noexcept { return value_; }
    recursive_mutex& get_lock() const noexcept { return lock_; }

    // Runs f(value()) under the lock and returns what f returns.
    template <class F>
    decltype(auto) with_lock(F&& f) {
        std::lock_guard g(lock_);
        return std::forward<F>(f)(value_);
    }

    // In a fresh anonymous shared mapping, to be inherited over fork().
    static shared_object<shared_value> create(const T& init = T{}) {
        return make_shared_object<shared_value>(init);
    }
    // In a named segment at offset: the creator constructs, the others attach.
    template <segment S>
    static shared_value& construct_in(const S& seg, std::size_t offset, const T& init = T{}) {
        return conc::construct_in<shared_value>(seg, offset, init);
    }
    template <segment S>
    static shared_value& attach_to(const S& seg, std::size_t offset) {
        return conc::attach_to<shared_value>(seg, offset);
    }

private:
    mutable recursive_mutex lock_;
    T value_;
};

// shared_array<T, N>: N values of T and one lock (multiprocessing.Array).
// get(i)/set(i, v) take the lock; operator[], data(), begin()/end() do not:
// use them while holding get_lock().
template <class T, std::size_t N = std::dynamic_extent>
class shared_array {
    static_assert(std::is_trivially_copyable_v<T>, "shared_array<T, N> needs a trivially copyable T");

public:
    shared_array() : items_{} {}
    explicit shared_array(const T& fill) {
        for (auto& x : items_) x = fill;
    }
    shared_array(const shared_array&) = delete;
    shared_array& operator=(const shared_array&) = delete;

    T get(std::size_t i) const {
        std::lock_guard g(lock_);
        if (i >= N) detail::index_out_of_range("conc::shared_array", i, N);
        return items_[i];
    }
    void set(std::size_t i, const T& v) {
        std::lock_guard g(lock_);
        if (i >= N) detail::index_out_of_range("conc::shared_array", i, N);
        items_[i] = v;
    }
    T& operator[](std::size_t i) noexcept { return items_[i]; }
    const T& operator[](std::size_t i) const noexcept { return items_[i]; }
    static constexpr std::size_t size() noexcept { return N; }
    T* data() noexcept { return items_; }
    const T* data() const noexcept { return items_; }
    T* begin() noexcept { return items_; }
    T* end() noexcept { return items_ + N; }
    const T* begin() const noexcept { return items_; }
    const T* end() const noexcept { return items_ + N; }
    recursive_mutex& get_lock() const noexcept { return lock_; }

    template <class F>
    decltype(auto) with_lock(F&& f) {
        std::lock_guard g(lock_);
        return std::forward<F>(f)(items_);
    }

    static shared_object<shared_array> create() { return make_shared_object<shared_array>(); }
    static shared_object<shared_array> create(const T& fill) {
        return make_shared_object<shared_array>(fill);
    }
    template <segment S>
    static shared_array& construct_in(const S& seg, std::size_t offset) {
        return conc::construct_in<shared_array>(seg, offset);
    }
    template <segment S>
    static shared_array& attach_to(const S& seg, std::size_t offset) {
        return conc::attach_to<shared_array>(seg, offset);
    }

private:
    mutable recursive_mutex lock_;
    T items_[N];
};

namespace detail {
// The head of a cell whose size is chosen at run time (shared_array<T>,
// shared_map<V>): its lock, what it is, and how many elements follow.
// attach_to checks magic and element size before trusting the count.
struct cell_header {
    recursive_mutex lock;
    std::uint64_t magic = 0;
    std::uint64_t elem_size = 0;
    std::uint64_t count = 0;
};
constexpr std::uint64_t array_magic = 0x636f6e6361727279ULL;  // "concarry"
constexpr std::uint64_t map_magic = 0x636f6e636d617031ULL;    // "concmap1"

constexpr std::size_t round_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

// first + n * each, or std::length_error naming who.
std::size_t cell_bytes(std::size_t first, std::size_t n, std::size_t each, const char* who);
// The header at offset in seg, checked: std::invalid_argument if it is not
// a cell of this kind (magic) and element size; std::out_of_range if the
// cell it describes does not fit.
cell_header& find_cell(void* base, std::size_t size, std::size_t offset, std::uint64_t magic,
                       std::size_t elem_size, std::size_t (*bytes_for)(std::size_t), std::size_t align,
                       const char* who);
}  // namespace detail

// shared_array<T> (no N): a size chosen at run time, otherwise as above
// (multiprocessing.Array(typecode, n)).  The object is a handle: create()
// maps a fresh anonymous shared region, inherited over fork(), that the
// handle unmaps (each process its own view); construct_in()/attach_to() view
// an array in a segment, which owns the memory.  Move-only.
//
// get(i)/set(i, v) take the lock and throw std::out_of_range past the end
// (Python's IndexError); operator[], data(), begin()/end() do not lock or
// check: use them while holding get_lock(), or use with_lock(f), which calls
// f(std::span<T>) under the lock.  snapshot() copies the whole array under
// the lock (Python's arr[:]).
template <class T>
class shared_array<T, std::dynamic_extent> {
    static_assert(std::is_trivially_copyable_v<T>, "shared_array<T> needs a trivially copyable T");
    static constexpr std::size_t items_at = detail::round_up(sizeof(detail::cell_header), alignof(T));

public:
    // Alignment and size of the cell, for placing it in a segment.
    static constexpr std::size_t alignment =
        alignof(T) > alignof(detail::cell_header) ? alignof(T) : alignof(detail::cell_header);
    static std::size_t bytes_needed(std::size_t n) {
        return detail::cell_bytes(items_at, n, sizeof(T), "conc::shared_array");
    }

    // n elements, each fill, in a fresh anonymous shared mapping.
    static shared_array create(std::size_t n, const T& fill = T{}) {
        detail::mapping m = detail::map_shared(-1, bytes_needed(n), "mmap anonymous shared (shared_array)");
        void* p = m.data();
        return shared_array(init(p, n, fill), std::move(m));
    }
    // In a segment at offset: the creator constructs once, the others attach.
    template <segment S>
    static shared_array construct_in(const S& seg, std::size_t offset, std::size_t n, const T& fill = T{}) {
        void* p = detail::place(seg.data(), seg.size(), offset, bytes_needed(n), alignment);
        return shared_array(init(p, n, fill), {});
    }
    template <segment S>
    static shared_array attach_to(const S& seg, std::size_t offset) {
        auto& h = detail::find_cell(seg.data(), seg.size(), offset, detail::array_magic, sizeof(T),
                                    &shared_array::bytes_needed, alignment, "conc::shared_array");
        return shared_array(&h, {});
    }

    shared_array() noexcept = default;
    shared_array(shared_array&& o) noexcept
        : map_(std::move(o.map_)), h_(std::exchange(o.h_, nullptr)), items_(std::exchange(o.items_, nullptr)) {}
    shared_array& operator=(shared_array&& o) noexcept {
        if (this != &o) {
            map_ = std::move(o.map_);
            h_ = std::exchange(o.h_, nullptr);
            items_ = std::exchange(o.items_, nullptr);
        }
        return *this;
    }
    explicit operator bool() const noexcept { return h_ != nullptr; }

    T get(std::size_t i) const {
        std::lock_guard g(h_->lock);
        check(i);
        return items_[i];
    }
    void set(std::size_t i, const T& v) {
        std::lock_guard g(h_->lock);
        check(i);
        items_[i] = v;
    }
    std::vector<T> snapshot() const {
        std::lock_guard g(h_->lock);
        return std::vector<T>(items_, items_ + size());
    }
    void fill(const T& v) {
        std::lock_guard g(h_->lock);
        std::fill(items_, items_ + size(), v);
    }
    T& operator[](std::size_t i) const noexcept { return items_[i]; }
    std::size_t size() const noexcept { return h_ ? std::size_t(h_->count) : 0; }
    T* data() const noexcept { return items_; }
    T* begin() const noexcept { return items_; }
    T* end() const noexcept { return items_ + size(); }
    recursive_mutex& get_lock() const noexcept { return h_->lock; }

    template <class F>
    decltype(auto) with_lock(F&& f) const {
        std::lock_guard g(h_->lock);
        return std::forward<F>(f)(std::span<T>(items_, size()));
    }

private:
    shared_array(detail::cell_header* h, detail::mapping m) noexcept
        : map_(std::move(m)), h_(h), items_(reinterpret_cast<T*>(reinterpret_cast<char*>(h) + items_at)) {}
    static detail::cell_header* init(void* p, std::size_t n, const T& fill) {
        auto* h = ::new (p) detail::cell_header();
        T* items = reinterpret_cast<T*>(static_cast<char*>(p) + items_at);
        for (std::size_t i = 0; i < n; ++i) ::new (items + i) T(fill);
        h->elem_size = sizeof(T);
        h->count = n;
        h->magic = detail::array_magic;
        return h;
    }
    void check(std::size_t i) const {
        if (i >= size()) detail::index_out_of_range("conc::shared_array", i, size());
    }

    detail::mapping map_;  // the memory, when made by create()
    detail::cell_header* h_ = nullptr;
    T* items_ = nullptr;
};

// ---------------------------------------------------------------------------
// shared_map<V, KeyMax>: a fixed-capacity hash map in shared memory from short
// string keys (at most KeyMax bytes, 63 by default; any bytes) to trivially
// copyable values, safe across processes: the common use of Python's
// Manager().dict(), without a manager process.
//
// Like shared_array<T> it is a move-only handle: create(capacity) maps a
// fresh anonymous shared region, inherited over fork(); construct_in/attach_to
// place it in a segment of bytes_needed(capacity) bytes.  The capacity (how
// many keys it holds) is fixed at creation: set() of a new key into a full map
// throws shared_map_full, a key longer than KeyMax throws
// std::invalid_argument; neither changes the map.
//
// Every call takes the map's robust recursive lock for its own duration, so
// each is atomic; a read-modify-write of one value is update(key, f), which
// calls f(V&) under the lock (inserting V{} first if the key is missing), or
// hold get_lock() across several calls.  items() and keys() are snapshots.
//
// A process killed inside a call leaves the map whole: every change links or
// unlinks a key with one store, and the next call, by anyone, rebuilds the
// free list and the count if the dead call left them unfinished.  A value
// being overwritten by a process killed mid-copy may be left half-written if
// V is wider than one machine word.
class shared_map_full : public std::length_error {
public:
    using std::length_error::length_error;
};

namespace detail {
// The untyped engine (shm.cpp); every call but map_bytes/map_init is made
// with the cell's lock held.
struct map_view {
    cell_header* h = nullptr;
};
std::size_t map_bytes(std::size_t capacity, std::size_t value_size, std::size_t value_align, std::size_t key_max);
void map_init(void* cell, std::size_t capacity, std::size_t value_size, std::size_t value_align,
              std::size_t key_max);
void map_check_key_max(map_view m, std::size_t key_max, std::size_t offset);
// The value of key, or nullptr.
void* map_find(map_view m, std::string_view key);
// The value of key, inserting it with the value_size bytes at init if missing
// (throws shared_map_full, or std::invalid_argument for a long key).
void* map_slot(map_view m, std::string_view key, const void* init, bool* inserted);
bool map_erase(map_view m, std::string_view key);
void map_clear(map_view m);
std::size_t map_size(map_view m);
void map_for_each(map_view m, void (*fn)(void* ctx, std::string_view key, const void* value), void* ctx);
}  // namespace detail

template <class V, std::size_t KeyMax = 63>
class shared_map {
    static_assert(std::is_trivially_copyable_v<V>, "shared_map<V> needs a trivially copyable V");
    static_assert(KeyMax > 0 && KeyMax < 65536, "shared_map: KeyMax must be 1..65535");

public:
    static constexpr std::size_t max_key_length = KeyMax;
    static constexpr std::size_t alignment = alignof(V) > 8 ? alignof(V) : 8;
    static std::size_t bytes_needed(std::size_t capacity) {
        return detail::map_bytes(capacity, sizeof(V), alignof(V), KeyMax);
    }

    // Room for capacity keys, in a fresh anonymous shared mapping.
    static shared_map create(std::size_t capacity) {
        detail::mapping m = detail::map_shared(-1, bytes_needed(capacity), "mmap anonymous shared (shared_map)");
        detail::map_init(m.data(), capacity, sizeof(V), alignof(V), KeyMax);
        auto* h = static_cast<detail::cell_header*>(m.data());
        return shared_map(h, std::move(m));
    }
    // In a segment at offset: the creator constructs once, the others attach.
    template <segment S>
    static shared_map construct_in(const S& seg, std::size_t offset, std::size_t capacity) {
        void* p = detail::place(seg.data(), seg.size(), offset, bytes_needed(capacity), alignment);
        detail::map_init(p, capacity, sizeof(V), alignof(V), KeyMax);
        return shared_map(static_cast<detail::cell_header*>(p), {});
    }
    template <segment S>
    static shared_map attach_to(const S& seg, std::size_t offset) {
        auto& h = detail::find_cell(seg.data(), seg.size(), offset, detail::map_magic, sizeof(V),
                                    &shared_map::bytes_needed, alignment, "conc::shared_map");
        detail::map_check_key_max({&h}, KeyMax, offset);
        return shared_map(&h, {});
    }

    shared_map() noexcept = default;
    shared_map(shared_map&& o) noexcept : map_(std::move(o.map_)), h_(std::exchange(o.h_, nullptr)) {}
    shared_map& operator=(shared_map&& o) noexcept {
        if (this != &o) {
            map_ = std::move(o.map_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    explicit operator bool() const noexcept { return h_ != nullptr; }

    std::optional<V> get(std::string_view key) const {
        std::lock_guard g(h_->lock);
        if (const void* p = detail::map_find(view(), key)) return load(p);
        return std::nullopt;
    }
    V get(std::string_view key, const V& dflt) const {
        std::lock_guard g(h_->lock);
        const void* p = detail::map_find(view(), key);
        return p ? load(p) : dflt;
    }
    bool contains(std::string_view key) const {
        std::lock_guard g(h_->lock);
        return detail::map_find(view(), key) != nullptr;
    }
    // Inserts or replaces (d[key] = v).
    void set(std::string_view key, const V& v) {
        std::lock_guard g(h_->lock);
        bool inserted = false;
        void* p = detail::map_slot(view(), key, &v, &inserted);
        if (!inserted) std::memcpy(p, &v, sizeof(V));
    }
    // Inserts only if the key is missing (d.setdefault); true if it did.
    bool insert(std::string_view key, const V& v) {
        std::lock_guard g(h_->lock);
        bool inserted = false;
        detail::map_slot(view(), key, &v, &inserted);
        return inserted;
    }
    // f(V&) under the lock, V{} inserted first if the key is missing;
    // returns what f returns.
    template <class F>
    decltype(auto) update(std::string_view key, F&& f) {
        std::lock_guard g(h_->lock);
        const V init{};
        void* p = detail::map_slot(view(), key, &init, nullptr);
        return std::forward<F>(f)(*std::launder(static_cast<V*>(p)));
    }
    // del d[key] / d.pop(key, None): false if it was missing.
    bool erase(std::string_view key) {
        std::lock_guard g(h_->lock);
        return detail::map_erase(view(), key);
    }
    void clear() {
        std::lock_guard g(h_->lock);
        detail::map_clear(view());
    }
    std::size_t size() const {
        std::lock_guard g(h_->lock);
        return detail::map_size(view());
    }
    bool empty() const { return size() == 0; }
    std::size_t capacity() const noexcept { return h_ ? std::size_t(h_->count) : 0; }

    // A copy of every entry, in no particular order.
    std::vector<std::pair<std::string, V>> items() const {
        std::vector<std::pair<std::string, V>> out;
        std::lock_guard g(h_->lock);
        out.reserve(detail::map_size(view()));
        detail::map_for_each(
            view(),
            [](void* ctx, std::string_view k, const void* v) {
                static_cast<std::vector<std::pair<std::string, V>>*>(ctx)->emplace_back(std::string(k), load(v));
            },
            &out);
        return out;
    }
    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        std::lock_guard g(h_->lock);
        detail::map_for_each(
            view(), [](void* ctx, std::string_view k, const void*) {
                static_cast<std::vector<std::string>*>(ctx)->emplace_back(k);
            },
            &out);
        return out;
    }

    recursive_mutex& get_lock() const noexcept { return h_->lock; }

private:
    shared_map(detail::cell_header* h, detail::mapping m) noexcept : map_(std::move(m)), h_(h) {}
    detail::map_view view() const noexcept { return {h_}; }
    static V load(const void* p) {
        V v;
        std::memcpy(static_cast<void*>(&v), p, sizeof(V));
        return v;
    }

    detail::mapping map_;  // the memory, when made by create()
    detail::cell_header* h_ = nullptr;
};

}  // namespace conc
