#include "net/host_net.h"

#include "mm/heap.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"

namespace xos::net {

ErrorOr<void> HostNet::initialize() {
    m_tx_buffer = static_cast<uint8_t*>(mm::alloc_pages(TX_BUFFER_PAGES));
    if (!m_tx_buffer) return error(ENOMEM);
    platform::entropy(m_mac, sizeof m_mac);
    m_mac[0] = uint8_t((m_mac[0] & 0xfe) | 0x02);  // unicast, locally administered
    // The NIC's interrupt ends RX and TX waits (device waits); without it the RX thread polls
    // (netif_glue.cpp).
    if (m_nic.set_interrupt_handler(on_interrupt, this, platform::InterruptLocking::OwnLocks)) {
        m_rx_waiters.set_wake_source(sched::WakeSource::Device);
        m_tx_waiters.set_wake_source(sched::WakeSource::Device);
    }
    return {};
}

size_t HostNet::max_frame() const {
    size_t limit = TX_BUFFER_PAGES * 4096;
    return m_nic.max_frame() < limit ? m_nic.max_frame() : limit;
}

// Interrupt context, without the big lock: the host fd became readable, or writable again. The
// flags change under m_lock (the waiters check and queue under it); the wake-ups come after.
void HostNet::on_interrupt(void* self) {
    sched::InterruptScope scope;
    auto* device = static_cast<HostNet*>(self);
    bool rx_waiting, tx_waiting;
    {
        SpinLockGuard guard(device->m_lock);
        device->m_signaled = true;
        device->m_writable = true;
        rx_waiting = !device->m_rx_waiters.empty();
        tx_waiting = !device->m_tx_waiters.empty();
    }
    if (rx_waiting) sched::wake_all(device->m_rx_waiters);
    if (tx_waiting) sched::wake_all(device->m_tx_waiters);
}

void HostNet::wait_for_rx(bool link, sched::Deadline deadline) {
    SpinLockGuard guard(m_lock);
    for (;;) {
        if (m_signaled || m_more || link_up() != link) return;
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return;
        (void)sched::block_current_unlocking(&m_rx_waiters, m_lock, deadline, sched::Interruptible::No);
        m_lock.lock();
    }
}

size_t HostNet::receive_frames(FrameHandler on_frame, void* context) {
    {
        SpinLockGuard guard(m_lock);
        m_signaled = false;  // before reading: a SIGIO from now on means there may be more
    }
    struct Target {
        FrameHandler on_frame;
        void* context;
    } target{on_frame, context};
    bool more = false;
    size_t frames = m_nic.receive(
        [](void* t, const uint8_t* frame, size_t length) {
            auto* target = static_cast<Target*>(t);
            const Segment segment{frame, length};
            target->on_frame(target->context, std::span<const Segment>(&segment, 1), length, 0);
        },
        &target, more);
    SpinLockGuard guard(m_lock);
    m_more = more;
    return frames;
}

ErrorOr<void> HostNet::transmit_frame(size_t length, FillHandler fill, void* context) {
    if (length > max_frame()) return error(EMSGSIZE);
    fill(context, m_tx_buffer);
    const uint8_t* pieces[] = {m_tx_buffer};
    const size_t lengths[] = {length};
    for (bool waited = false;; waited = true) {
        {
            SpinLockGuard guard(m_lock);
            m_writable = false;
        }
        switch (m_nic.send(pieces, lengths, 1)) {
        case platform::HostNic::SendResult::Sent: return {};
        case platform::HostNic::SendResult::TooBig: return error(EMSGSIZE);
        case platform::HostNic::SendResult::Gone: return error(ENETDOWN);
        case platform::HostNic::SendResult::Busy: break;
        }
        if (waited) return error(ENOBUFS);
        // The host is behind: wait for its "writable" interrupt, then try once more. The 20 ms
        // bound is the drop policy (the core lock is held; TCP retransmits), not a poll. The
        // interrupt sets m_writable under m_lock and wakes after: the check and the queueing
        // below are one step under m_lock, so that wake-up is not lost.
        auto deadline = sched::Deadline::after_ns(20'000'000);
        SpinLockGuard guard(m_lock);
        while (!m_writable && platform::monotonic_ns() < deadline.monotonic_ns) {
            (void)sched::block_current_unlocking(&m_tx_waiters, m_lock, deadline, sched::Interruptible::No);
            m_lock.lock();
        }
    }
}

}  // namespace xos::net
