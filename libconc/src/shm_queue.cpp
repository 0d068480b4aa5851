// conc/shm_queue.cpp: the cross-process named queue (stub: the API compiles and
// links; the implementation follows).
#include "conc/shm_queue.hpp"

#include <stdexcept>

namespace conc {

namespace {
[[noreturn]] void not_yet() { throw std::logic_error("conc::shm_queue: not implemented yet"); }
}  // namespace

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

std::string shm_queue::name_error(std::string_view) { not_yet(); }
bool shm_queue::is_path(std::string_view name) noexcept {
    return name.starts_with('/') || name.starts_with("./");
}
shm_queue::shm_queue(std::string, open_mode, const queue_options&) { not_yet(); }
shm_queue shm_queue::create(std::string, const queue_options&) { not_yet(); }
shm_queue shm_queue::open(std::string) { not_yet(); }
shm_queue shm_queue::open_or_create(std::string, const queue_options&) { not_yet(); }
shm_queue::shm_queue(shm_queue&&) noexcept = default;
shm_queue& shm_queue::operator=(shm_queue&&) noexcept = default;
shm_queue::~shm_queue() = default;
queue_status shm_queue::put(std::string_view, std::int64_t) { not_yet(); }
queue_status shm_queue::try_put(std::string_view, std::int64_t) { not_yet(); }
queue_status shm_queue::get(std::string&, std::int64_t*) { not_yet(); }
queue_status shm_queue::try_get(std::string&, std::int64_t*) { not_yet(); }
queue_status shm_queue::put_one(std::string_view, std::int64_t, const nanoseconds*) { not_yet(); }
queue_status shm_queue::get_one(std::string&, std::int64_t*, const nanoseconds*) { not_yet(); }
batch_result shm_queue::put_many(const item_batch&, std::optional<nanoseconds>) { not_yet(); }
batch_result shm_queue::put_many(std::span<const std::string_view>, std::int64_t, std::optional<nanoseconds>) { not_yet(); }
batch_result shm_queue::get_many(item_batch&, std::size_t, std::optional<nanoseconds>, std::size_t) { not_yet(); }
queue_status shm_queue::unget(std::string_view, std::int64_t, std::optional<nanoseconds>) { not_yet(); }
queue_status shm_queue::unget_many(const item_batch&, std::size_t, std::optional<nanoseconds>) { not_yet(); }
bool shm_queue::close() { not_yet(); }
bool shm_queue::closed() const { not_yet(); }
queue_status shm_queue::task_done(std::uint64_t) { not_yet(); }
queue_status shm_queue::join() { not_yet(); }
queue_status shm_queue::join_ns(const nanoseconds*) { not_yet(); }
std::uint64_t shm_queue::size() const { not_yet(); }
bool shm_queue::empty() const { not_yet(); }
bool shm_queue::full() const { not_yet(); }
queue_stats shm_queue::stats() const { not_yet(); }
std::string shm_queue::check() const { not_yet(); }
bool shm_queue::remove(const std::string&) { not_yet(); }
std::vector<std::string> shm_queue::list() { not_yet(); }

}  // namespace conc
