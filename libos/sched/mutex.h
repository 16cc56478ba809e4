// A sleeping mutex (docs/locking.md): for sections that may block (allocate, copy from user
// memory and take a page fault, wait for I/O). The thread that finds it taken sleeps on the
// mutex's WaitQueue; unlock() wakes one waiter, which tries again. Thread context only, never
// with a spinlock held or interrupts off (checked with ASSERT). Not recursive: taking it twice
// on one thread is a VERIFY failure, not a hang.
#pragma once

#include "base/error.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "sched/wait_queue.h"

namespace xos::sched {

class CAPABILITY("mutex") Mutex {
public:
    Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    void lock() ACQUIRE();
    bool try_lock() TRY_ACQUIRE(true);
    void unlock() RELEASE();

    // True if the current thread holds it.
    bool is_held() const;
    // VERIFY_HELD(mutex): checked when assertions are on; tells the analysis it is held.
    void assert_held() const ASSERT_CAPABILITY(this) { ASSERT(is_held()); }

    // Condition wait: with the mutex held, blocks on `queue` until ready() holds. ready() runs
    // with the mutex held; the mutex is let go only across each sleep, and the thread is on
    // `queue` before it is (the mutex's spinlock is held from the release until the thread is
    // queued: block_current_unlocking), so a waker that changes what ready() reads under this
    // mutex and then wakes `queue`, still holding it, cannot slip in between. Returns with the
    // mutex held: Ok once ready(), EINTR when interruptible and a signal must be handled.
    template <typename Predicate>
    ErrorOr<void> wait(WaitQueue& queue, Predicate&& ready, Interruptible interruptible = Interruptible::Yes)
        REQUIRES(this) {
        return wait(queue, static_cast<Predicate&&>(ready), Deadline::never(), interruptible);
    }
    // The same, ending with ETIMEDOUT (mutex held) once `deadline` has passed and ready() is
    // still false (socket waits with SO_RCVTIMEO/SO_SNDTIMEO, net/inet.cpp).
    template <typename Predicate>
    ErrorOr<void> wait(WaitQueue& queue, Predicate&& ready, Deadline deadline, Interruptible interruptible)
        REQUIRES(this) {
        for (;;) {
            if (ready()) return {};
            if (interruptible == Interruptible::Yes && signal_interrupts_current()) return error(EINTR);
            if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return error(ETIMEDOUT);
            auto slept = unlock_and_block(queue, deadline, interruptible);
            lock();
            if (!slept && slept.error().code == EINTR) return slept;
        }
    }

private:
    // wait()'s sleep: gives the mutex up and blocks on `queue` (at most until `deadline`), queued
    // before the mutex is free.
    ErrorOr<void> unlock_and_block(WaitQueue& queue, Deadline deadline, Interruptible interruptible) RELEASE();

    SpinLock m_lock;  // guards m_owner and the wait queue's list
    Thread* m_owner GUARDED_BY(m_lock) = nullptr;
    WaitQueue m_waiters;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLocker {
public:
    explicit MutexLocker(Mutex& mutex) ACQUIRE(mutex) : m_mutex(mutex) { m_mutex.lock(); }
    ~MutexLocker() RELEASE() { m_mutex.unlock(); }
    MutexLocker(const MutexLocker&) = delete;
    MutexLocker& operator=(const MutexLocker&) = delete;

private:
    Mutex& m_mutex;
};

}  // namespace xos::sched
