// The sleeping mutex (mutex.h).
#include "sched/mutex.h"

namespace xos::sched {

namespace {

// Who takes a mutex: the current thread, or, before the first thread exists, the boot flow (the
// only flow there is then: libos's set-up writing files, xos.file=), which never has to wait.
Thread* const BOOT_FLOW = reinterpret_cast<Thread*>(alignof(Thread));
Thread* holder() {
    Thread* self = current_or_null();
    return self ? self : BOOT_FLOW;
}

}  // namespace

void Mutex::lock() {
    ASSERT(!in_interrupt());
    Thread* self = holder();
    platform::InterruptGuard interrupts;
    m_lock.lock();
    while (m_owner) {
        VERIFY(m_owner != self);  // not recursive
        VERIFY(self != BOOT_FLOW);  // nothing else runs before the first thread
        // Queued under m_lock, so an unlock() on another CPU cannot miss this waiter.
        (void)block_current_unlocking(&m_waiters, m_lock, Deadline::never(), Interruptible::No);
        m_lock.lock();
    }
    m_owner = self;
    m_lock.unlock();
}

bool Mutex::try_lock() {
    ASSERT(!in_interrupt());
    SpinLockGuard guard(m_lock);
    if (m_owner) return false;
    m_owner = holder();
    return true;
}

void Mutex::unlock() {
    {
        SpinLockGuard guard(m_lock);
        VERIFY(m_owner == holder());  // only the holder gives it back
        m_owner = nullptr;
    }
    // The wake-up (and its reschedule IPI) after m_lock is let go: a locker that queued itself
    // under m_lock before is woken here; one that comes after finds m_owner clear. An IPI is an
    // APIC write, under QEMU's MTTCG a trip through its global lock: lockers on the other CPU
    // must not spin on m_lock meanwhile.
    wake_one(m_waiters);
}

ErrorOr<void> Mutex::unlock_and_block(WaitQueue& queue, Deadline deadline, Interruptible interruptible) {
    ASSERT(!in_interrupt());
    platform::InterruptGuard interrupts;
    m_lock.lock();
    VERIFY(m_owner == current_or_null());  // only the holder waits (a thread)
    m_owner = nullptr;
    // Queued on `queue` under m_lock, then m_lock let go, then a locker woken (as unlock():
    // not with m_lock held, so lockers on other CPUs do not spin on it during the IPI).
    return block_current_unlocking_and_wake_one(&queue, m_lock, deadline, interruptible, m_waiters);
}

// A racy read is enough: the answer concerns the current thread, which is the only one that
// makes it true or false.
bool Mutex::is_held() const NO_THREAD_SAFETY_ANALYSIS {
    return __atomic_load_n(&m_owner, __ATOMIC_RELAXED) == holder();
}

}  // namespace xos::sched
