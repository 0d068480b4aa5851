// conc/shm.cpp: POSIX and System V shared memory, mapped files.
#include "conc/shm.hpp"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "create_or_open.hpp"

namespace conc {

namespace detail {

void mapping::reset() noexcept {
    if (addr_) munmap(addr_, len_);
    addr_ = nullptr;
    len_ = 0;
}

mapping map_shared(int fd, std::size_t len, const std::string& what) {
    if (len == 0) throw sys_error(EINVAL, what + ": nothing to map (size 0)");
    int flags = MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0);
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) throw sys_error(errno, what);
    return mapping(p, len);
}

void* place(void* base, std::size_t size, std::size_t offset, std::size_t objsize, std::size_t align) {
    if (!base) throw std::invalid_argument("conc: placing an object in an empty segment");
    if (offset > size || objsize > size - offset)
        throw std::out_of_range("conc: object of " + std::to_string(objsize) + " bytes at offset " +
                                std::to_string(offset) + " does not fit a segment of " +
                                std::to_string(size) + " bytes");
    auto addr = reinterpret_cast<std::uintptr_t>(base) + offset;
    if (addr % align != 0)
        throw std::invalid_argument("conc: offset " + std::to_string(offset) +
                                    " is not aligned to " + std::to_string(align));
    return reinterpret_cast<void*>(addr);
}

void index_out_of_range(const char* who, std::size_t i, std::size_t n) {
    throw std::out_of_range(std::string(who) + ": index " + std::to_string(i) + " out of range (size " +
                            std::to_string(n) + ")");
}

std::size_t cell_bytes(std::size_t first, std::size_t n, std::size_t each, const char* who) {
    if (each != 0 && n > (SIZE_MAX - first) / each)
        throw std::length_error(std::string(who) + ": " + std::to_string(n) + " elements do not fit in memory");
    return first + n * each;
}

cell_header& find_cell(void* base, std::size_t size, std::size_t offset, std::uint64_t magic,
                       std::size_t elem_size, std::size_t (*bytes_for)(std::size_t), std::size_t align,
                       const char* who) {
    auto* h = static_cast<cell_header*>(place(base, size, offset, sizeof(cell_header), align));
    if (h->magic != magic)
        throw std::invalid_argument(std::string(who) + ": no such object at offset " + std::to_string(offset) +
                                    " (not constructed there, or another kind)");
    if (h->elem_size != elem_size)
        throw std::invalid_argument(std::string(who) + ": at offset " + std::to_string(offset) +
                                    " elements are " + std::to_string(h->elem_size) + " bytes, not " +
                                    std::to_string(elem_size));
    place(base, size, offset, bytes_for(std::size_t(h->count)), align);  // the whole cell fits
    return *h;
}

}  // namespace detail

namespace {

std::string slash_name(std::string name) {
    if (name.empty() || name[0] != '/') name.insert(0, 1, '/');
    return name;
}

// Sizes fd to at least want (or leaves it when want is 0); returns the size to map.
std::size_t size_file(int fd, std::size_t want, bool created, const std::string& what) {
    if (created) {
        if (want == 0) throw sys_error(EINVAL, what + ": a new segment needs a size");
        if (ftruncate(fd, off_t(want)) == -1) throw sys_error(errno, "ftruncate " + what);
        return want;
    }
    struct stat st;
    if (fstat(fd, &st) == -1) throw sys_error(errno, "fstat " + what);
    std::size_t have = std::size_t(st.st_size);
    if (want > have) {
        if (ftruncate(fd, off_t(want)) == -1) throw sys_error(errno, "ftruncate " + what);
        return want;
    }
    if (want == 0) {
        if (have == 0) throw sys_error(EINVAL, what + ": empty, and no size given");
        return have;
    }
    return want;
}

}  // namespace

// ---------------------------------------------------------------------------
posix_shm::posix_shm(std::string name, open_mode how, std::size_t size, mode_t mode)
    : name_(slash_name(std::move(name))) {
    const std::string what = "'" + name_ + "'";
    unique_fd fd;
    created_ = detail::create_or_open(
        how, "shm_open " + what,
        [&] { fd.reset(shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)); return bool(fd); },
        [&] { fd.reset(shm_open(name_.c_str(), O_RDWR | O_CLOEXEC, 0)); return bool(fd); });
    try {
        std::size_t len = size_file(fd.get(), size, created_, what);
        map_ = detail::map_shared(fd.get(), len, "mmap " + what);
    } catch (...) {
        if (created_) shm_unlink(name_.c_str());  // leave nothing half-made behind
        throw;
    }
}

