// Criterion helpers for tests whose bodies hold coroutines.
//
// g++ 12 has two bugs here: a coroutine lambda inside an extern "C" function
// (which Criterion's Test() defines) gets clashing symbols, and Criterion's
// cr_assert macros do not compile inside a coroutine.  CORO_TEST puts the
// body in an ordinary C++ function; CHECK/CHECK_EQ work anywhere.
#pragma once
#include <criterion/criterion.h>

#define CORO_TEST(suite, name, ...)              \
    static void suite##_##name##_body();         \
    Test(suite, name, ##__VA_ARGS__) { suite##_##name##_body(); } \
    static void suite##_##name##_body()

inline void coro_check(bool ok, const char* expr, const char* file, int line) {
    cr_assert(ok, "%s:%d: %s", file, line, expr);
}
#define CHECK(c) coro_check(bool(c), #c, __FILE__, __LINE__)
#define CHECK_EQ(a, b) coro_check((a) == (b), #a " == " #b, __FILE__, __LINE__)
