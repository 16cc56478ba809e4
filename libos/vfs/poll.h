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
// Portable (no scheduler here): the syscall layer supplies the callbacks that wake threads.
#pragma once

#include <cstdint>

#include "base/intrusive_list.h"

namespace xos::vfs {

class File;
class EpollFile;

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

    void add(PollWaiter& waiter) { m_list.push_back(waiter); }
    static void remove(PollWaiter& waiter) { List::remove(waiter); }
    bool empty() const { return m_list.empty(); }

    // Tells every waiter that readiness may have changed. `key` names the bits that may have
    // appeared (POLLIN after a write...), as Linux's keyed wake-ups do, so an edge-triggered
    // watcher of other bits is not woken; 0 means "any".
    void notify(PollMask key = 0);
    // notify() for files whose state has a lock of its own (pipes, eventfds: docs/locking.md
    // "I/O objects") and may change without the big lock: the waiter lists, epoll instances
    // and poll() calls are still the big lock's, so it is taken (recursively) when someone
    // waits. Never with an IoSpinLock held.
    void notify_with_big_lock(PollMask key = 0);
    // Runs on_release for the waiters that watch `file` (File::destroy()).
    void release(File& file);

    // The epoll instance these waiters belong to, if any (vfs/epoll.h: nesting checks).
    EpollFile* epoll() const { return m_epoll; }
    void set_epoll(EpollFile* epoll) { m_epoll = epoll; }

private:
    using List = IntrusiveList<PollWaiter, &PollWaiter::node>;
    List m_list;
    EpollFile* m_epoll = nullptr;
};

// Called by File::destroy(): epoll registrations of a file description end with it.
void release_poll_waiters(File& file);

}  // namespace xos::vfs
