#include <criterion/criterion.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "conc/codec.hpp"
#include "ipc_support.hpp"

using namespace conc;
using ipc::colour;
using ipc::person;
using ipc::sample;

namespace {

struct no_default {   // trivially copyable without a default constructor
    explicit no_default(int v) : v(v) {}
    int v;
};

// A trivially copyable type whose user codec must win over the built-in one,
// in a vector too (no bulk copy behind the user's back).
struct celsius {
    double degrees;
};

template <class T>
T round_trip(const T& v) {
    return decode<T>(encode(v));
}

}  // namespace

template <>
struct conc::codec<celsius> {   // as text, to be told apart from the raw bytes
    static void encode(const celsius& c, std::string& out) { conc::encode(std::to_string(int(c.degrees)), out); }
    static celsius decode(std::string_view& in) { return celsius{double(std::stoi(codec<std::string>::decode(in)))}; }
};

static_assert(encodable<int> && encodable<double> && encodable<colour> && encodable<sample>);
static_assert(encodable<std::array<int, 3>> && encodable<no_default>);
static_assert(encodable<std::string> && encodable<std::vector<std::string>>);
static_assert(encodable<std::tuple<>> && encodable<std::tuple<int, std::string, std::vector<double>>>);
static_assert(encodable<std::vector<std::pair<std::string, std::vector<std::tuple<int, std::string>>>>>);
static_assert(encodable<person> && encodable<std::vector<person>>);
// An address would travel, not what it points to.
static_assert(!encodable<int*> && !encodable<const char*> && !encodable<std::string_view>);
static_assert(!encodable<char[4]> && !encodable<std::vector<int*>> && !encodable<std::pair<int, int*>>);

Test(codec, trivially_copyable_values_round_trip_as_their_bytes) {
    cr_assert_eq(round_trip(42), 42);
    cr_assert_eq(round_trip(std::numeric_limits<std::int64_t>::min()), std::numeric_limits<std::int64_t>::min());
    cr_assert_eq(round_trip(-0.125), -0.125);
    cr_assert_eq(round_trip('x'), 'x');
    cr_assert(round_trip(true));
    cr_assert(round_trip(colour::blue) == colour::blue);
    sample s{7, 2.5, colour::green};
    cr_assert(round_trip(s) == s);
    cr_assert_eq(encode(s).size(), sizeof(sample));
    cr_assert_eq(encode(std::uint16_t(1)).size(), 2u);
    cr_assert(round_trip(std::array<int, 3>{1, 2, 3}) == (std::array<int, 3>{1, 2, 3}));
    cr_assert_eq(round_trip(no_default(5)).v, 5);
}

Test(codec, strings_keep_every_byte_and_their_length) {
    std::string with_nul("a\0b\xff", 4);
    cr_assert_eq(round_trip(with_nul), with_nul);
    cr_assert_eq(round_trip(std::string()), std::string());
    std::string big(3 << 20, 'q');
    cr_assert_eq(round_trip(big), big);
    cr_assert_eq(encode(std::string("abc")).size(), 8u + 3u);   // u64 length, then the bytes
}

Test(codec, vectors_of_every_kind_round_trip) {
    std::vector<int> ints{1, -2, 3};
    cr_assert(round_trip(ints) == ints);
    cr_assert_eq(encode(ints).size(), 8u + 3 * sizeof(int));
    cr_assert(round_trip(std::vector<double>{}).empty());
    std::vector<std::string> strs{"", "one", std::string(100000, 'z')};
    cr_assert(round_trip(strs) == strs);
    std::vector<bool> bits{true, false, false, true, true};
    cr_assert(round_trip(bits) == bits);
    std::vector<std::vector<int>> nested{{}, {1}, {2, 3}};
    cr_assert(round_trip(nested) == nested);
    std::vector<sample> samples{{1, 1.5, colour::red}, {2, 2.5, colour::blue}};
    cr_assert(round_trip(samples) == samples);
    std::vector<no_default> nd{no_default(1), no_default(2)};
    auto nd2 = round_trip(nd);
    cr_assert(nd2.size() == 2 && nd2[0].v == 1 && nd2[1].v == 2);
}

