// Per-object locks of the I/O subsystems (fd tables, pipes, eventfds; docs/locking.md "I/O
// objects"). A stopgap until the shared lock primitives are merged (issue 17, branch smp-core:
// base/spinlock.h SpinLock/SpinLockGuard, sched/mutex.h Mutex/MutexLocker): these classes have
// their shape (lock()/unlock(), scoped guards), so switching is a change of this header.
//
// IoSpinLock: a test-and-set spinlock that disables interrupts on this CPU while held (so an
// interrupt handler taking it cannot deadlock against the code it interrupted) and answers TLB
// shootdowns while it spins. Held for short sections that never block, never fault on app
// memory and never drop the last reference of an object whose destructor takes other locks.
//
// wait_event_locked(): the check-then-sleep of a waiter under its object's lock. The condition
// is checked with the lock held; the lock is let go only to block, with interrupts still off,
// and taken again before the next check, so a waker that changes the state under the same lock
// and then wakes the queue cannot slip between the check and the sleep on this CPU. Across CPUs
// that needs the scheduler to put the thread on the queue before the lock is released (today
// the big lock, held around both, gives that; smp-core's block_current_unlocking() is the
// replacement for the unlock + block_current pair below).
#pragma once

#include "base/error.h"
#include "base/verify.h"
#include "sched/wait_queue.h"
#include "xos/platform.h"

namespace xos::vfs {

class IoSpinLock {
public:
    IoSpinLock() = default;
    IoSpinLock(const IoSpinLock&) = delete;
    IoSpinLock& operator=(const IoSpinLock&) = delete;

    // Interrupts must be off (IoLockGuard turns them off and restores them).
    void lock() {
        ASSERT(!platform::interrupts_enabled());
        while (__atomic_exchange_n(&m_locked, true, __ATOMIC_ACQUIRE))
            while (__atomic_load_n(&m_locked, __ATOMIC_RELAXED)) platform::cpu_relax(platform::cpu_index_unlocked());
    }
    void unlock() {
        VERIFY(is_locked());
        __atomic_store_n(&m_locked, false, __ATOMIC_RELEASE);
    }
    bool is_locked() const { return __atomic_load_n(&m_locked, __ATOMIC_RELAXED); }

private:
    bool m_locked = false;
};

// Holds an IoSpinLock for a scope, with interrupts off; restores the interrupt state after.
class IoLockGuard {
public:
    explicit IoLockGuard(IoSpinLock& lock) : m_lock(lock), m_interrupts_were_enabled(platform::interrupts_enabled()) {
        platform::interrupts_disable();
        m_lock.lock();
    }
    ~IoLockGuard() {
        m_lock.unlock();
        if (m_interrupts_were_enabled) platform::interrupts_enable();
    }
    IoLockGuard(const IoLockGuard&) = delete;
    IoLockGuard& operator=(const IoLockGuard&) = delete;

private:
    IoSpinLock& m_lock;
    bool m_interrupts_were_enabled;
};

// Blocks until ready() holds (Ok), the deadline passes (ETIMEDOUT) or, if interruptible, a
// signal must be handled (EINTR). Call with `lock` held (an IoLockGuard); returns with it held. ready() runs with it held.
template <typename Predicate>
ErrorOr<void> wait_event_locked(sched::WaitQueue& queue, IoSpinLock& lock, Predicate&& ready,
                                sched::Deadline deadline = sched::Deadline::never(),
                                sched::Interruptible interruptible = sched::Interruptible::Yes) {
    ASSERT(!sched::in_interrupt());
    VERIFY(lock.is_locked());
    for (;;) {
        if (ready()) return {};
        if (interruptible == sched::Interruptible::Yes && sched::signal_interrupts_current()) return error(EINTR);
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return error(ETIMEDOUT);
        lock.unlock();  // interrupts stay off until block_current has queued this thread
        auto result = sched::block_current(&queue, deadline, interruptible);
        lock.lock();
        if (!result && result.error().code == EINTR) return result;
    }
}

// A sleeping lock for sections that copy to or from app memory (which may fault and block) or
// wait: pipe buffers. Owned by a thread; not recursive; not for interrupt handlers.
class IoMutex {
public:
    IoMutex() = default;
    IoMutex(const IoMutex&) = delete;
    IoMutex& operator=(const IoMutex&) = delete;

    void lock() {
        IoLockGuard guard(m_spin);
        sched::Thread* self = owner_id();
        VERIFY(m_owner != self);  // not recursive
        (void)wait_event_locked(
            m_waiters, m_spin, [&] { return m_owner == nullptr; }, sched::Deadline::never(), sched::Interruptible::No);
        m_owner = self;
    }
    void unlock() {
        IoLockGuard guard(m_spin);
        VERIFY(m_owner == owner_id());
        m_owner = nullptr;
        sched::wake_one(m_waiters);
    }
    bool is_held() const { return __atomic_load_n(&m_owner, __ATOMIC_RELAXED) == owner_id(); }

    // Blocks on `queue` until ready() holds (as wait_event_locked), with this mutex held around
    // every check and let go across the sleep. Wakers change what ready() reads under this mutex.
    template <typename Predicate>
    ErrorOr<void> wait(sched::WaitQueue& queue, Predicate&& ready) {
        VERIFY(is_held());
        for (;;) {
            if (ready()) return {};
            IoLockGuard guard(m_spin);
            if (sched::signal_interrupts_current()) return error(EINTR);
            // Give the mutex up and sleep without letting interrupts in between (with the big
            // lock held no other CPU runs here: docs/locking.md "I/O objects").
            m_owner = nullptr;
            sched::wake_one(m_waiters);
            m_spin.unlock();
            auto result = sched::block_current(&queue, sched::Deadline::never(), sched::Interruptible::Yes);
            m_spin.lock();
            (void)wait_event_locked(
                m_waiters, m_spin, [&] { return m_owner == nullptr; }, sched::Deadline::never(),
                sched::Interruptible::No);
            m_owner = owner_id();
            if (!result && result.error().code == EINTR) return result;
        }
    }

private:
    // The holder: the current thread, or a stand-in before the scheduler runs (the boot flow
    // unpacking the root file system; nothing else runs then, so it never waits).
    static sched::Thread* owner_id() {
        sched::Thread* thread = sched::current_or_null();
        return thread ? thread : reinterpret_cast<sched::Thread*>(uintptr_t(1));
    }

    IoSpinLock m_spin;  // guards m_owner and m_waiters
    sched::Thread* m_owner = nullptr;
    sched::WaitQueue m_waiters;
};

// Holds an IoMutex for a scope.
class IoMutexGuard {
public:
    explicit IoMutexGuard(IoMutex& mutex) : m_mutex(mutex) { m_mutex.lock(); }
    ~IoMutexGuard() { m_mutex.unlock(); }
    IoMutexGuard(const IoMutexGuard&) = delete;
    IoMutexGuard& operator=(const IoMutexGuard&) = delete;

private:
    IoMutex& m_mutex;
};

}  // namespace xos::vfs
