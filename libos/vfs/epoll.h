// epoll(7) instances: an open file that watches other open files. Each watched (file, fd)
// pair is an item registered as a PollWaiter on its file; a notification puts the item on the
// instance's ready list, so epoll_wait looks only at items that may be ready, never at every
// item. Level-triggered items go back on the list after being reported; edge-triggered ones
// wait for the next notification; EPOLLONESHOT items are disabled until EPOLL_CTL_MOD.
//
// An item lives as long as its file description (not its descriptor: closing one dup of a
// watched fd leaves the item, as on Linux) or until EPOLL_CTL_DEL. Portable: the syscall layer
// blocks threads by adding its own PollWaiter to the instance (waiters()).
//
// Locking (docs/locking.md "I/O objects"), outermost first:
// - the epoll mutex (one for all instances, Linux's epmutex; sleeping): item creation and
//   destruction (EPOLL_CTL_ADD/MOD/DEL, the release of a watched file, an instance's end) and
//   the nesting check, which reads other instances' items;
// - an instance's m_mutex (sleeping): its item table and the items' fd; held by the control
//   operations and by the scans of the ready list (collect, poll_mask), which call poll_mask()
//   of watched files without spinlocks, so an item is not freed while a scan looks at it;
//   nested instances' m_mutex inside their watcher's (nesting is acyclic: ELOOP);
// - a watched file's PollWaiters lock (notifications, which run on_change under it);
// - an instance's m_ready_lock (spinlock): the ready list, items' ready_node, events and data.
// A notification only takes the last two (and the instance's own waiters', after letting its
// ready lock go), so it needs neither mutex nor big lock.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"
#include "base/hash_table.h"
#include "base/intrusive_list.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "sched/mutex.h"
#include "vfs/file.h"
#include "vfs/poll.h"

namespace xos::vfs {

class EpollFile;

struct EpollItem {
    PollWaiter waiter;  // on the watched file's list; waiter.file is the file
    HashTableNode hash_node;
    IntrusiveListNode ready_node;
    EpollFile* owner = nullptr;
    int fd = -1;
    // Under the owner's m_ready_lock (not annotated: the item does not name its owner's lock).
    uint32_t events = 0;  // requested bits plus EPOLLERR|EPOLLHUP and the EPOLLET/ONESHOT/... flags
    uint64_t data = 0;
};

struct EpollKey {
    const File* file;
    int fd;
};

class EpollFile final : public File {
public:
    static constexpr int MAX_NESTING = 4;  // Linux's EP_MAX_NESTS

    explicit EpollFile(RefPtr<Vnode> vnode);
    ~EpollFile() override;

    // EPOLL_CTL_ADD / MOD / DEL, with Linux's errors (EEXIST, ENOENT, EINVAL, ELOOP, EPERM, ENOMEM).
    ErrorOr<void> add(int fd, File& file, const epoll_event& event);
    ErrorOr<void> modify(int fd, File& file, const epoll_event& event);
    ErrorOr<void> remove(int fd, File& file);

    // Moves up to out.size() ready events into `out`; returns how many.
    size_t collect(std::span<epoll_event> out);

    PollMask poll_mask() override;
    // Its ready list and items have locks of their own; the watched files' poll_mask() is asked
    // through readiness() (the big lock around those that need it).
    bool poll_without_big_lock() const override { return true; }
    PollWaiters* poll_waiters() override { return &m_waiters; }
    ErrorOr<uint64_t> seek(int64_t, int) override { return error(ESPIPE); }
    ErrorOr<size_t> read(std::span<std::byte>, std::optional<uint64_t>) override { return error(EINVAL); }
    ErrorOr<size_t> write(std::span<const std::byte>, std::optional<uint64_t>) override { return error(EINVAL); }
    ErrorOr<KString> anonymous_name() override { return KString::from("anon_inode:[eventpoll]"); }

private:
    struct KeyTraits {
        static EpollKey key_of(const EpollItem& item) { return {item.waiter.file, item.fd}; }
        static size_t hash(EpollKey key) { return (reinterpret_cast<uintptr_t>(key.file) >> 4) * 31 + size_t(key.fd); }
        static bool equal(EpollKey a, EpollKey b) { return a.file == b.file && a.fd == b.fd; }
    };
    using ReadyList = IntrusiveList<EpollItem, &EpollItem::ready_node>;

    static void on_change(PollWaiter& waiter, PollMask key);
    static void on_release(PollWaiter& waiter);
    void make_ready(EpollItem& item) EXCLUDES(m_ready_lock);
    void unlink_and_free(EpollItem& item) REQUIRES(m_mutex);
    // Whether watching `target` from this instance would close a loop or nest too deep. With
    // the epoll mutex held.
    bool would_loop(EpollFile& target, int depth);
    // Moves the ready list to `scan` (a scan looks at items with no spinlock held; an item taken
    // off `scan` is unlinked, so a notification meanwhile puts it back on m_ready).
    void take_ready(ReadyList& scan) EXCLUDES(m_ready_lock);
    EpollItem* pop_scanned(ReadyList& scan, uint32_t& events) EXCLUDES(m_ready_lock);

    sched::Mutex m_mutex;
    IntrusiveHashTable<EpollItem, &EpollItem::hash_node, KeyTraits> m_items GUARDED_BY(m_mutex);
    SpinLock m_ready_lock;
    ReadyList m_ready GUARDED_BY(m_ready_lock);
    PollWaiters m_waiters;  // threads in epoll_wait, poll()ers and instances watching this one
};

}  // namespace xos::vfs
