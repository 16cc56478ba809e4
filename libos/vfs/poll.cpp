#include "vfs/poll.h"

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
