#include "vfs/epoll.h"

#include "mm/heap.h"

namespace xos::vfs {

namespace {

// Bits that are flags, not readiness (Linux's EP_PRIVATE_BITS).
constexpr uint32_t PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
constexpr uint32_t EXCLUSIVE_OK_BITS = EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND |
    EPOLLPRI | EPOLLMSG | EPOLLRDHUP | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

EpollItem* item_of(PollWaiter& waiter) {
    return reinterpret_cast<EpollItem*>(reinterpret_cast<char*>(&waiter) - offsetof(EpollItem, waiter));
}

bool enabled(const EpollItem& item) { return item.events & ~PRIVATE_BITS; }

EpollFile* as_epoll(File* file) {
    PollWaiters* waiters = file->poll_waiters();
    return waiters ? waiters->epoll() : nullptr;
}

}  // namespace

EpollFile::EpollFile(RefPtr<Vnode> vnode) : File(static_cast<RefPtr<Vnode>&&>(vnode), O_RDWR) {
    m_waiters.set_epoll(this);
}

EpollFile::~EpollFile() {
    m_items.for_each([&](EpollItem& item) { unlink_and_free(item); });
}

void EpollFile::unlink_and_free(EpollItem& item) {
    PollWaiters::remove(item.waiter);
    ReadyList::remove(item);
    m_items.remove(item);
    mm::kdestroy(&item);
}

void EpollFile::make_ready(EpollItem& item) {
    if (item.ready_node.is_linked()) return;
    m_ready.push_back(item);
    m_waiters.notify(poll_bits::READABLE);
}

void EpollFile::on_change(PollWaiter& waiter, PollMask key) {
    EpollItem& item = *item_of(waiter);
    if (!enabled(item)) return;  // EPOLLONESHOT already fired
    if (key && !(key & item.events)) return;  // not a change this item watches for
    item.owner->make_ready(item);
}

void EpollFile::on_release(PollWaiter& waiter) {
    EpollItem& item = *item_of(waiter);
    item.owner->unlink_and_free(item);
}

bool EpollFile::would_loop(EpollFile& target, int depth) const {
    if (&target == this || depth > MAX_NESTING) return true;
    bool loop = false;
    target.m_items.for_each([&](EpollItem& item) {
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
    waiters->add(item->waiter);
    if (file.poll_mask() & item->events) make_ready(*item);
    return {};
}

ErrorOr<void> EpollFile::modify(int fd, File& file, const epoll_event& event) {
    EpollItem* item = m_items.find(EpollKey{&file, fd});
    if (!item) return error(ENOENT);
    if ((event.events & EPOLLEXCLUSIVE) || (item->events & EPOLLEXCLUSIVE)) return error(EINVAL);
    item->events = event.events | EPOLLERR | EPOLLHUP;
    item->data = event.data.u64;
    if (file.poll_mask() & item->events) make_ready(*item);
    return {};
}

ErrorOr<void> EpollFile::remove(int fd, File& file) {
    EpollItem* item = m_items.find(EpollKey{&file, fd});
    if (!item) return error(ENOENT);
    unlink_and_free(*item);
    return {};
}

size_t EpollFile::collect(std::span<epoll_event> out) {
    size_t count = 0;
    ReadyList requeue;  // level-triggered items reported now: ready again on the next wait
    while (count < out.size()) {
        EpollItem* item = m_ready.pop_front();
        if (!item) break;
        uint32_t revents = item->waiter.file->poll_mask() & item->events;
        if (!revents) continue;  // no longer ready: off the list until the next notification
        out[count].events = revents;
        out[count].data.u64 = item->data;
        ++count;
        if (item->events & EPOLLONESHOT)
            item->events &= PRIVATE_BITS;
        else if (!(item->events & EPOLLET))
            requeue.push_back(*item);
    }
    while (EpollItem* item = requeue.pop_front()) m_ready.push_back(*item);
    return count;
}

PollMask EpollFile::poll_mask() {
    // Readable while some item on the ready list really is ready; drop the ones that are not.
    PollMask mask = 0;
    m_ready.for_each([&](EpollItem& item) {
        if (mask) return;
        if (item.waiter.file->poll_mask() & item.events)
            mask = poll_bits::READABLE;
        else
            ReadyList::remove(item);
    });
    return mask;
}

}  // namespace xos::vfs
