// SpinLock and SpinLockGuard (libos/base/spinlock.h) with host threads standing in for CPUs:
// mutual exclusion, the interrupt state saved and restored, try_lock, "held by this CPU"
// (VERIFY_HELD), and taking a lock twice on one CPU ending with a VERIFY failure, not a hang.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/spinlock.h"

// What spinlock.h needs from the platform, per host thread (each thread is one "CPU").
namespace {
thread_local unsigned t_cpu;
thread_local bool t_interrupts = true;
}  // namespace

namespace xos::platform {
bool interrupts_enabled() { return t_interrupts; }
void interrupts_disable() { t_interrupts = false; }
void interrupts_enable() { t_interrupts = true; }
void cpu_relax(unsigned) { std::this_thread::yield(); }
void spin_wait(unsigned index, const uint32_t* word, uint32_t value) {
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) cpu_relax(index);
}
void spin_wake(const uint32_t*, uint32_t) {}
unsigned cpu_index_unlocked() { return t_cpu; }
}  // namespace xos::platform

namespace {

TEST(SpinLock, ExcludesOtherCpus) {
    xos::SpinLock lock;
    long counter = 0;  // a plain long: lost updates show if the lock does not exclude
    std::vector<std::thread> cpus;
    for (unsigned i = 0; i < 4; ++i)
        cpus.emplace_back([&, i] {
            t_cpu = i;
            for (int n = 0; n < 100000; ++n) {
                xos::SpinLockGuard guard(lock);
                counter = counter + 1;
            }
        });
    for (auto& cpu : cpus) cpu.join();
    EXPECT_EQ(counter, 400000);
}

TEST(SpinLock, GuardSavesAndRestoresInterruptState) {
    xos::SpinLock lock;
    t_interrupts = true;
    {
        xos::SpinLockGuard guard(lock);
        EXPECT_FALSE(t_interrupts);
        EXPECT_TRUE(lock.is_held());
    }
    EXPECT_TRUE(t_interrupts);
    t_interrupts = false;
    {
        xos::SpinLockGuard guard(lock);
        EXPECT_FALSE(t_interrupts);
    }
    EXPECT_FALSE(t_interrupts);  // was off before: stays off
    t_interrupts = true;
}

TEST(SpinLock, HeldOnlyByTheCpuThatTookIt) {
    xos::SpinLock lock;
    t_interrupts = false;
    EXPECT_FALSE(lock.is_held());
    lock.lock();
    VERIFY_HELD(lock);
    bool other_sees_held = true, other_got_it = true;
    std::thread([&] {
        t_cpu = 1;
        t_interrupts = false;
        other_sees_held = lock.is_held();
        other_got_it = lock.try_lock();
    }).join();
    EXPECT_FALSE(other_sees_held);
    EXPECT_FALSE(other_got_it);
    lock.unlock();
    EXPECT_FALSE(lock.is_held());
    EXPECT_TRUE(lock.try_lock());
    lock.unlock();
    t_interrupts = true;
}

TEST(SpinLock, ProtectedValueOnlyUnderItsLock) {
    xos::SpinLockProtected<long> total(0);
    std::vector<std::thread> cpus;
    for (unsigned i = 0; i < 2; ++i)
        cpus.emplace_back([&, i] {
            t_cpu = i;
            for (int n = 0; n < 50000; ++n) total.with([](long& value) { ++value; });
        });
    for (auto& cpu : cpus) cpu.join();
    EXPECT_EQ(total.with([](long& value) { return value; }), 100000);
}

TEST(SpinLockDeathTest, TakenTwiceOnOneCpuIsAVerifyFailure) {
    EXPECT_EXIT(
        {
            xos::SpinLock lock;
            t_interrupts = false;
            lock.lock();
            lock.lock();
        },
        testing::ExitedWithCode(134), "VERIFY failed");
}

TEST(SpinLockDeathTest, VerifyHeldFailsWhenNotHeld) {
    EXPECT_EXIT(
        {
            xos::SpinLock lock;
            VERIFY_HELD(lock);
        },
        testing::ExitedWithCode(134), "VERIFY failed");
}

}  // namespace
