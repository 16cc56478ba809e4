// Readiness: what poll(2), select(2) and epoll(7) ask of every open file. A file reports the
// POLL* bits that hold now (File::poll_mask()) and keeps a list of waiters it notifies whenever
// they may have changed (File::poll_waiters()): a poll() call in progress, an epoll instance
// watching the file. Notifications carry no state; a waiter re-reads poll_mask().
//
// Rules for files: call PollWaiters::notify() after every change that can make the file more
// ready (data arrived, room freed, peer closed, error set), from thread context (never an
// interrupt handler). A notification for every write, not only on empty->non-empty, is what
// Linux does and what edge-triggered epoll users rely on.
//
// Locking (docs/locking.md "I/O objects"): each PollWaiters has a spinlock of its own guarding
// its list, so a notification needs no big lock. notify() runs the callbacks with it held: they
// only take spinlocks further in (an epoll instance's ready lock, a poll() sleeper's lock, the
// scheduler's) and never sleep. A waiter unlinked under the lock is never called again, so
// freeing it after remove() is safe. A waiter reads poll_mask() after add(): a change after
// that is notified to it, one before it is seen by the read (no lost wake-up).
//
// Portable (no scheduler here): the syscall layer supplies the callbacks that wake threads.
#pragma once

#include <cstdint>

#include "base/intrusive_list.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"

namespace xos::vfs {

class File;
class EpollFile;
class PollWaiters;

// POLLIN, POLLOUT... and EPOLLIN, EPOLLOUT...: Linux gives both the same values.
using PollMask = uint32_t;
namespace poll_bits {
constexpr PollMask IN = 0x001, PRI = 0x002, OUT = 0x004, ERR = 0x008, HUP = 0x010, NVAL = 0x020;
constexpr PollMask RDNORM = 0x040, RDBAND = 0x080, WRNORM = 0x100, WRBAND = 0x200, MSG = 0x400;
constexpr PollMask RDHUP = 0x2000;
constexpr PollMask READABLE = IN | RDNORM;
constexpr PollMask WRITABLE = OUT | WRNORM;
// What Linux reports for files that are always ready (regular files, /dev/null): DEFAULT_POLLMASK.
constexpr PollMask ALWAYS = IN | OUT | RDNORM | WRNORM;
}  // namespace poll_bits

// One party interested in a file's readiness. `file` is the file it watches; `on_change` runs
// on every notification, with the key the file gave it; `on_release` (epoll items only) runs when the file description is
// destroyed while still watched, and must unlink the waiter.
struct PollWaiter {
    IntrusiveListNode node;
    PollWaiters* list = nullptr;  // the list it is on (set and cleared under that list's lock)
    File* file = nullptr;
    void (*on_change)(PollWaiter&, PollMask key) = nullptr;
    void (*on_release)(PollWaiter&) = nullptr;
};

class PollWaiters {
public:
    PollWaiters() = default;
    PollWaiters(const PollWaiters&) = delete;
    PollWaiters& operator=(const PollWaiters&) = delete;
    ~PollWaiters();

    void add(PollWaiter& waiter);
    // Unlinks `waiter` from the list it is on, if any; after it returns no notification runs
    // its callbacks any more.
    static void remove(PollWaiter& waiter);
    bool empty() const;

    // Tells every waiter that readiness may have changed. `key` names the bits that may have
    // appeared (POLLIN after a write...), as Linux's keyed wake-ups do, so an edge-triggered
    // watcher of other bits is not woken; 0 means "any". Needs no big lock; never with a
    // spinlock held that a callback takes (epoll ready locks, poll sleepers, the scheduler's).
    void notify(PollMask key = 0);
    // Runs on_release for the waiters that watch `file` (File::destroy()), after unlinking them
    // (on_release runs without the list's lock).
    void release(File& file);
    // Whether a waiter with on_release (an epoll item) watches `file`.
    bool watched_by_epoll(File& file);

    // The epoll instance these waiters belong to, if any (vfs/epoll.h: nesting checks).
    EpollFile* epoll() const { return m_epoll; }
    void set_epoll(EpollFile* epoll) { m_epoll = epoll; }

private:
    using List = IntrusiveList<PollWaiter, &PollWaiter::node>;
    mutable SpinLock m_lock;
    List m_list GUARDED_BY(m_lock);
    EpollFile* m_epoll = nullptr;  // set once, before the file is shared
};

// Called by File::destroy(): epoll registrations of a file description end with it
// (vfs/epoll.cpp: under the epoll mutex when an epoll item watches it).
void release_poll_waiters(File& file);

}  // namespace xos::vfs
