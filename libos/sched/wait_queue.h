// Blocking in libos: a thread waits on a WaitQueue until a condition holds; whoever makes the
// condition true calls wake_all()/wake_one(). See thread.h for the concurrency model: libos code
// is not preempted inside a syscall, so libos data needs no locks, but anything read before a
// wait_event() must be re-checked after it.
#pragma once

#include <cstdint>
#include <type_traits>

#include "base/error.h"
#include "base/intrusive_list.h"
#include "base/spinlock.h"
#include "base/verify.h"
#include "sched/thread.h"
#include "xos/platform.h"

namespace xos::sched {

// An absolute CLOCK_MONOTONIC time in nanoseconds, or never.
struct Deadline {
    uint64_t monotonic_ns = UINT64_MAX;
    static constexpr Deadline never() { return {}; }
    static Deadline after_ns(uint64_t ns) {
        uint64_t now = platform::monotonic_ns();
        return {ns > UINT64_MAX - now ? UINT64_MAX : now + ns};
    }
    bool is_never() const { return monotonic_ns == UINT64_MAX; }
};

enum class Interruptible { No, Yes };

// What ends a wait on a queue (besides its deadline or a signal). Thread: another thread's
// wake_*() (pipes, futexes, sockets...). Device: a device's interrupt handler (a virtio queue
// or a host NIC whose interrupts the platform delivers). The scheduler's deadlock check relies
// on it: when every thread is blocked with no deadline, that is a deadlock unless one of them
// waits on a Device queue, since the device's next interrupt may wake it. So a device wait
// needs no timeout; a queue is a Device queue only if the device's interrupt really wakes it.
enum class WakeSource { Thread, Device };

class WaitQueue {
public:
    explicit WaitQueue(WakeSource source = WakeSource::Thread) : m_source(source) {}
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;

    // A snapshot (racy with several CPUs: a waker decides under its own lock).
    bool empty() const { return m_waiters.empty(); }
    // Calls fn(Thread&) for each waiter, under the scheduler's lock (docs/locking.md): fn must
    // not wake, block or take another lock but the spinlocks below the scheduler's.
    template <typename Fn>
    void for_each_waiter(Fn&& fn) {
        using Callable = std::remove_reference_t<Fn>;
        for_each_waiter_raw([](Thread& t, void* context) { (*static_cast<Callable*>(context))(t); }, &fn);
    }

    WakeSource wake_source() const { return m_source; }
    // For queues whose device's interrupt routing is known only after they exist (virtio
    // queues: Device::finish). Only while nobody waits.
    void set_wake_source(WakeSource source);

private:
    friend ErrorOr<void> block_current(WaitQueue*, Deadline, Interruptible);
    friend bool prepare_block(WaitQueue*, Deadline, Interruptible);
    friend void wake(Thread&, WakeReason);
    friend void requeue_waiter(Thread&, WaitQueue&);
    friend int wake_where(WaitQueue&, int, bool (*)(Thread&, void*), void*);
    friend void wake_locked(Thread&, WakeReason);
    friend int wake_all(WaitQueue&);
    friend int wake_one(WaitQueue&);
    friend int requeue_where(WaitQueue&, WaitQueue&, int, bool (*)(Thread&, void*), void*);
    void for_each_waiter_raw(void (*fn)(Thread&, void*), void* context);
    IntrusiveList<Thread, &Thread::queue_node> m_waiters;
    WakeSource m_source;
};

// Blocks the current thread on `queue` (may be null: a pure timed wait) until it is woken
// (Ok), the deadline passes (ETIMEDOUT) or, if interruptible, a signal arrives for it (EINTR).
// Call with interrupts disabled, after checking the condition, from a thread (not in interrupt
// context); checked with ASSERT.
ErrorOr<void> block_current(WaitQueue* queue, Deadline deadline, Interruptible interruptible);

// block_current() for a queue whose list `lock` guards (held, with interrupts off): the thread is
// on the queue before the lock is given back, so a waker that takes `lock` first cannot miss it.
// Returns without the lock.
ErrorOr<void> block_current_unlocking(WaitQueue* queue, SpinLock& lock, Deadline deadline, Interruptible interruptible)
    RELEASE(lock);

// block_current_unlocking() that also wakes one waiter of `wake` once `lock` is let go (and
// before it sleeps): a Mutex given up for a condition wait (Mutex::wait) wakes its next locker
// without its spinlock held. Wakes even when it returns EINTR at once.
ErrorOr<void> block_current_unlocking_and_wake_one(WaitQueue* queue, SpinLock& lock, Deadline deadline,
                                                   Interruptible interruptible, WaitQueue& wake) RELEASE(lock);

// Wake-ups inside its scope send their reschedule IPIs when it ends, not at each wake-up: for
// a waker that holds a spinlock while it wakes (a poll waiter list's, a futex bucket's), so
// that the IPI, an APIC write that takes QEMU's global lock under multi-threaded TCG, is not
// sent while other CPUs spin on that lock (docs/locking.md "Wake-ups after the lock"). Construct
// it before the spinlock's guard, so that it ends after the lock is given back. Interrupts are
// off for its whole scope; nothing in it may block. Scopes nest (the outermost one sends).
class DeferredWakeIpis {
public:
    DeferredWakeIpis();
    ~DeferredWakeIpis();
    DeferredWakeIpis(const DeferredWakeIpis&) = delete;
    DeferredWakeIpis& operator=(const DeferredWakeIpis&) = delete;

private:
    bool m_were_enabled;
};

// Moves a blocked thread from the queue it waits on to `to`, leaving it blocked.
void requeue_waiter(Thread& thread, WaitQueue& to);

// True if the current thread has a signal pending that it does not block.
bool signal_interrupts_current();

// Blocks until ready() returns true (Ok), the deadline passes (ETIMEDOUT), or a signal must be
// handled by this thread (EINTR, only if interruptible). ready() is called with interrupts off.
// Not in interrupt context (checked with ASSERT).
template <typename Predicate>
ErrorOr<void> wait_event(WaitQueue& queue, Predicate&& ready, Deadline deadline = Deadline::never(),
                         Interruptible interruptible = Interruptible::Yes) {
    ASSERT(!in_interrupt());
    platform::InterruptGuard guard;
    for (;;) {
        if (ready()) return {};
        if (interruptible == Interruptible::Yes && signal_interrupts_current()) return error(EINTR);
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return error(ETIMEDOUT);
        auto result = block_current(&queue, deadline, interruptible);
        if (!result && result.error().code == EINTR) return result;
        // Woken or timed out: the loop re-checks the condition before the deadline.
    }
}

// Wakes every waiter / the first waiter. Return how many were woken.
int wake_all(WaitQueue& queue);
int wake_one(WaitQueue& queue);

// Wakes up to `max` waiters of `queue` for which match(thread, context) is true (called under the
// scheduler's lock: it may only read and write the waiter's own fields), in queue order, as one
// step against the queue's other wakers and a timeout or signal waking one of them. Returns how
// many were woken.
int wake_where(WaitQueue& queue, int max, bool (*match)(Thread&, void*), void* context);
// The same, but moves the matching waiters to `to` (still blocked) instead; `to` may be `from`.
int requeue_where(WaitQueue& from, WaitQueue& to, int max, bool (*match)(Thread&, void*), void* context);

}  // namespace xos::sched
