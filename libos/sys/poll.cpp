// poll/ppoll and select/pselect6: scan the files, and if none is ready, watch them all (vfs/poll.h)
// and sleep until one notifies, the timeout passes or a signal arrives; then scan again.
// Dispatched without the big lock (sys/lock_free_syscalls.h; docs/locking.md "Sockets, poll and
// epoll"): the watch lists, the sleeper and the fd table have locks of their own, and a file's
// readiness is read under the big lock only where the file needs it (File::readiness()). ppoll
// and pselect6 with a signal mask take it for the whole call (the mask's change is checked by
// signal posters under it).
#include <poll.h>
#include <sys/select.h>
#include <sys/time.h>

#include <new>
#include <optional>

#include "mm/heap.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "sys/poll_wait.h"
#include "vfs/process.h"

namespace xos::sys {

namespace {

using namespace vfs::poll_bits;

// The select(2) sets in poll terms (Linux's POLLIN_SET, POLLOUT_SET, POLLEX_SET).
constexpr vfs::PollMask SELECT_IN = RDNORM | RDBAND | IN | HUP | ERR;
constexpr vfs::PollMask SELECT_OUT = WRBAND | WRNORM | OUT | ERR;
constexpr vfs::PollMask SELECT_EX = PRI;

// One descriptor of a poll or select call, with the file held for the call.
struct Watched {
    int fd = -1;
    vfs::PollMask events = 0;
    vfs::PollMask revents = 0;
    RefPtr<vfs::File> file;
    PollEntry entry;
};

class WatchSet {
public:
    WatchSet() = default;
    WatchSet(const WatchSet&) = delete;
    WatchSet& operator=(const WatchSet&) = delete;
    ~WatchSet() {
        for (size_t i = 0; i < m_count; ++i) {
            unwatch(m_items[i].entry);
            m_items[i].~Watched();
        }
        mm::kfree(m_items);
        if (m_sleeper) mm::kdestroy(m_sleeper);
    }

    ErrorOr<void> allocate(size_t count) {
        if (count == 0) return {};
        m_items = static_cast<Watched*>(mm::kmalloc(count * sizeof(Watched)));
        if (!m_items) return error(ENOMEM);
        for (size_t i = 0; i < count; ++i) new (&m_items[i]) Watched;
        m_count = count;
        return {};
    }
    size_t size() const { return m_count; }
    Watched& operator[](size_t i) { return m_items[i]; }

