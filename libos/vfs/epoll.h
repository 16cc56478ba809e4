// epoll(7) instances: an open file that watches other open files. Each watched (file, fd)
// pair is an item registered as a PollWaiter on its file; a notification puts the item on the
// instance's ready list, so epoll_wait looks only at items that may be ready, never at every
// item. Level-triggered items go back on the list after being reported; edge-triggered ones
// wait for the next notification; EPOLLONESHOT items are disabled until EPOLL_CTL_MOD.
//
// An item lives as long as its file description (not its descriptor: closing one dup of a
// watched fd leaves the item, as on Linux) or until EPOLL_CTL_DEL. Portable: the syscall layer
// blocks threads by adding its own PollWaiter to the instance (waiters()).
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"
#include "base/hash_table.h"
#include "base/intrusive_list.h"
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

    size_t item_count() const { return m_items.size(); }
    PollMask poll_mask() override;
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
    void make_ready(EpollItem& item);
    void unlink_and_free(EpollItem& item);
    // Whether watching `target` from this instance would close a loop or nest too deep.
    bool would_loop(EpollFile& target, int depth) const;

    IntrusiveHashTable<EpollItem, &EpollItem::hash_node, KeyTraits> m_items;
    ReadyList m_ready;
    PollWaiters m_waiters;  // threads in epoll_wait, poll()ers and instances watching this one
};

}  // namespace xos::vfs