void posix_shm::unlink() const { unlink(name_); }

void posix_shm::unlink(const std::string& name) {
    std::string n = slash_name(name);
    if (shm_unlink(n.c_str()) == -1) throw sys_error(errno, "shm_unlink '" + n + "'");
}

bool posix_shm::unlink_if_exists(const std::string& name) {
    std::string n = slash_name(name);
    if (shm_unlink(n.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw sys_error(errno, "shm_unlink '" + n + "'");
}

// ---------------------------------------------------------------------------
sysv_shm::sysv_shm(ipc_key key, std::size_t size, open_mode how, mode_t mode) {
    const std::string doing = "shmget key " + detail::ipc_key_text(key);
    const int perms = int(mode & 0777);
    if (key.is_private()) how = open_mode::create_exclusive;
    created_ = detail::create_or_open(
        how, doing, [&] { return (id_ = shmget(key.value, size, IPC_CREAT | IPC_EXCL | perms)) != -1; },
        [&] { return (id_ = shmget(key.value, 0, 0)) != -1; });
    shmid_ds ds{};
    if (shmctl(id_, IPC_STAT, &ds) == -1) throw sys_error(errno, "shmctl IPC_STAT");
    if (size > ds.shm_segsz) throw sys_error(EINVAL, doing + ": segment smaller than asked for");
    void* p = shmat(id_, nullptr, 0);
    if (p == reinterpret_cast<void*>(-1)) {
        int err = errno;
        if (created_) shmctl(id_, IPC_RMID, nullptr);
        throw sys_error(err, "shmat");
    }
    addr_ = p;
    size_ = size ? size : ds.shm_segsz;
}

sysv_shm::sysv_shm(sysv_shm&& o) noexcept
    : addr_(std::exchange(o.addr_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      id_(std::exchange(o.id_, -1)),
      created_(o.created_) {}

sysv_shm& sysv_shm::operator=(sysv_shm&& o) noexcept {
    if (this != &o) {
        detach();
        addr_ = std::exchange(o.addr_, nullptr);
        size_ = std::exchange(o.size_, 0);
        id_ = std::exchange(o.id_, -1);
        created_ = o.created_;
    }
    return *this;
}

void sysv_shm::remove() {
    if (id_ == -1) return;
    if (shmctl(id_, IPC_RMID, nullptr) == -1) throw sys_error(errno, "shmctl IPC_RMID");
}

void sysv_shm::detach() noexcept {
    if (addr_) shmdt(addr_);
    addr_ = nullptr;
    size_ = 0;
}

// ---------------------------------------------------------------------------
mapped_file::mapped_file(std::string path, std::size_t size, open_mode how, mode_t mode)
    : path_(std::move(path)) {
    const std::string what = "'" + path_ + "'";
    unique_fd fd;
    created_ = detail::create_or_open(
        how, "open " + what,
        [&] { fd.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)); return bool(fd); },
        [&] { fd.reset(::open(path_.c_str(), O_RDWR | O_CLOEXEC)); return bool(fd); });
    try {
        std::size_t len = size_file(fd.get(), size, created_, what);
        map_ = detail::map_shared(fd.get(), len, "mmap " + what);
    } catch (...) {
        if (created_) ::unlink(path_.c_str());
        throw;
    }
}

void mapped_file::flush(bool async) const {
    if (!map_.data()) return;
    if (msync(map_.data(), map_.size(), async ? MS_ASYNC : MS_SYNC) == -1)
        throw sys_error(errno, "msync '" + path_ + "'");
}

// ---------------------------------------------------------------------------
// shared_map's engine.
//
// The cell:  cell_header (lock, magic, value size, capacity)
//            map_meta
//            buckets   nbuckets u32: the first node of each chain, or none
//            nodes     capacity nodes of node_size bytes:
//                      u32 next, u32 key length, key bytes, then the value
//                      at value_off
// Chains and the free list are node indexes (processes map the cell at
// different addresses).  Every change is made in steps whose one commit is a
// single u32 store (a bucket head, or the next link of the node before):
//   insert  take a node off the free list; fill key, value and next; link it
//           (commit); count it;
//   erase   unlink it (commit); push it on the free list; uncount it.
// "dirty" is set before the first step and cleared after the last; whoever
// next takes the lock and finds it set (its setter died in between) rebuilds
// the free list and the count from the chains, which are always whole.  Only
// the compiler needs holding back (a signal fence): the next holder gets the
// lock after the kernel's atomic operations on the dead owner's lock word.

namespace detail {
namespace {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
constexpr u32 none = 0xffffffffu;

struct map_meta {
    u64 key_max;
    u64 value_off;   // in a node
    u64 node_size;
    u64 nbuckets;    // a power of two
    u64 buckets_off; // from the cell's start
    u64 nodes_off;
    u64 size;
    u32 free_head;
    u32 dirty;
};

struct map_shape {
    u64 value_off, node_size, nbuckets, buckets_off, nodes_off, bytes;
};

map_shape shape_of(std::size_t capacity, std::size_t value_size, std::size_t value_align, std::size_t key_max) {
    if (capacity >= none) throw std::length_error("conc::shared_map: capacity " + std::to_string(capacity) + " is too large");
    map_shape s{};
    const std::size_t node_align = value_align > 8 ? value_align : 8;
    s.value_off = round_up(8 + key_max, value_align);
    s.node_size = round_up(s.value_off + value_size, node_align);
    s.nbuckets = 1;
    while (s.nbuckets < capacity) s.nbuckets *= 2;
    s.buckets_off = round_up(sizeof(cell_header), alignof(map_meta)) + sizeof(map_meta);
    s.nodes_off = round_up(s.buckets_off + 4 * s.nbuckets, node_align);
    s.bytes = cell_bytes(s.nodes_off, capacity, s.node_size, "conc::shared_map");
    return s;
}

inline void step() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

struct map_ref {
    cell_header& h;
    map_meta& meta;
    char* base;

    // With the lock held (repair: true), finishes what a dead holder left.
    explicit map_ref(map_view v, bool repair_now = true)
        : h(*v.h),
          meta(*reinterpret_cast<map_meta*>(reinterpret_cast<char*>(v.h) +
                                            round_up(sizeof(cell_header), alignof(map_meta)))),
          base(reinterpret_cast<char*>(v.h)) {
        if (repair_now && meta.dirty) repair();
    }
    u64 capacity() const noexcept { return h.count; }
    u32& bucket(u64 b) noexcept { return reinterpret_cast<u32*>(base + meta.buckets_off)[b]; }
    char* node(u32 i) noexcept { return base + meta.nodes_off + u64(i) * meta.node_size; }
    u32& next(u32 i) noexcept { return *reinterpret_cast<u32*>(node(i)); }
    u32& keylen(u32 i) noexcept { return *reinterpret_cast<u32*>(node(i) + 4); }
    char* key(u32 i) noexcept { return node(i) + 8; }
    void* value(u32 i) noexcept { return node(i) + meta.value_off; }
    std::string_view key_of(u32 i) noexcept { return {key(i), keylen(i)}; }

    static u64 hash(std::string_view k) noexcept {
        u64 x = 1469598103934665603ULL;  // FNV-1a
        for (unsigned char c : k) x = (x ^ c) * 1099511628211ULL;
        return x;
    }
    u32& chain(std::string_view k) noexcept { return bucket(hash(k) & (meta.nbuckets - 1)); }

    // The link that points at key's node (a bucket head or a next field), or
    // the chain's terminating link.
    u32* find_link(std::string_view k) noexcept {
        u32* link = &chain(k);
        while (*link != none && key_of(*link) != k) link = &next(*link);
        return link;
    }

    void repair() {
        std::vector<bool> used(capacity(), false);
        u64 n = 0;
        for (u64 b = 0; b < meta.nbuckets; ++b)
            for (u32 i = bucket(b); i != none; i = next(i)) {
                if (i >= capacity() || used[i]) throw std::runtime_error("conc::shared_map: damaged chain");
                used[i] = true;
                ++n;
            }
        u32 head = none;
        for (u64 i = capacity(); i-- > 0;)
            if (!used[i]) {
                next(u32(i)) = head;
                head = u32(i);
            }
        meta.free_head = head;
        meta.size = n;
        step();
        meta.dirty = 0;
    }
};

}  // namespace

std::size_t map_bytes(std::size_t capacity, std::size_t value_size, std::size_t value_align, std::size_t key_max) {
    return shape_of(capacity, value_size, value_align, key_max).bytes;
}

void map_init(void* cell, std::size_t capacity, std::size_t value_size, std::size_t value_align,
              std::size_t key_max) {
    map_shape s = shape_of(capacity, value_size, value_align, key_max);
    auto* h = ::new (cell) cell_header();
    auto* meta = ::new (static_cast<char*>(cell) + round_up(sizeof(cell_header), alignof(map_meta))) map_meta{};
    meta->key_max = key_max;
    meta->value_off = s.value_off;
    meta->node_size = s.node_size;
    meta->nbuckets = s.nbuckets;
    meta->buckets_off = s.buckets_off;
    meta->nodes_off = s.nodes_off;
    h->elem_size = value_size;
    h->count = capacity;
    map_view v{h};
    map_ref m{v, false};  // not shared yet
    for (u64 b = 0; b < s.nbuckets; ++b) m.bucket(b) = none;
    meta->dirty = 1;
    m.repair();  // every node on the free list
    h->magic = map_magic;
}

void map_check_key_max(map_view v, std::size_t key_max, std::size_t offset) {
    map_ref m{v, false};  // without the lock: key_max is written once, before the magic
    if (m.meta.key_max != key_max)
        throw std::invalid_argument("conc::shared_map: at offset " + std::to_string(offset) + " keys are up to " +
                                    std::to_string(m.meta.key_max) + " bytes, not " + std::to_string(key_max));
}

void* map_find(map_view v, std::string_view key) {
    map_ref m{v};
    if (key.size() > m.meta.key_max) return nullptr;
    u32 i = *m.find_link(key);
    return i == none ? nullptr : m.value(i);
}

void* map_slot(map_view v, std::string_view key, const void* init, bool* inserted) {
    map_ref m{v};
    if (key.size() > m.meta.key_max)
        throw std::invalid_argument("conc::shared_map: key of " + std::to_string(key.size()) +
                                    " bytes is longer than the " + std::to_string(m.meta.key_max) + " allowed");
    u32* link = m.find_link(key);
    if (*link != none) {
        if (inserted) *inserted = false;
        return m.value(*link);
    }
    if (m.meta.free_head == none)
        throw shared_map_full("conc::shared_map: full (capacity " + std::to_string(m.capacity()) + "), key '" +
                              std::string(key) + "' not added");
    u32 i = m.meta.free_head;
    m.meta.dirty = 1;
    step();
    m.meta.free_head = m.next(i);
    m.keylen(i) = u32(key.size());
    std::memcpy(m.key(i), key.data(), key.size());
    std::memcpy(m.value(i), init, m.h.elem_size);
    m.next(i) = none;  // *link is the chain's end
    step();
    *link = i;  // the commit
    step();
    ++m.meta.size;
    step();
    m.meta.dirty = 0;
    if (inserted) *inserted = true;
    return m.value(i);
}

bool map_erase(map_view v, std::string_view key) {
    map_ref m{v};
    if (key.size() > m.meta.key_max) return false;
    u32* link = m.find_link(key);
    u32 i = *link;
    if (i == none) return false;
    m.meta.dirty = 1;
    step();
    *link = m.next(i);  // the commit
    step();
    m.next(i) = m.meta.free_head;
    m.meta.free_head = i;
    --m.meta.size;
    step();
    m.meta.dirty = 0;
    return true;
}

void map_clear(map_view v) {
    map_ref m{v};
    m.meta.dirty = 1;
    step();
    for (u64 b = 0; b < m.meta.nbuckets; ++b) m.bucket(b) = none;
    m.repair();
}

std::size_t map_size(map_view v) { return std::size_t(map_ref{v}.meta.size); }

void map_for_each(map_view v, void (*fn)(void*, std::string_view, const void*), void* ctx) {
    map_ref m{v};
    for (u64 b = 0; b < m.meta.nbuckets; ++b)
        for (u32 i = m.bucket(b); i != none; i = m.next(i)) fn(ctx, m.key_of(i), m.value(i));
}

}  // namespace detail

}  // namespace conc
