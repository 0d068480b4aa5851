// conc/codec.hpp: values to bytes and back, for messages between processes.
//
// What pickle is to Python's Connection.send/recv, for C++ types known at
// compile time.  codec<T> has two static functions:
//
//     static void encode(const T& v, std::string& out);   // appends v's bytes to out
//     static T decode(std::string_view& in);               // reads a T from the front of in
//                                                          // and removes what it read
//
// Built in: every trivially copyable type (int, double, enums, std::array of
// them, plain structs: their bytes as they are in memory), std::string,
// std::vector, std::pair and std::tuple of encodable types, recursively
// (std::vector<std::pair<std::string, std::vector<int>>> works).  A string
// or vector is a u64 length, then its elements.  Specialise conc::codec for
// your own types:
//
//     struct point { std::string name; double x, y; };
//     template <> struct conc::codec<point> {
//         static void encode(const point& p, std::string& out) {
//             conc::encode(p.name, out);
//             conc::encode(p.x, out);
//             conc::encode(p.y, out);
//         }
//         static point decode(std::string_view& in) {
//             return point{conc::codec<std::string>::decode(in),   // braces: read in order
//                          conc::codec<double>::decode(in), conc::codec<double>::decode(in)};
//         }
//     };
//
// The bytes are the host's: they are meant for processes of one program on
// one machine (a forked child and its parent), not for files or networks.
// Pointers and string_views have no built-in codec (their address would
// travel, not what they point to); a struct holding pointers is encoded as
// its bytes all the same, which is the user's to judge.
//
// decode() throws conc::decode_error when the bytes run out before the value
// is complete; conc::decode() also when bytes are left over after it.
#pragma once
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace conc {

// The bytes do not hold a whole value of the type asked for (or hold more).
class decode_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Specialise for your own types (a full specialisation wins over the
// built-in one for trivially copyable types).
template <class T>
struct codec;

// T has a codec: codec<T>::encode and codec<T>::decode as above.
template <class T>
concept encodable = requires(const T& v, std::string& out, std::string_view& in) {
    codec<T>::encode(v, out);
    { codec<T>::decode(in) } -> std::same_as<T>;
};

namespace detail {

inline void codec_need(const std::string_view& in, std::size_t n) {
    if (in.size() < n)
        throw decode_error("conc::codec: " + std::to_string(in.size()) + " bytes left where " +
                           std::to_string(n) + " are needed");
}

// A length that the bytes left cannot hold (n elements of size bytes each).
inline void codec_need(const std::string_view& in, std::uint64_t n, std::size_t size) {
    if (n > in.size() / size)
        throw decode_error("conc::codec: " + std::to_string(in.size()) + " bytes left where " + std::to_string(n) +
                           (size == 1 ? "" : " elements of " + std::to_string(size) + " bytes") + " are needed");
}

template <class T>
struct is_string_view : std::false_type {};
template <class C, class Tr>
struct is_string_view<std::basic_string_view<C, Tr>> : std::true_type {};

// Types encoded as their bytes.  Not a C array: send a std::array, or a
// std::vector.
template <class T>
concept codec_raw = std::is_trivially_copyable_v<T> && !std::is_array_v<T> && !std::is_pointer_v<T> &&
                    !std::is_member_pointer_v<T> && !is_string_view<T>::value;

// Elements that travel as one block of memory: the built-in codec of a
// trivially copyable type (not a user's specialisation), and not bool
// (vector<bool> has no data()).
template <class T>
concept codec_bulk = requires { codec<T>::raw_bytes; } && !std::is_same_v<T, bool>;

}  // namespace detail

template <class T>
    requires detail::codec_raw<T>
struct codec<T> {
    static constexpr bool raw_bytes = true;
    static void encode(const T& v, std::string& out) {
        out.append(reinterpret_cast<const char*>(std::addressof(v)), sizeof(T));
    }
    static T decode(std::string_view& in) {
        detail::codec_need(in, sizeof(T));
        std::array<char, sizeof(T)> raw;   // no default constructor needed
        std::memcpy(raw.data(), in.data(), sizeof(T));
        in.remove_prefix(sizeof(T));
        return std::bit_cast<T>(raw);
    }
};

template <class C, class Tr, class A>
struct codec<std::basic_string<C, Tr, A>> {
    using string = std::basic_string<C, Tr, A>;
    static void encode(const string& s, std::string& out) {
        codec<std::uint64_t>::encode(s.size(), out);
        out.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(C));
    }
    static string decode(std::string_view& in) {
        auto n = codec<std::uint64_t>::decode(in);
        detail::codec_need(in, n, sizeof(C));
        string s(std::size_t(n), C{});
        if (n) std::memcpy(s.data(), in.data(), n * sizeof(C));
        in.remove_prefix(n * sizeof(C));
        return s;
    }
};

template <class T, class A>
    requires encodable<T>
struct codec<std::vector<T, A>> {
    static void encode(const std::vector<T, A>& v, std::string& out) {
        codec<std::uint64_t>::encode(v.size(), out);
        if constexpr (detail::codec_bulk<T>) {
            if (!v.empty()) out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
        } else
            for (auto&& e : v) codec<T>::encode(e, out);
    }
    static std::vector<T, A> decode(std::string_view& in) {
        auto n = codec<std::uint64_t>::decode(in);
        std::vector<T, A> v;
        if constexpr (detail::codec_bulk<T> && std::is_default_constructible_v<T>) {
            detail::codec_need(in, n, sizeof(T));
            v.resize(std::size_t(n));
            if (n) std::memcpy(static_cast<void*>(v.data()), in.data(), n * sizeof(T));
            in.remove_prefix(n * sizeof(T));
        } else {
            v.reserve(std::size_t(std::min<std::uint64_t>(n, in.size())));   // a bad count cannot reserve much
            for (std::uint64_t i = 0; i < n; ++i) v.push_back(codec<T>::decode(in));
        }
        return v;
    }
};

template <class A, class B>
    requires encodable<A> && encodable<B>
struct codec<std::pair<A, B>> {
    static void encode(const std::pair<A, B>& p, std::string& out) {
        codec<A>::encode(p.first, out);
        codec<B>::encode(p.second, out);
    }
    static std::pair<A, B> decode(std::string_view& in) {
        return std::pair<A, B>{codec<A>::decode(in), codec<B>::decode(in)};   // braces: in order
    }
};

template <class... Ts>
    requires(encodable<Ts> && ...)
struct codec<std::tuple<Ts...>> {
    static void encode(const std::tuple<Ts...>& t, std::string& out) {
        std::apply([&out](const Ts&... e) { (codec<Ts>::encode(e, out), ...); }, t);
    }
    static std::tuple<Ts...> decode(std::string_view& in) {
        (void)in;   // unused for tuple<>
        return std::tuple<Ts...>{codec<Ts>::decode(in)...};   // braces: in order
    }
};

// Appends v's encoding to out.
template <encodable T>
void encode(const T& v, std::string& out) {
    codec<T>::encode(v, out);
}

// v's encoding.
template <encodable T>
std::string encode(const T& v) {
    std::string out;
    codec<T>::encode(v, out);
    return out;
}

// The T that bytes hold, all of them; throws decode_error if they hold less, or more.
template <encodable T>
T decode(std::string_view bytes) {
    T v = codec<T>::decode(bytes);
    if (!bytes.empty())
        throw decode_error("conc::codec: " + std::to_string(bytes.size()) + " bytes left over after the value");
    return v;
}

}  // namespace conc
