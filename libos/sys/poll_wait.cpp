#include "sys/poll_wait.h"

#include <csignal>
#include <ctime>

#include "sched/thread.h"
#include "sys/signal.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

constexpr uint64_t NS_PER_MS = 1000000;
constexpr int64_t NS_PER_S = 1000000000;

PollEntry* entry_of(vfs::PollWaiter& waiter) {
    return reinterpret_cast<PollEntry*>(reinterpret_cast<char*>(&waiter) - offsetof(PollEntry, waiter));
}

void on_change(vfs::PollWaiter& waiter, vfs::PollMask key) {
    PollEntry& entry = *entry_of(waiter);
    if (key && !(key & entry.events)) return;
    PollSleeper& sleeper = *entry.sleeper;
    SpinLockGuard guard(sleeper.lock);
    // Already woken since its last scan: the notification that set `woken` woke it (under this
    // lock), or it has not slept yet and will see `woken`. No second wake-up (nor its IPI, under
    // this lock and the file's waiter-list lock: the other CPU would spin on them meanwhile).
    if (sleeper.woken) return;
    sleeper.woken = true;
    sched::wake_all(sleeper.queue);
}

}  // namespace

void watch(PollEntry& entry, vfs::File& file, vfs::PollMask events, PollSleeper& sleeper) {
    vfs::PollWaiters* waiters = file.poll_waiters();
    if (!waiters || __atomic_load_n(&entry.waiter.list, __ATOMIC_ACQUIRE)) return;
    entry.sleeper = &sleeper;
    entry.events = events | vfs::poll_bits::ERR | vfs::poll_bits::HUP;
    entry.waiter.file = &file;
    entry.waiter.on_change = on_change;
    waiters->add(entry.waiter);
}

void unwatch(PollEntry& entry) { vfs::PollWaiters::remove(entry.waiter); }

ErrorOr<void> sleep_until_notified(PollSleeper& sleeper, sched::Deadline deadline) {
    // As sched::wait_event, with the check and the queueing under the sleeper's lock.
    SpinLockGuard guard(sleeper.lock);
    for (;;) {
        if (sleeper.woken) return {};
        if (sched::signal_interrupts_current()) return error(EINTR);
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return error(ETIMEDOUT);
        auto slept = sched::block_current_unlocking(&sleeper.queue, sleeper.lock, deadline, sched::Interruptible::Yes);
        sleeper.lock.lock();
        if (!slept && slept.error().code == EINTR) return slept;
    }
}

sched::Deadline deadline_after_ms(long ms) {
    if (ms < 0) return sched::Deadline::never();
    return sched::Deadline::after_ns(uint64_t(ms) * NS_PER_MS);
}

ErrorOr<sched::Deadline> deadline_after(UserPtr<const struct timespec> timeout) {
    if (timeout.is_null()) return sched::Deadline::never();
    timespec t = TRY(read_user(timeout));
    if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= NS_PER_S) return error(EINVAL);
    if (t.tv_sec > INT64_MAX / NS_PER_S - 1) return sched::Deadline::never();
    return sched::Deadline::after_ns(uint64_t(t.tv_sec) * NS_PER_S + uint64_t(t.tv_nsec));
}

ErrorOr<void> write_time_left(UserPtr<struct timespec> timeout, sched::Deadline deadline) {
    if (timeout.is_null() || deadline.is_never()) return {};
    uint64_t now = platform::monotonic_ns();
    uint64_t left = deadline.monotonic_ns > now ? deadline.monotonic_ns - now : 0;
    return write_user(timeout, timespec{time_t(left / NS_PER_S), long(left % NS_PER_S)});
}

ErrorOr<void> TemporarySignalMask::install(UserPtr<const uint64_t> mask, size_t size) {
    if (mask.is_null()) return {};
    if (size != sizeof(uint64_t)) return error(EINVAL);
    uint64_t wanted = TRY(read_user(mask));
    constexpr uint64_t UNBLOCKABLE = (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1));
    uint64_t& blocked = sched::current().signal_mask;
    m_saved = blocked;
    m_active = true;
    blocked = wanted & ~UNBLOCKABLE;
    return {};
}

void TemporarySignalMask::finish_wait(bool interrupted) {
    if (!m_active) return;
    sched::Thread& self = sched::current();
    if (interrupted) {
        // As Linux's ppoll: the handler runs with the temporary mask and its frame holds the old
        // one, which rt_sigreturn (or the return without a handler) puts back.
        self.saved_signal_mask = m_saved;
        self.restore_signal_mask = true;
    } else {
        self.signal_mask = m_saved;
    }
    m_active = false;
}

}  // namespace xos::sys
