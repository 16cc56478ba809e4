#include "vfs/epoll.h"

#include "mm/heap.h"

namespace xos::vfs {

namespace {

// Bits that are flags, not readiness (Linux's EP_PRIVATE_BITS).
constexpr uint32_t PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
constexpr uint32_t EXCLUSIVE_OK_BITS = EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND |
    EPOLLPRI | EPOLLMSG | EPOLLRDHUP | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

// Item creation and destruction, the nesting check (epoll.h).
sched::Mutex g_epoll_mutex;

EpollItem* item_of(PollWaiter& waiter) {
    return reinterpret_cast<EpollItem*>(reinterpret_cast<char*>(&waiter) - offsetof(EpollItem, waiter));
}

bool enabled(uint32_t events) { return events & ~PRIVATE_BITS; }

EpollFile* as_epoll(File* file) {
    PollWaiters* waiters = file->poll_waiters();
    return waiters ? waiters->epoll() : nullptr;
}

}  // namespace

EpollFile::EpollFile(RefPtr<Vnode> vnode) : File(static_cast<RefPtr<Vnode>&&>(vnode), O_RDWR) {
    m_waiters.set_epoll(this);
}

EpollFile::~EpollFile() {
    // No scan runs (nobody holds a reference); a watched file's release may (g_epoll_mutex).
    sched::MutexLocker epoll(g_epoll_mutex);
    sched::MutexLocker items(m_mutex);
    m_items.for_each([&](EpollItem& item) {
        VERIFY_HELD(m_mutex);
        unlink_and_free(item);
    });
}

void EpollFile::unlink_and_free(EpollItem& item) {
    PollWaiters::remove(item.waiter);  // no notification reaches it after this
    {
        SpinLockGuard ready(m_ready_lock);
        ReadyList::remove(item);
    }
    m_items.remove(item);
    mm::kdestroy(&item);
}

void EpollFile::make_ready(EpollItem& item) {
    {
        SpinLockGuard ready(m_ready_lock);
        if (item.ready_node.is_linked()) return;
        m_ready.push_back(item);
    }
    m_waiters.notify(poll_bits::READABLE);
}

// Under the watched file's PollWaiters lock: the item is not freed meanwhile.
void EpollFile::on_change(PollWaiter& waiter, PollMask key) {
    EpollItem& item = *item_of(waiter);
    EpollFile& owner = *item.owner;
    {
        SpinLockGuard ready(owner.m_ready_lock);
        if (!enabled(item.events)) return;  // EPOLLONESHOT already fired
        if (key && !(key & item.events)) return;  // not a change this item watches for
        if (item.ready_node.is_linked()) return;
        owner.m_ready.push_back(item);
    }
    owner.m_waiters.notify(poll_bits::READABLE);
}

// From release_poll_waiters, with g_epoll_mutex held: the owner is alive (its destructor takes
// that mutex too) and the item is already off the watched file's list.
void EpollFile::on_release(PollWaiter& waiter) {
    EpollItem& item = *item_of(waiter);
    EpollFile& owner = *item.owner;
    sched::MutexLocker items(owner.m_mutex);
    owner.unlink_and_free(item);
}

bool EpollFile::would_loop(EpollFile& target, int depth) NO_THREAD_SAFETY_ANALYSIS {
    // Items are only created and destroyed with g_epoll_mutex held, which the caller holds.
    VERIFY_HELD(g_epoll_mutex);
    if (&target == this || depth > MAX_NESTING) return true;
    bool loop = false;
    target.m_items.for_each([&](EpollItem& item) NO_THREAD_SAFETY_ANALYSIS {
        if (loop) return;
        if (auto* nested = as_epoll(item.waiter.file)) loop = would_loop(*nested, depth + 1);
    });
    return loop;
}

ErrorOr<void> EpollFile::add(int fd, File& file, const epoll_event& event) {
    if (&file == this) return error(EINVAL);
    PollWaiters* waiters = file.poll_waiters();
    if (!waiters) return error(EPERM);  // Linux: the file does not support poll
    auto* nested = as_epoll(&file);
    if ((event.events & EPOLLEXCLUSIVE) && (nested || (event.events & ~EXCLUSIVE_OK_BITS))) return error(EINVAL);
    sched::MutexLocker epoll(g_epoll_mutex);
    sched::MutexLocker items(m_mutex);
    if (m_items.find(EpollKey{&file, fd})) return error(EEXIST);
    if (nested && would_loop(*nested, 1)) return error(ELOOP);
    EpollItem* item = mm::kcreate<EpollItem>();
    if (!item) return error(ENOMEM);
    item->owner = this;
    item->fd = fd;
    item->events = event.events | EPOLLERR | EPOLLHUP;
    item->data = event.data.u64;
    item->waiter.file = &file;
    item->waiter.on_change = on_change;
    item->waiter.on_release = on_release;
    if (auto inserted = m_items.insert(*item); !inserted) {
        mm::kdestroy(item);
        return inserted;
    }
    // Watched first, then looked at: a change after the look is notified.
    waiters->add(item->waiter);
    if (file.readiness() & item->events) make_ready(*item);
    return {};
}

ErrorOr<void> EpollFile::modify(int fd, File& file, const epoll_event& event) {
    sched::MutexLocker epoll(g_epoll_mutex);
    sched::MutexLocker items(m_mutex);
    EpollItem* item = m_items.find(EpollKey{&file, fd});
    if (!item) return error(ENOENT);
    uint32_t events;
    {
        SpinLockGuard ready(m_ready_lock);
        if ((event.events & EPOLLEXCLUSIVE) || (item->events & EPOLLEXCLUSIVE)) return error(EINVAL);
        events = item->events = event.events | EPOLLERR | EPOLLHUP;
        item->data = event.data.u64;
    }
    if (file.readiness() & events) make_ready(*item);
    return {};
}

ErrorOr<void> EpollFile::remove(int fd, File& file) {
    sched::MutexLocker epoll(g_epoll_mutex);
    sched::MutexLocker items(m_mutex);
    EpollItem* item = m_items.find(EpollKey{&file, fd});
    if (!item) return error(ENOENT);
    unlink_and_free(*item);
    return {};
}

void EpollFile::take_ready(ReadyList& scan) {
    SpinLockGuard ready(m_ready_lock);
    while (EpollItem* item = m_ready.pop_front()) scan.push_back(*item);
}

EpollItem* EpollFile::pop_scanned(ReadyList& scan, uint32_t& events) {
    SpinLockGuard ready(m_ready_lock);
    EpollItem* item = scan.pop_front();
    if (item) events = item->events;
    return item;
}

size_t EpollFile::collect(std::span<epoll_event> out) {
    sched::MutexLocker items(m_mutex);  // no item is freed while this scan looks at it
    ReadyList scan;
    take_ready(scan);
    size_t count = 0;
    ReadyList requeue;  // level-triggered items reported now: ready again on the next wait
    while (count < out.size()) {
        uint32_t events = 0;
        EpollItem* item = pop_scanned(scan, events);
        if (!item) break;
        // Without spinlocks: a file's poll_mask() may take its own locks (or the big lock).
        uint32_t revents = item->waiter.file->readiness() & events;
        if (!revents) continue;  // no longer ready: off the list until the next notification
        SpinLockGuard ready(m_ready_lock);
        out[count].events = revents;
        out[count].data.u64 = item->data;
        ++count;
        if (item->events & EPOLLONESHOT)
            item->events &= PRIVATE_BITS;
        else if (!(item->events & EPOLLET) && !item->ready_node.is_linked())
            requeue.push_back(*item);
    }
    // What was not looked at goes back first, then the reported level-triggered items.
    SpinLockGuard ready(m_ready_lock);
    while (EpollItem* item = scan.pop_front()) m_ready.push_back(*item);
    while (EpollItem* item = requeue.pop_front()) m_ready.push_back(*item);
    return count;
}

PollMask EpollFile::poll_mask() {
    // Readable while some item on the ready list really is ready; drop the ones that are not.
    sched::MutexLocker items(m_mutex);
    ReadyList scan;
    take_ready(scan);
    ReadyList keep;
    PollMask mask = 0;
    while (!mask) {
        uint32_t events = 0;
        EpollItem* item = pop_scanned(scan, events);
        if (!item) break;
        if (!(item->waiter.file->readiness() & events)) continue;
        mask = poll_bits::READABLE;
        SpinLockGuard ready(m_ready_lock);
        if (!item->ready_node.is_linked()) keep.push_back(*item);
    }
    SpinLockGuard ready(m_ready_lock);
    while (EpollItem* item = keep.pop_front()) m_ready.push_back(*item);
    while (EpollItem* item = scan.pop_front()) m_ready.push_back(*item);
    return mask;
}

void release_poll_waiters(File& file) {
    PollWaiters* waiters = file.poll_waiters();
    if (!waiters) return;
    // Nobody adds a waiter for a file being destroyed (adding holds a reference): if no epoll
    // item watches it now, none will, and no epoll mutex is needed.
    if (!waiters->watched_by_epoll(file)) {
        waiters->release(file);
        return;
    }
    sched::MutexLocker epoll(g_epoll_mutex);
    waiters->release(file);
}

}  // namespace xos::vfs
