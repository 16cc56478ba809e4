// What poll/select and epoll_wait share: a sleeper that PollWaiters wake, timeouts as
// deadlines, and the temporary signal mask of ppoll/pselect6/epoll_pwait.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "base/user_ptr.h"
#include "sched/wait_queue.h"
#include "vfs/file.h"
#include "vfs/poll.h"

struct timespec;

namespace xos::sys {

// A thread waiting for any of several files. Each file it watches gets a PollEntry. `lock`
// guards `woken` and the queue's list: a notification sets `woken` and wakes the queue under
// it, and the sleeper checks `woken` and queues itself under it (block_current_unlocking), so a
// notification on another CPU between the check and the sleep is not lost.
struct PollSleeper {
    SpinLock lock;
    sched::WaitQueue queue;
    bool woken GUARDED_BY(lock) = false;

    // Forgets earlier notifications, before the caller scans its files again.
    void reset() {
        SpinLockGuard guard(lock);
        woken = false;
    }
};

struct PollEntry {
    vfs::PollWaiter waiter;
    PollSleeper* sleeper = nullptr;
    vfs::PollMask events = 0;  // what the caller waits for (a key outside it does not wake)
};

// Registers `entry` on `file` for `sleeper` (a file without waiters never changes readiness).
void watch(PollEntry& entry, vfs::File& file, vfs::PollMask events, PollSleeper& sleeper);
void unwatch(PollEntry& entry);

// Blocks until a watched file notifies, the deadline passes (ETIMEDOUT) or a signal (EINTR).
ErrorOr<void> sleep_until_notified(PollSleeper& sleeper, sched::Deadline deadline);

// poll/epoll_wait timeouts in milliseconds (negative: forever).
sched::Deadline deadline_after_ms(long ms);
// ppoll/pselect6/epoll_pwait2 timeouts (null: forever); EINVAL for a malformed timespec.
ErrorOr<sched::Deadline> deadline_after(UserPtr<const struct timespec> timeout);
// Writes the time left until `deadline` (ppoll, pselect6 and select update their timeout).
ErrorOr<void> write_time_left(UserPtr<struct timespec> timeout, sched::Deadline deadline);

// The signal mask a ppoll/pselect6/epoll_pwait call installs for its wait. finish() restores
// the caller's mask; when the wait was interrupted, the signals that interrupted it are
// delivered first, under the temporary mask (as Linux's restore_saved_sigmask does).
class TemporarySignalMask {
public:
    ErrorOr<void> install(UserPtr<const uint64_t> mask, size_t size);
    template <typename T>
    ErrorOr<T> finish(ErrorOr<T> result) {
        finish_wait(!result && result.error().code == EINTR);
        return result;
    }

private:
    void finish_wait(bool interrupted);
    bool m_active = false;
    uint64_t m_saved = 0;
};

}  // namespace xos::sys
