// conc/shm.cpp: POSIX and System V shared memory, mapped files.
#include "conc/shm.hpp"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

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
    for (;;) {
        if (how != open_mode::open_existing) {
            fd.reset(shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode));
            if (fd) {
                created_ = true;
                break;
            }
            if (errno != EEXIST || how == open_mode::create_exclusive)
                throw sys_error(errno, "shm_open " + what);
        }
        fd.reset(shm_open(name_.c_str(), O_RDWR | O_CLOEXEC, 0));
        if (fd) break;
        // create_or_open: unlinked between our two tries; go round.
        if (errno != ENOENT || how == open_mode::open_existing) throw sys_error(errno, "shm_open " + what);
    }
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
namespace {
std::string shm_key_text(ipc_key key) {
    if (key.is_private()) return "IPC_PRIVATE";
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%08x", unsigned(key.value));
    return buf;
}
}  // namespace

sysv_shm::sysv_shm(ipc_key key, std::size_t size, open_mode how, mode_t mode) {
    const std::string doing = "shmget key " + shm_key_text(key);
    const int perms = int(mode & 0777);
    if (key.is_private()) how = open_mode::create_exclusive;
    for (;;) {
        if (how != open_mode::open_existing) {
            id_ = shmget(key.value, size, IPC_CREAT | IPC_EXCL | perms);
            if (id_ != -1) {
                created_ = true;
                break;
            }
            if (errno != EEXIST || how == open_mode::create_exclusive) throw sys_error(errno, doing);
        }
        id_ = shmget(key.value, 0, 0);
        if (id_ != -1) break;
        if (errno != ENOENT || how == open_mode::open_existing) throw sys_error(errno, doing);
    }
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
    for (;;) {
        if (how != open_mode::open_existing) {
            fd.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode));
            if (fd) {
                created_ = true;
                break;
            }
            if (errno != EEXIST || how == open_mode::create_exclusive) throw sys_error(errno, "open " + what);
        }
        fd.reset(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
        if (fd) break;
        if (errno != ENOENT || how == open_mode::open_existing) throw sys_error(errno, "open " + what);
    }
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

}  // namespace conc
