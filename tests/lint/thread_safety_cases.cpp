// Cases for clang's thread-safety analysis as libos builds with it (tests/lint/meson.build):
// compiled once per CASE; "good" must compile, every other case must fail with a
// -Wthread-safety error, so the check cannot be silently off.
#include "base/spinlock.h"

namespace {

struct Counters {
    xos::SpinLock lock;
    long hits GUARDED_BY(lock) = 0;
    void bump() REQUIRES(lock) { ++hits; }
};

Counters g_counters;

#if CASE_good
[[maybe_unused]] void good() {
    xos::SpinLockGuard guard(g_counters.lock);
    ++g_counters.hits;
    g_counters.bump();
}
[[maybe_unused]] void good_verified() REQUIRES(g_counters.lock) { g_counters.bump(); }
#elif CASE_unguarded_write
[[maybe_unused]] void bad() { ++g_counters.hits; }
#elif CASE_missing_requires
[[maybe_unused]] void bad() { g_counters.bump(); }
#elif CASE_not_released
[[maybe_unused]] void bad() {
    g_counters.lock.lock();
    ++g_counters.hits;
}
#elif CASE_released_twice
[[maybe_unused]] void bad() {
    g_counters.lock.lock();
    g_counters.lock.unlock();
    g_counters.lock.unlock();
}
#else
#error "no CASE_ given"
#endif

}  // namespace
