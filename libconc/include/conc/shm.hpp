// conc/shm.hpp: shared memory.  POSIX segments (shm_open), System V segments
// (shmget), regular files mapped MAP_SHARED, and the typed cells that live in
// them: shared_value<T> and shared_array<T, N> (Python's multiprocessing
// Value and Array), each guarded by its own process-shared lock.
//
// Every handle here is RAII (unmaps / detaches when destroyed) and move-only.
// Names and contents outlive handles: a POSIX segment stays in /dev/shm until
// unlink(), a System V segment until remove() and its last detach.
#pragma once
#include <sys/types.h>
#include <unistd.h>

#include <concepts>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

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
template <class T, std::size_t N>
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
        return items_[i];
    }
    void set(std::size_t i, const T& v) {
        std::lock_guard g(lock_);
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

}  // namespace conc
