// A sleeping mutex (docs/locking.md): for sections that may block (allocate, copy from user
// memory and take a page fault, wait for I/O). The thread that finds it taken sleeps on the
// mutex's WaitQueue; unlock() wakes one waiter, which tries again. Thread context only, never
// with a spinlock held or interrupts off (checked with ASSERT). Not recursive: taking it twice
// on one thread is a VERIFY failure, not a hang.
#pragma once

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

private:
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
