#include "vfs/eventfd.h"

#include <sys/eventfd.h>

#include <cstring>

#include "base/user_ptr.h"
#include "mm/heap.h"
#include "sched/wait_queue.h"
#include "vfs/anon_fs.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"

namespace xos::vfs {

namespace {

class EventFdFile final : public File {
public:
    EventFdFile(RefPtr<Vnode> vnode, int flags, uint64_t initial, bool semaphore)
        : File(static_cast<RefPtr<Vnode>&&>(vnode), flags), m_count(initial), m_semaphore(semaphore) {}

    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset) override {
        if (offset) return error(ESPIPE);
        if (buffer.size() < sizeof(uint64_t)) return error(EINVAL);
        uint64_t value;
        {
            SpinLockGuard guard(m_lock);
            if (m_count == 0 && nonblocking()) return error(EAGAIN);
            TRY(wait_locked([&]() REQUIRES(m_lock) { return m_count > 0; }));
            value = m_semaphore ? 1 : m_count;
            __atomic_store_n(&m_count, m_count - value, __ATOMIC_RELAXED);
        }
        sched::wake_all(m_wait);  // after m_lock (wait_locked: no waiter missed)
        m_poll.notify(poll_bits::WRITABLE);
        // The copy may fault (and block): outside the spinlock. If the buffer went away while
        // this thread waited, the value goes back.
        if (user_copy(buffer.data(), &value, sizeof value)) {
            {
                SpinLockGuard guard(m_lock);
                __atomic_store_n(&m_count, m_count + value, __ATOMIC_RELAXED);
            }
            sched::wake_all(m_wait);
            m_poll.notify(poll_bits::READABLE);
            return error(EFAULT);
        }
        return sizeof value;
    }

    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t> offset) override {
        if (offset) return error(ESPIPE);
        if (data.size() < sizeof(uint64_t)) return error(EINVAL);
        uint64_t value;
        if (user_copy(&value, data.data(), sizeof value)) return error(EFAULT);
        if (value == UINT64_MAX) return error(EINVAL);
        {
            SpinLockGuard guard(m_lock);
            if (UINT64_MAX - 1 - m_count < value && nonblocking()) return error(EAGAIN);
            TRY(wait_locked([&]() REQUIRES(m_lock) { return UINT64_MAX - 1 - m_count >= value; }));
            __atomic_store_n(&m_count, m_count + value, __ATOMIC_RELAXED);
        }
        sched::wake_all(m_wait);
        m_poll.notify(poll_bits::READABLE);
        return sizeof value;
    }

    ErrorOr<uint64_t> seek(int64_t, int) override { return error(ESPIPE); }
    bool io_without_big_lock() const override { return true; }
    ErrorOr<KString> anonymous_name() override { return KString::from("anon_inode:[eventfd]"); }
    // A snapshot without the lock (vfs/poll.h: every change is followed by a notification).
    PollMask poll_mask() override {
        uint64_t count = count_snapshot();
        PollMask mask = 0;
        if (count > 0) mask |= poll_bits::READABLE;
        if (count < UINT64_MAX - 1) mask |= poll_bits::WRITABLE;
        return mask;
    }
    PollWaiters* poll_waiters() override { return &m_poll; }

private:
    // Blocks on m_wait until ready() (Ok), or a signal must be handled (EINTR). With m_lock
    // held around each check; the thread is on m_wait before m_lock is let go to sleep
    // (block_current_unlocking), so a waker that changes m_count under m_lock and wakes m_wait
    // after letting m_lock go cannot miss it: a waiter that checked before the change is
    // queued by then, one that checks after sees it. The wake-up (and its reschedule IPI) is
    // sent without m_lock held, so other CPUs do not spin on it meanwhile.
    template <typename Predicate>
    ErrorOr<void> wait_locked(Predicate&& ready) REQUIRES(m_lock) {
        while (!ready()) {
            if (sched::signal_interrupts_current()) return error(EINTR);
            auto slept =
                sched::block_current_unlocking(&m_wait, m_lock, sched::Deadline::never(), sched::Interruptible::Yes);
            m_lock.lock();
            if (!slept && slept.error().code == EINTR) return slept;
        }
        return {};
    }

    // Read without the lock: an atomic load; what it answers may be stale at once.
    uint64_t count_snapshot() const NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&m_count, __ATOMIC_RELAXED); }

    // m_lock guards m_count; m_wait's list is the scheduler's (queued under m_lock, woken after
    // it); pollers (m_poll, its own lock) are told after it is let go.
    SpinLock m_lock;
    uint64_t m_count GUARDED_BY(m_lock);
    bool m_semaphore;
    sched::WaitQueue m_wait;
    PollWaiters m_poll;
};

}  // namespace

ErrorOr<RefPtr<File>> create_eventfd(unsigned initial, int flags) {
    if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) return error(EINVAL);
    RefPtr<Vnode> vnode = TRY(anon_fs().create_node(0600));
    File* file = mm::kcreate<EventFdFile>(vnode, O_RDWR | (flags & O_NONBLOCK), initial, flags & EFD_SEMAPHORE);
    if (!file) return error(ENOMEM);
    return RefPtr<File>(file);
}

}  // namespace xos::vfs
