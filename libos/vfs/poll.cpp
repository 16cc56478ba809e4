#include "vfs/poll.h"

#include "sched/wait_queue.h"

namespace xos::vfs {

PollWaiters::~PollWaiters() {
    // Whoever still waits holds a dangling node otherwise; unlink them (they are told through
    // release() before a file goes away, so this only tidies up).
    SpinLockGuard guard(m_lock);
    m_list.for_each([](PollWaiter& waiter) {
        List::remove(waiter);
        waiter.list = nullptr;
    });
}

void PollWaiters::add(PollWaiter& waiter) {
    SpinLockGuard guard(m_lock);
    VERIFY(!waiter.list);
    m_list.push_back(waiter);
    waiter.list = this;
}

// The list a waiter is on is read without a lock: only its owner (the poll() call, the epoll
// instance under its item lock) adds or removes it, and release() hands it to its owner
// (on_release) with `list` cleared, so the owner never races another remover of its waiter.
void PollWaiters::remove(PollWaiter& waiter) {
    PollWaiters* list = __atomic_load_n(&waiter.list, __ATOMIC_ACQUIRE);
    if (!list) return;
    SpinLockGuard guard(list->m_lock);
    if (waiter.list != list) return;  // released meanwhile
    List::remove(waiter);
    waiter.list = nullptr;
}

bool PollWaiters::empty() const {
    SpinLockGuard guard(m_lock);
    return m_list.empty();
}

void PollWaiters::notify(PollMask key) {
    // The callbacks wake threads (a poll() sleeper, an epoll instance's waiters) with this list's
    // lock held, and a sleeper's or an epoll ready lock: their reschedule IPIs go once the
    // list's lock is let go (docs/locking.md "Wake-ups after the lock").
    sched::DeferredWakeIpis ipis;
    SpinLockGuard guard(m_lock);
    m_list.for_each([&](PollWaiter& waiter) {
        if (waiter.on_change) waiter.on_change(waiter, key);
    });
}

void PollWaiters::release(File& file) {
    // Unlinked under the lock, released without it: on_release takes the owner's locks, which
    // sit outside this one (an epoll instance unlinks the item from this list itself otherwise).
    List released;
    {
        SpinLockGuard guard(m_lock);
        m_list.for_each([&](PollWaiter& waiter) {
            if (waiter.file != &file) return;
            List::remove(waiter);
            __atomic_store_n(&waiter.list, nullptr, __ATOMIC_RELEASE);
            if (waiter.on_release) released.push_back(waiter);
        });
    }
    while (PollWaiter* waiter = released.pop_front()) waiter->on_release(*waiter);
}

bool PollWaiters::watched_by_epoll(File& file) {
    SpinLockGuard guard(m_lock);
    bool found = false;
    m_list.for_each([&](PollWaiter& waiter) { found |= waiter.file == &file && waiter.on_release; });
    return found;
}

}  // namespace xos::vfs