    // Scans until something is ready, the deadline passes or a signal arrives; returns the
    // number of descriptors with events (revents set on each).
    ErrorOr<long> wait(sched::Deadline deadline) {
        // The sleeper, like the entries, is in kernel memory: a waker in another process (a
        // pipe's writer) reaches it while its own address space is current.
        if (!m_sleeper && !(m_sleeper = mm::kcreate<PollSleeper>())) return error(ENOMEM);
        PollSleeper& sleeper = *m_sleeper;
        bool timed_out = false;
        for (bool watching = false;; watching = true) {
            sleeper.reset();
            long ready = 0;
            for (size_t i = 0; i < m_count; ++i) {
                Watched& w = m_items[i];
                // Watched before its readiness is read: a change after the read is notified.
                if (!watching && w.file) watch(w.entry, *w.file, w.events, sleeper);
                if (w.fd < 0)
                    w.revents = 0;
                else if (!w.file)
                    w.revents = NVAL;
                else
                    w.revents = w.file->readiness() & (w.events | ERR | HUP);
                if (w.revents) ++ready;
            }
            if (ready || timed_out) return ready;
            if (!deadline.is_never() && deadline.monotonic_ns == 0) return 0;
            auto slept = sleep_until_notified(sleeper, deadline);
            if (!slept) {
                if (slept.error().code != ETIMEDOUT) return std::unexpected(slept.error());
                timed_out = true;  // one last scan, as Linux does
            }
        }
    }

private:
    Watched* m_items = nullptr;
    size_t m_count = 0;
    PollSleeper* m_sleeper = nullptr;
};

// A timeout of zero means "do not block": Deadline{0} is already past.
sched::Deadline immediate() { return sched::Deadline{0}; }

ErrorOr<long> do_poll(UserPtr<pollfd> fds, unsigned long count, sched::Deadline deadline) {
    if (count > unsigned(vfs::FdTable::MAX_FDS)) return error(EINVAL);
    if (count && !user_range_writable(fds.address(), count * sizeof(pollfd))) return error(EFAULT);
    WatchSet set;
    TRY(set.allocate(count));
    for (size_t i = 0; i < count; ++i) {
        pollfd p = TRY(read_user(UserPtr<const pollfd>(fds.address() + i * sizeof(pollfd))));
        set[i].fd = p.fd;
        // Linux always reports POLLERR and POLLHUP; POLLNVAL for a descriptor that is not open.
        set[i].events = vfs::PollMask(uint16_t(p.events));
        if (p.fd >= 0) {
            auto file = file_for(p.fd);
            if (file) set[i].file = *file;
        }
    }
    long ready = TRY(set.wait(deadline));
    for (size_t i = 0; i < count; ++i)
        TRY(write_user(UserPtr<short>(fds.address() + i * sizeof(pollfd) + offsetof(pollfd, revents)),
                       short(set[i].revents)));
    return ready;
}

// select's fd_set: `nfds` bits of unsigned longs, copied in and out (FdSets point to libos's
// copies; null where the app passed none).
struct FdSet {
    unsigned long words[vfs::FdTable::MAX_FDS / 64];
};
struct FdSets {
    FdSet* in;
    FdSet* out;
    FdSet* ex;
};

bool is_set(const FdSet* set, int fd) { return set && (set->words[fd / 64] >> (fd % 64)) & 1; }

size_t set_bytes(int nfds) { return size_t((nfds + 63) / 64) * 8; }

ErrorOr<FdSet*> copy_set_in(uintptr_t address, int nfds, FdSet& copy) {
    if (!address) return nullptr;
    if (!user_range_writable(address, set_bytes(nfds))) return error(EFAULT);
    TRY(copy_from_user(copy.words, UserPtr<const void>(address), set_bytes(nfds)));
    return &copy;
}

ErrorOr<long> do_select(int nfds, uintptr_t in, uintptr_t out, uintptr_t ex, sched::Deadline deadline) {
    if (nfds < 0) return error(EINVAL);
    if (nfds > vfs::FdTable::MAX_FDS) nfds = vfs::FdTable::MAX_FDS;
    FdSet copies[3];
    FdSets sets{TRY(copy_set_in(in, nfds, copies[0])), TRY(copy_set_in(out, nfds, copies[1])),
                TRY(copy_set_in(ex, nfds, copies[2]))};
    size_t count = 0;
    for (int fd = 0; fd < nfds; ++fd)
        if (is_set(sets.in, fd) || is_set(sets.out, fd) || is_set(sets.ex, fd)) ++count;
    WatchSet set;
    TRY(set.allocate(count));
    size_t i = 0;
    for (int fd = 0; fd < nfds; ++fd) {
        vfs::PollMask events = (is_set(sets.in, fd) ? SELECT_IN : 0) | (is_set(sets.out, fd) ? SELECT_OUT : 0) |
            (is_set(sets.ex, fd) ? SELECT_EX : 0);
        if (!events) continue;
        set[i].fd = fd;
        set[i].events = events;
        set[i].file = TRY(file_for(fd));  // select: EBADF for a descriptor that is not open
        ++i;
    }
    TRY(set.wait(deadline));
    // Rewrite the sets with the ready descriptors only.
    for (FdSet* s : {sets.in, sets.out, sets.ex})
        if (s) memset(s->words, 0, set_bytes(nfds));
    long total = 0;
    auto mark = [&](FdSet* s, int fd) {
        s->words[fd / 64] |= 1ul << (fd % 64);
        ++total;
    };
    for (size_t k = 0; k < set.size(); ++k) {
        Watched& w = set[k];
        if (sets.in && (w.events & IN) && (w.revents & SELECT_IN)) mark(sets.in, w.fd);
        if (sets.out && (w.events & OUT) && (w.revents & SELECT_OUT)) mark(sets.out, w.fd);
        if (sets.ex && (w.events & PRI) && (w.revents & SELECT_EX)) mark(sets.ex, w.fd);
    }
    uintptr_t addresses[3] = {in, out, ex};
    FdSet* results[3] = {sets.in, sets.out, sets.ex};
    for (int k = 0; k < 3; ++k)
        if (results[k]) TRY(copy_to_user(UserPtr<void>(addresses[k]), results[k]->words, set_bytes(nfds)));
    return total;
}

}  // namespace

// Implements poll(2).
ErrorOr<long> sys_poll(UserPtr<pollfd> fds, unsigned long count, int timeout_ms) {
    return do_poll(fds, count, timeout_ms == 0 ? immediate() : deadline_after_ms(timeout_ms));
}

// Implements ppoll(2): the timeout (updated with the time left) and a signal mask for the wait.
ErrorOr<long> sys_ppoll(UserPtr<pollfd> fds, unsigned long count, UserPtr<struct timespec> timeout,
                        UserPtr<const uint64_t> mask, size_t mask_size) {
    std::optional<sched::BigLockScope> big_lock;
    if (!mask.is_null()) big_lock.emplace();
    sched::Deadline deadline = TRY(deadline_after(UserPtr<const struct timespec>(timeout.address())));
    TemporarySignalMask temporary;
    TRY(temporary.install(mask, mask_size));
    auto result = temporary.finish(do_poll(fds, count, deadline));
    TRY(write_time_left(timeout, deadline));
    return result;
}

// Implements select(2); the timeval is updated with the time left, as Linux does.
ErrorOr<long> sys_select(int nfds, UserPtr<void> in, UserPtr<void> out, UserPtr<void> ex,
                         UserPtr<struct timeval> timeout) {
    sched::Deadline deadline = sched::Deadline::never();
    if (!timeout.is_null()) {
        timeval tv = TRY(read_user(UserPtr<const timeval>(timeout.address())));
        if (tv.tv_sec < 0 || tv.tv_usec < 0) return error(EINVAL);
        // Linux normalises tv_usec >= 1000000 rather than refusing it.
        uint64_t ns = uint64_t(tv.tv_sec) * 1000000000ull + uint64_t(tv.tv_usec) * 1000ull;
        deadline = ns == 0 ? immediate() : sched::Deadline::after_ns(ns);
    }
    auto result = do_select(nfds, in.address(), out.address(), ex.address(), deadline);
    if (!timeout.is_null() && !deadline.is_never()) {
        uint64_t now = platform::monotonic_ns();
        uint64_t left = deadline.monotonic_ns > now ? deadline.monotonic_ns - now : 0;
        TRY(write_user(timeout, timeval{time_t(left / 1000000000), suseconds_t(left % 1000000000 / 1000)}));
    }
    return result;
}

// Implements pselect6(2): the sixth argument points at {const sigset_t*, size_t}.
ErrorOr<long> sys_pselect6(int nfds, UserPtr<void> in, UserPtr<void> out, UserPtr<void> ex,
                           UserPtr<struct timespec> timeout, UserPtr<const void> mask_argument) {
    sched::Deadline deadline = TRY(deadline_after(UserPtr<const struct timespec>(timeout.address())));
    std::optional<sched::BigLockScope> big_lock;  // declared before the mask: given back after it
    TemporarySignalMask temporary;
    if (!mask_argument.is_null()) {
        struct {
            uintptr_t mask;
            size_t size;
        } argument;
        TRY(copy_from_user(&argument, mask_argument, sizeof argument));
        if (argument.mask) big_lock.emplace();
        TRY(temporary.install(UserPtr<const uint64_t>(argument.mask), argument.size));
    }
    auto result = temporary.finish(do_select(nfds, in.address(), out.address(), ex.address(), deadline));
    TRY(write_time_left(timeout, deadline));
    return result;
}

}  // namespace xos::sys