Test(codec, pairs_and_tuples_nest_in_order) {
    cr_assert(round_trip(std::pair<int, std::string>{3, "three"}) == (std::pair<int, std::string>{3, "three"}));
    cr_assert(round_trip(std::tuple<>{}) == std::tuple<>{});
    cr_assert_eq(encode(std::tuple<>{}).size(), 0u);
    using deep = std::tuple<char, std::vector<std::pair<std::string, std::vector<std::tuple<int, std::string>>>>,
                            std::pair<double, std::vector<bool>>>;
    deep d{'k', {{"a", {{1, "x"}, {2, ""}}}, {"", {}}}, {0.5, {true}}};
    cr_assert(round_trip(d) == d);
    // Fields are written in order: an int then a string.
    std::string b = encode(std::make_tuple(1, std::string("z")));
    cr_assert_eq(b.size(), sizeof(int) + 8 + 1);
    cr_assert_eq(b.back(), 'z');
}

Test(codec, a_user_specialisation_is_used_alone_and_inside_containers) {
    person p{"ada", {90, 85}};
    cr_assert(round_trip(p) == p);
    std::vector<person> people{p, {"", {}}};
    cr_assert(round_trip(people) == people);
    auto t = round_trip(std::make_tuple(p, 4));
    cr_assert(std::get<0>(t) == p && std::get<1>(t) == 4);
    // celsius is trivially copyable, yet its own codec (text) is used, in a vector too.
    std::string one = encode(celsius{21});
    cr_assert_eq(one, encode(std::string("21")));
    std::vector<celsius> temps{{-5}, {30}};
    auto back = round_trip(temps);
    cr_assert(back.size() == 2 && back[0].degrees == -5 && back[1].degrees == 30);
    cr_assert_eq(encode(temps), encode(std::uint64_t(2)) + encode(std::string("-5")) + encode(std::string("30")));
}

Test(codec, encode_appends_and_codec_decode_consumes_from_the_front) {
    std::string out = "head";
    encode(std::string("x"), out);
    encode(7, out);
    cr_assert_eq(out.substr(0, 4), std::string("head"));
    std::string_view in(out);
    in.remove_prefix(4);
    cr_assert_eq(codec<std::string>::decode(in), std::string("x"));
    cr_assert_eq(codec<int>::decode(in), 7);
    cr_assert(in.empty());
}

Test(codec, too_few_or_too_many_bytes_are_a_decode_error) {
    cr_assert_throw(decode<int>(std::string("abc")), decode_error);
    cr_assert_throw(decode<int>(std::string("abcde")), decode_error);   // one byte left over
    std::string s = encode(std::string("hello"));
    cr_assert_throw(decode<std::string>(s.substr(0, s.size() - 1)), decode_error);
    cr_assert_throw(decode<std::string>(s.substr(0, 4)), decode_error);   // half a length
    // A count far beyond the bytes there: an error, not a huge allocation.
    std::string lie = encode(std::uint64_t(1) << 60);
    cr_assert_throw(decode<std::vector<int>>(lie), decode_error);
    cr_assert_throw(decode<std::vector<std::string>>(lie), decode_error);
    cr_assert_throw(decode<std::string>(lie), decode_error);
    try {
        decode<std::vector<int>>(encode(std::uint64_t(3)) + "abcd");
        cr_assert_fail("decoded 3 ints from 4 bytes");
    } catch (const decode_error& e) {
        cr_assert_str_eq(e.what(), "conc::codec: 4 bytes left where 3 elements of 4 bytes are needed");
    }
    try {
        decode<std::string>(encode(std::uint64_t(5)) + "abcd");
        cr_assert_fail("decoded 5 chars from 4 bytes");
    } catch (const decode_error& e) {
        cr_assert_str_eq(e.what(), "conc::codec: 4 bytes left where 5 are needed");
    }
    try {
        decode<std::uint64_t>(std::string("1234"));
        cr_assert_fail("decoded 8 bytes from 4");
    } catch (const decode_error& e) {
        cr_assert_str_eq(e.what(), "conc::codec: 4 bytes left where 8 are needed");
    }
}
