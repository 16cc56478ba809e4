// What libos' locks (base/spinlock.h) need from the platform, for host test
// programs that run libos' portable code on one thread (the unit tests have their own, per
// thread, in tests/unit/spinlock_test.cpp).
#include <cstdint>

namespace xos::platform {
namespace {
thread_local bool t_interrupts = true;
}  // namespace
bool interrupts_enabled() { return t_interrupts; }
void interrupts_disable() { t_interrupts = false; }
void interrupts_enable() { t_interrupts = true; }
void cpu_relax(unsigned) {}
void spin_wait(unsigned, const uint32_t* word, uint32_t value) {
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) {}
}
void spin_wake(const uint32_t*, uint32_t) {}
unsigned cpu_index_unlocked() { return 0; }
}  // namespace xos::platform
