// The sleeping mutex (mutex.h).
#include "sched/mutex.h"

namespace xos::sched {

void Mutex::lock() {
    ASSERT(!in_interrupt());
    Thread* self = &current();
    platform::InterruptGuard interrupts;
    m_lock.lock();
    while (m_owner) {
        VERIFY(m_owner != self);  // not recursive
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
    m_owner = &current();
    return true;
}

void Mutex::unlock() {
    SpinLockGuard guard(m_lock);
    VERIFY(m_owner == current_or_null());  // only the holder gives it back
    m_owner = nullptr;
    wake_one(m_waiters);
}

ErrorOr<void> Mutex::unlock_and_block(WaitQueue& queue, Interruptible interruptible) {
    ASSERT(!in_interrupt());
    platform::InterruptGuard interrupts;
    m_lock.lock();
    VERIFY(m_owner == current_or_null());  // only the holder waits
    m_owner = nullptr;
    wake_one(m_waiters);
    return block_current_unlocking(&queue, m_lock, Deadline::never(), interruptible);
}

// A racy read is enough: the answer concerns the current thread, which is the only one that
// makes it true or false.
bool Mutex::is_held() const NO_THREAD_SAFETY_ANALYSIS {
    return __atomic_load_n(&m_owner, __ATOMIC_RELAXED) == current_or_null();
}

}  // namespace xos::sched
