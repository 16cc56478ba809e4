// Spinlocks (docs/locking.md): for short sections that never sleep, on any CPU, in thread or
// interrupt context. A SpinLock is a ticket lock (CPUs get it in the order they asked, as the
// big lock) that remembers the CPU holding it, so VERIFY_HELD can check it and taking it twice
// on one CPU is a clear panic, not a silent hang.
//
// Interrupts are off while a spinlock is held: an interrupt handler on the same CPU that wants
// the lock would otherwise spin forever. SpinLockGuard saves the interrupt state, turns
// interrupts off, takes the lock, and undoes both at the end of its scope; SpinLock::lock()
// itself requires interrupts off already (checked with ASSERT). A CPU waiting for a lock
// (platform::spin_wait) spins a bounded time, then gives its host CPU back until the release
// kicks it (the holder's vCPU may be preempted by the host), as the big lock's waiters do; it
// answers TLB shootdown requests meanwhile: the holder may be waiting for this CPU's flush.
#pragma once

#include <cstdint>

#include "base/thread_safety.h"
#include "base/verify.h"
#include "xos/platform.h"

namespace xos {

class CAPABILITY("spinlock") SpinLock {
public:
    constexpr SpinLock() = default;
    SpinLock(const SpinLock&) = delete;
    SpinLock& operator=(const SpinLock&) = delete;

    // Interrupts must be off (SpinLockGuard does that).
    void lock() ACQUIRE() {
        ASSERT(!platform::interrupts_enabled());
        unsigned self = platform::cpu_index_unlocked();
        VERIFY(__atomic_load_n(&m_owner, __ATOMIC_RELAXED) != self + 1);  // taken twice on this CPU
        uint32_t ticket = __atomic_fetch_add(&m_next, 1, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&m_serving, __ATOMIC_ACQUIRE) != ticket) platform::spin_wait(self, &m_serving, ticket);
        __atomic_store_n(&m_owner, self + 1, __ATOMIC_RELAXED);
    }

    bool try_lock() TRY_ACQUIRE(true) {
        ASSERT(!platform::interrupts_enabled());
        uint32_t serving = __atomic_load_n(&m_serving, __ATOMIC_RELAXED);
        uint32_t expected = serving;
        if (!__atomic_compare_exchange_n(&m_next, &expected, serving + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return false;
        __atomic_store_n(&m_owner, platform::cpu_index_unlocked() + 1, __ATOMIC_RELAXED);
        return true;
    }

    void unlock() RELEASE() {
        ASSERT(is_held());
        __atomic_store_n(&m_owner, 0u, __ATOMIC_RELAXED);
        // Only the holder writes m_serving: the next ticket's turn. Sequentially consistent (a
        // full barrier) before spin_wake looks for a waiter that gave its host CPU back.
        uint32_t next = m_serving + 1;
        __atomic_store_n(&m_serving, next, __ATOMIC_SEQ_CST);
        platform::spin_wake(&m_serving, next);
    }

    // True if this CPU holds the lock (with interrupts off, "this CPU" cannot change under the
    // caller; with them on the answer is still right for "held by me").
    bool is_held() const { return __atomic_load_n(&m_owner, __ATOMIC_RELAXED) == platform::cpu_index_unlocked() + 1; }
    // VERIFY_HELD(lock): checked when assertions are on (the tests); tells the analysis it is held.
    void assert_held() const ASSERT_CAPABILITY(this) { ASSERT(is_held()); }

private:
    uint32_t m_next = 0;
    uint32_t m_serving = 0;
    uint32_t m_owner = 0;  // the holder's CPU index + 1, 0 when free
};

// Holds `lock` for its scope with interrupts off; gives it back and restores the interrupt state.
class SCOPED_CAPABILITY SpinLockGuard {
public:
    explicit SpinLockGuard(SpinLock& lock) ACQUIRE(lock)
        : m_lock(lock), m_were_enabled(platform::interrupts_enabled()) {
        if (m_were_enabled) platform::interrupts_disable();
        m_lock.lock();
    }
    ~SpinLockGuard() RELEASE() {
        m_lock.unlock();
        if (m_were_enabled) platform::interrupts_enable();
    }
    SpinLockGuard(const SpinLockGuard&) = delete;
    SpinLockGuard& operator=(const SpinLockGuard&) = delete;

private:
    SpinLock& m_lock;
    bool m_were_enabled;
};

// Data reachable only under its spinlock (SerenityOS' SpinlockProtected):
// `counters.with([&](Counters& c) { ++c.faults; });`
template <typename T>
class SpinLockProtected {
public:
    template <typename... Args>
    constexpr explicit SpinLockProtected(Args&&... args) : m_value(static_cast<Args&&>(args)...) {}

    template <typename Fn>
    decltype(auto) with(Fn&& fn) {
        SpinLockGuard guard(m_lock);
        return fn(m_value);
    }

private:
    SpinLock m_lock;
    T m_value GUARDED_BY(m_lock);
};

}  // namespace xos
