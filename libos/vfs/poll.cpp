#include "vfs/poll.h"

#include "sched/thread.h"
#include "vfs/file.h"

namespace xos::vfs {

PollWaiters::~PollWaiters() {
    // Whoever still waits holds a dangling node otherwise; unlink them (they are told through
    // release() before a file goes away, so this only tidies up).
    m_list.for_each([](PollWaiter& waiter) { List::remove(waiter); });
}

void PollWaiters::notify(PollMask key) {
    m_list.for_each([&](PollWaiter& waiter) {
        if (waiter.on_change) waiter.on_change(waiter, key);
    });
}

void PollWaiters::notify_with_big_lock(PollMask key) {
    // An unlocked look first (the list changes under the big lock): a waiter added meanwhile
    // reads poll_mask() after adding itself, so it misses nothing.
    if (m_list.empty()) return;
    sched::BigLockScope big_lock;
    notify(key);
}

void PollWaiters::release(File& file) {
    m_list.for_each([&](PollWaiter& waiter) {
        if (waiter.file != &file) return;
        if (waiter.on_release)
            waiter.on_release(waiter);
        else
            List::remove(waiter);
    });
}

void release_poll_waiters(File& file) {
    if (PollWaiters* waiters = file.poll_waiters()) waiters->release(file);
}

}  // namespace xos::vfs
