// conc/detail/pool_wire.hpp: fork_pool's wire format between the parent and a
// worker.  Not part of the API; here so that fork_pool's inline imap and its
// implementation build and read frames the same way.
//
// Every frame is a u64 payload length, then the payload.  Integers are in the
// host's byte order: both ends are the same program on the same machine.
//
//     request payload:  u32 count, u64 call, u32 fn size, fn bytes,
//                       then count x (u32 length, bytes)
//     reply payload:    count x (u8 ok, u32 length, bytes)
//
// call 0 runs the pool's own function on each item's bytes.  Otherwise it
// is the address of a worker_call of this program (the same in a forked
// child), which gets the fn bytes (a trivially copyable callable, copied),
// one item's bytes (its argument, as codec<T> encodes it), and appends its
// result's encoding to the reply.  A reply item with ok == 0 carries the
// what() of the exception the call threw.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace conc::detail {

inline constexpr std::size_t wire_length_size = 8;                      // u64 payload length
inline constexpr std::size_t wire_request_header = wire_length_size + 4 + 8 + 4;  // and count, call, fn size
inline constexpr std::size_t wire_item_header = 4;                      // u32 length
inline constexpr std::size_t wire_result_header = 5;                    // u8 ok, u32 length

template <class T>
void wire_store(char* p, T v) noexcept {
    std::memcpy(p, &v, sizeof v);
}
template <class T>
T wire_load(const char* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// memcpy(d, s, n) without a call into libc for the short strings (up to 16
// bytes) that items and results mostly are: two overlapping fixed-size moves.
inline void copy_bytes(char* d, const char* s, std::size_t n) noexcept {
    if (n >= 8) {
        if (n > 16) {
            std::memcpy(d, s, n);
            return;
        }
        std::uint64_t a, b;
        std::memcpy(&a, s, 8);
        std::memcpy(&b, s + n - 8, 8);
        std::memcpy(d, &a, 8);
        std::memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        std::uint32_t a, b;
        std::memcpy(&a, s, 4);
        std::memcpy(&b, s + n - 4, 4);
        std::memcpy(d, &a, 4);
        std::memcpy(d + n - 4, &b, 4);
    } else if (n) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

// A typed call in the worker: fn's bytes, one item's bytes; sets out to the
// result's encoding (out is the worker's, reused from item to item).
using worker_call = void (*)(const char* fn, std::string_view item, std::string& out);

// Fills in the call fields of a request frame (call 0: the pool's function;
// fn_size bytes of the callable follow the header).
inline void wire_put_call(char* frame, worker_call call, std::uint32_t fn_size) noexcept {
    wire_store(frame + wire_length_size + 4, std::uint64_t(reinterpret_cast<std::uintptr_t>(call)));
    wire_store(frame + wire_length_size + 12, fn_size);
}

// Fills in the header of a request frame of `size` bytes in total.
inline void wire_finish_request(char* frame, std::size_t size, std::uint32_t count) noexcept {
    wire_store(frame, std::uint64_t(size - wire_length_size));
    wire_store(frame + wire_length_size, count);
}

// Writes one request item at d (wire_item_header + v.size() bytes); returns the end.
inline char* wire_put_item(char* d, std::string_view v) noexcept {
    wire_store(d, std::uint32_t(v.size()));
    copy_bytes(d + wire_item_header, v.data(), v.size());
    return d + wire_item_header + v.size();
}

// A whole request frame of one item.
inline std::string wire_request(std::string_view item) {
    std::string f(wire_request_header + wire_item_header + item.size(), '\0');
    wire_put_call(f.data(), nullptr, 0);
    wire_put_item(f.data() + wire_request_header, item);
    wire_finish_request(f.data(), f.size(), 1);
    return f;
}

// Writes one reply item at d (wire_result_header + r.size() bytes); returns the end.
inline char* wire_put_result(char* d, bool ok, std::string_view r) noexcept {
    d[0] = ok ? '\1' : '\0';
    wire_store(d + 1, std::uint32_t(r.size()));
    copy_bytes(d + wire_result_header, r.data(), r.size());
    return d + wire_result_header + r.size();
}

// One item of a reply payload, read at p.
struct wire_result {
    bool ok;
    std::uint32_t size;
    const char* data;
};
inline wire_result wire_get_result(const char* p) noexcept {
    return {*p != 0, wire_load<std::uint32_t>(p + 1), p + wire_result_header};
}

}  // namespace conc::detail
