// Blocking in libos: a thread waits on a WaitQueue until a condition holds; whoever makes the
// condition true calls wake_all()/wake_one().
//
// Concurrency model (one CPU): libos code is not preempted while it runs a syscall; another
// thread runs only when the current one blocks in wait_event() or returns to the app. So
// libos data needs no locks, but anything read before a wait_event() must be re-checked after.
//
// Until the scheduler lands this is the single-thread version: wait_event() re-checks the
// condition until the deadline (nothing else can make it true, so an unbounded wait on a
// condition that is false is a deadlock, as it would be on Linux with one thread).
#pragma once

#include <cstdint>

#include "base/error.h"
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

class WaitQueue {
public:
    WaitQueue() = default;
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;
};

// Blocks until ready() returns true (Ok), the deadline passes (ETIMEDOUT), or a signal must be
// handled by this thread (EINTR). ready() is called with the world stopped.
template <typename Predicate>
ErrorOr<void> wait_event(WaitQueue&, Predicate&& ready, Deadline deadline = Deadline::never()) {
    while (!ready()) {
        if (platform::monotonic_ns() >= deadline.monotonic_ns) return error(ETIMEDOUT);
        if (deadline.is_never()) return error(EDEADLK);  // one thread: nobody can wake us
        __builtin_ia32_pause();
    }
    return {};
}

inline void wake_all(WaitQueue&) {}
inline void wake_one(WaitQueue&) {}

}  // namespace xos::sched
