#include "vfs/eventfd.h"

#include <sys/eventfd.h>

#include <cstring>

#include "base/user_ptr.h"
#include "mm/heap.h"
#include "sched/wait_queue.h"
#include "vfs/anon_fs.h"

namespace xos::vfs {

namespace {

class EventFdFile final : public File {
public:
    EventFdFile(RefPtr<Vnode> vnode, int flags, uint64_t initial, bool semaphore)
        : File(static_cast<RefPtr<Vnode>&&>(vnode), flags), m_count(initial), m_semaphore(semaphore) {}

    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset) override {
        if (offset) return error(ESPIPE);
        if (buffer.size() < sizeof(uint64_t)) return error(EINVAL);
        if (m_count == 0) {
            if (nonblocking()) return error(EAGAIN);
            TRY(sched::wait_event(m_wait, [&] { return m_count > 0; }));
        }
        uint64_t value = m_semaphore ? 1 : m_count;
        if (user_copy(buffer.data(), &value, sizeof value)) return error(EFAULT);  // unmapped while waiting
        m_count -= value;
        sched::wake_all(m_wait);
        m_poll.notify(poll_bits::WRITABLE);
        return sizeof value;
    }

    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t> offset) override {
        if (offset) return error(ESPIPE);
        if (data.size() < sizeof(uint64_t)) return error(EINVAL);
        uint64_t value;
        if (user_copy(&value, data.data(), sizeof value)) return error(EFAULT);
        if (value == UINT64_MAX) return error(EINVAL);
        if (UINT64_MAX - 1 - m_count < value) {
            if (nonblocking()) return error(EAGAIN);
            TRY(sched::wait_event(m_wait, [&] { return UINT64_MAX - 1 - m_count >= value; }));
        }
        m_count += value;
        sched::wake_all(m_wait);
        m_poll.notify(poll_bits::READABLE);
        return sizeof value;
    }

    ErrorOr<uint64_t> seek(int64_t, int) override { return error(ESPIPE); }
    ErrorOr<KString> anonymous_name() override { return KString::from("anon_inode:[eventfd]"); }
    PollMask poll_mask() override {
        PollMask mask = 0;
        if (m_count > 0) mask |= poll_bits::READABLE;
        if (m_count < UINT64_MAX - 1) mask |= poll_bits::WRITABLE;
        return mask;
    }
    PollWaiters* poll_waiters() override { return &m_poll; }

private:
    uint64_t m_count;
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
