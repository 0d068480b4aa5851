// Linked into the unit tests only by `make tsan` (Criterion issue #274).
//
// Criterion's sandbox (BoxFort) maps its inheritable arena with MAP_FIXED at
// 0x2000'0000'0000 + (rand_r() & 0x3fffff) * 16 MiB, retrying a few times.
// Under ThreadSanitizer nearly all of that span is TSan's shadow or protected
// memory; only the "mid" application range 0x5500'0000'0000-0x5680'0000'0000
// is mappable, so Criterion usually gives up ("Could not initialize
// inheritable arena"), or crashes when its second arena fails.  This rand_r,
// interposed over libc's for the test executable, picks slots in
// 0x5660'0000'0000-0x5680'0000'0000: inside that range, and above where
// the kernel puts a PIE executable and its brk heap (below 0x5656'0000'0000),
// which matters because each test runs in a re-executed copy that maps the
// arena at the same address.  Nothing in libconc or its tests calls rand_r.
#include <cstdlib>

extern "C" int rand_r(unsigned int* seed) noexcept {
    constexpr unsigned first = 0x366000, slots = 0x2000;  // 16 MiB slots
    unsigned s = *seed = *seed * 1103515245u + 12345u;
    return int(first + (s >> 8) % slots);
}
