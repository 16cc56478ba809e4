#include "net/host_net.h"

#include "mm/heap.h"
#include "sched/thread.h"

namespace xos::net {

ErrorOr<void> HostNet::initialize() {
    m_tx_buffer = static_cast<uint8_t*>(mm::alloc_pages(TX_BUFFER_PAGES));
    if (!m_tx_buffer) return error(ENOMEM);
    platform::entropy(m_mac, sizeof m_mac);
    m_mac[0] = uint8_t((m_mac[0] & 0xfe) | 0x02);  // unicast, locally administered
    // The NIC's interrupt ends RX and TX waits (device waits); without it the RX thread polls
    // (netif_glue.cpp).
    if (m_nic.set_interrupt_handler(on_interrupt, this)) {
        m_rx_waiters.set_wake_source(sched::WakeSource::Device);
        m_tx_waiters.set_wake_source(sched::WakeSource::Device);
    }
    return {};
}

size_t HostNet::max_frame() const {
    size_t limit = TX_BUFFER_PAGES * 4096;
    return m_nic.max_frame() < limit ? m_nic.max_frame() : limit;
}

// Interrupt context: the host fd became readable, or writable again.
void HostNet::on_interrupt(void* self) {
    sched::InterruptScope scope;
    auto* device = static_cast<HostNet*>(self);
    device->m_signaled = true;
    device->m_writable = true;
    sched::wake_all(device->m_rx_waiters);
    sched::wake_all(device->m_tx_waiters);
}

size_t HostNet::receive_frames(FrameHandler on_frame, void* context) {
    m_signaled = false;  // before reading: a SIGIO from now on means there may be more
    struct Target {
        FrameHandler on_frame;
        void* context;
    } target{on_frame, context};
    size_t frames = m_nic.receive(
        [](void* t, const uint8_t* frame, size_t length) {
            auto* target = static_cast<Target*>(t);
            const Segment segment{frame, length};
            target->on_frame(target->context, std::span<const Segment>(&segment, 1), length, 0);
        },
        &target, m_more);
    return frames;
}

ErrorOr<void> HostNet::transmit_frame(size_t length, FillHandler fill, void* context) {
    if (length > max_frame()) return error(EMSGSIZE);
    fill(context, m_tx_buffer);
    const uint8_t* pieces[] = {m_tx_buffer};
    const size_t lengths[] = {length};
    for (bool waited = false;; waited = true) {
        m_writable = false;
        switch (m_nic.send(pieces, lengths, 1)) {
        case platform::HostNic::SendResult::Sent: return {};
        case platform::HostNic::SendResult::TooBig: return error(EMSGSIZE);
        case platform::HostNic::SendResult::Gone: return error(ENETDOWN);
        case platform::HostNic::SendResult::Busy: break;
        }
        if (waited) return error(ENOBUFS);
        // The host is behind: wait for its "writable" interrupt, then try once more. The 20 ms
        // bound is the drop policy (the core lock is held; TCP retransmits), not a poll. The
        // interrupt sets m_writable and wakes under the big lock: a sender without it (a socket
        // syscall) takes it for the check and the sleep, so that wake-up is not lost.
        sched::BigLockScope big_lock;
        (void)sched::wait_event(
            m_tx_waiters, [&] { return bool(m_writable); }, sched::Deadline::after_ns(20'000'000),
            sched::Interruptible::No);
    }
}

}  // namespace xos::net
