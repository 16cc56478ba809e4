// The FrameDevice over the platform's host NIC (platform/api/xos/nic.h): a hosted image's frame
// pipe to passt or a tap device. The MAC is random and locally administered (the host side
// learns it from our frames). RX: the NIC's interrupt (SIGIO on hosted) sets a flag and wakes
// the RX thread (wait_for_rx); receive() drains the host fd. TX: frames are copied into one
// buffer and handed to the NIC whole; when the host's queue is full, transmit() waits briefly
// for the next interrupt, then drops the frame (ENOBUFS, as VirtioNet does). Kernel-only.
// Locking: the interrupt runs without the big lock; m_lock (a SpinLock) guards the flags it sets,
// the waits check and queue under it, and the handler wakes after letting it go. receive() and
// transmit() are serialized by the lwIP core lock (m_more, the TX buffer, the NIC's own state).
#pragma once

#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "net/frame_device.h"
#include "xos/nic.h"

namespace xos::net {

class HostNet final : public FrameDevice {
public:
    static constexpr size_t TX_BUFFER_PAGES = 16;  // the largest frame (64 KiB)

    explicit HostNet(platform::HostNic& nic) : m_nic(nic) {}
    ErrorOr<void> initialize();

    const char* name() override { return m_nic.name(); }
    const uint8_t* mac() const override { return m_mac; }
    bool link_up() override { return m_nic.connected(); }
    size_t max_frame() const override;
    void wait_for_rx(bool link, sched::Deadline deadline) override;
    bool rx_interrupts() const override { return m_rx_waiters.wake_source() == sched::WakeSource::Device; }

protected:
    size_t receive_frames(FrameHandler on_frame, void* context) override;
    ErrorOr<void> transmit_frame(size_t length, FillHandler fill, void* context) override;

private:
    static void on_interrupt(void* self);

    platform::HostNic& m_nic;
    uint8_t m_mac[6] = {};
    uint8_t* m_tx_buffer = nullptr;
    SpinLock m_lock;
    bool m_signaled GUARDED_BY(m_lock) = true;  // the first receive() looks at the fd without waiting
    bool m_more GUARDED_BY(m_lock) = false;
    bool m_writable GUARDED_BY(m_lock) = false;
    sched::WaitQueue m_rx_waiters;
    sched::WaitQueue m_tx_waiters;
};

}  // namespace xos::net
