// epoll_create/epoll_create1, epoll_ctl, epoll_wait/epoll_pwait/epoll_pwait2 on vfs::EpollFile.
// epoll_ctl and the waits are dispatched without the big lock (sys/lock_free_syscalls.h,
// docs/locking.md "Sockets, poll and epoll"): the instance's mutexes and ready lock guard its state (vfs/epoll.h), and the watched files'
// readiness is read under the big lock only where a file needs it (File::readiness()). A wait
// with a signal mask takes it for the whole call (signal posters check the mask under it).
#include <sys/epoll.h>

#include <climits>
#include <optional>

#include "mm/heap.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "sys/poll_wait.h"
#include "vfs/anon_fs.h"
#include "vfs/epoll.h"
#include "vfs/process.h"

namespace xos::sys {

namespace {

constexpr int MAX_EVENTS = INT_MAX / int(sizeof(epoll_event));

ErrorOr<long> create_epoll(int flags) {
    RefPtr<vfs::Vnode> vnode = TRY(vfs::anon_fs().create_node(0600));
    RefPtr<vfs::File> file = mm::kcreate<vfs::EpollFile>(vnode);
    if (!file) return error(ENOMEM);
    return long(TRY(vfs::process().fds.allocate(file, flags & EPOLL_CLOEXEC)));
}

ErrorOr<vfs::EpollFile*> epoll_of(vfs::File& file) {
    vfs::PollWaiters* waiters = file.poll_waiters();
    if (!waiters || !waiters->epoll()) return error(EINVAL);
    return waiters->epoll();
}

ErrorOr<long> do_wait(int epfd, UserPtr<epoll_event> events, int max_events, sched::Deadline deadline) {
    if (max_events <= 0 || max_events > MAX_EVENTS) return error(EINVAL);
    if (!user_range_writable(events.address(), size_t(max_events) * sizeof(epoll_event))) return error(EFAULT);
    RefPtr<vfs::File> file = TRY(file_for(epfd));
    vfs::EpollFile* epoll = TRY(epoll_of(*file));
    // Collected into libos memory, then copied out: at most BATCH per call (epoll_wait may
    // return fewer events than are ready; the rest stay on the ready list for the next call).
    constexpr size_t BATCH = 64;
    epoll_event collected[BATCH];
    std::span<epoll_event> out(collected, size_t(max_events) < BATCH ? size_t(max_events) : BATCH);
    // In kernel memory, not on the app's stack: a waker in another process reaches them while
    // its own address space is current.
    struct Waiting {
        PollSleeper sleeper;
        PollEntry entry;
    };
    Waiting* waiting = mm::kcreate<Waiting>();
    if (!waiting) return error(ENOMEM);
    PollSleeper& sleeper = waiting->sleeper;
    PollEntry& entry = waiting->entry;
    ErrorOr<long> result = 0;
    // Watched before the ready list is looked at: an item made ready after the look notifies.
    watch(entry, *file, vfs::poll_bits::IN, sleeper);
    for (bool timed_out = false;;) {
        sleeper.reset();
        if (size_t n = epoll->collect(out)) {
            auto copied = copy_to_user(UserPtr<void>(events.address()), collected, n * sizeof(epoll_event));
            result = copied ? ErrorOr<long>(long(n)) : ErrorOr<long>(std::unexpected(copied.error()));
            break;
        }
        if (timed_out || (!deadline.is_never() && deadline.monotonic_ns == 0)) break;
        auto slept = sleep_until_notified(sleeper, deadline);
        if (!slept) {
            if (slept.error().code != ETIMEDOUT) {
                result = std::unexpected(slept.error());
                break;
            }
            timed_out = true;
        }
    }
    unwatch(entry);
    mm::kdestroy(waiting);
    return result;
}

}  // namespace

// Implements epoll_create(2).
ErrorOr<long> sys_epoll_create(int size) {
    if (size <= 0) return error(EINVAL);
    return create_epoll(0);
}

// Implements epoll_create1(2).
ErrorOr<long> sys_epoll_create1(int flags) {
    if (flags & ~EPOLL_CLOEXEC) return error(EINVAL);
    return create_epoll(flags);
}

// Implements epoll_ctl(2).
ErrorOr<long> sys_epoll_ctl(int epfd, int operation, int fd, UserPtr<const epoll_event> event) {
    epoll_event wanted{};
    if (operation != EPOLL_CTL_DEL) wanted = TRY(read_user(event));
    RefPtr<vfs::File> file = TRY(file_for(epfd));
    RefPtr<vfs::File> target = TRY(file_for(fd));
    if (!target->poll_waiters()) return error(EPERM);  // a file that cannot be polled (regular files)
    if (file == target) return error(EINVAL);
    vfs::EpollFile* epoll = TRY(epoll_of(*file));
    switch (operation) {
    case EPOLL_CTL_ADD: TRY(epoll->add(fd, *target, wanted)); return 0;
    case EPOLL_CTL_MOD: TRY(epoll->modify(fd, *target, wanted)); return 0;
    case EPOLL_CTL_DEL: TRY(epoll->remove(fd, *target)); return 0;
    default: return error(EINVAL);
    }
}

// Implements epoll_wait(2).
ErrorOr<long> sys_epoll_wait(int epfd, UserPtr<epoll_event> events, int max_events, int timeout_ms) {
    return do_wait(epfd, events, max_events, timeout_ms == 0 ? sched::Deadline{0} : deadline_after_ms(timeout_ms));
}

// Implements epoll_pwait(2).
ErrorOr<long> sys_epoll_pwait(int epfd, UserPtr<epoll_event> events, int max_events, int timeout_ms,
                              UserPtr<const uint64_t> mask, size_t mask_size) {
    std::optional<sched::BigLockScope> big_lock;
    if (!mask.is_null()) big_lock.emplace();  // musl's epoll_wait passes none
    TemporarySignalMask temporary;
    TRY(temporary.install(mask, mask_size));
    sched::Deadline deadline = timeout_ms == 0 ? sched::Deadline{0} : deadline_after_ms(timeout_ms);
    return temporary.finish(do_wait(epfd, events, max_events, deadline));
}

// Implements epoll_pwait2(2): a timespec timeout.
ErrorOr<long> sys_epoll_pwait2(int epfd, UserPtr<epoll_event> events, int max_events,
                               UserPtr<const struct timespec> timeout, UserPtr<const uint64_t> mask, size_t mask_size) {
    std::optional<sched::BigLockScope> big_lock;
    if (!mask.is_null()) big_lock.emplace();
    sched::Deadline deadline = TRY(deadline_after(timeout));
    TemporarySignalMask temporary;
    TRY(temporary.install(mask, mask_size));
    return temporary.finish(do_wait(epfd, events, max_events, deadline));
}

}  // namespace xos::sys
