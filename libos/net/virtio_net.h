// virtio-net (virtio 1.x, section 5.1): one receive queue and one transmit queue on the shared
// virtqueue and transport (libos/virtio). lwIP-agnostic: the netif glue (netif_glue.cpp) copies
// frames between pbufs and the driver's buffers.
//
// - Features: VERSION_1 (legacy devices are refused), MAC, STATUS (link state), MRG_RXBUF,
//   CSUM and GUEST_CSUM when offered (QEMU offers the checksum features only when its backend
//   takes virtio-net headers, e.g. a tap device; not with user networking). No GSO.
// - Checksums: with CSUM, TCP segments leave with NEEDS_CSUM (the driver puts the pseudo-header
//   sum in the checksum field, the device completes it). With GUEST_CSUM, frames the device
//   marks DATA_VALID or NEEDS_CSUM are handed up with FRAME_CHECKSUM_VALID.
// - RX: RX_BUFFERS buffers of BUFFER_SIZE bytes are posted at start; poll_rx() hands back every
//   received frame and reposts the buffers in batches (one notification each).
// - TX: TX_BUFFERS copy buffers; transmit() reclaims completed ones first, and waits briefly for
//   one when all are in flight.
// Locking (docs/locking.md, "Network RX and TX"): m_lock, a SpinLock, guards both virtqueues,
// the TX buffer pool and the RX buffers waiting to be reposted; it is held only for ring work
// (never while a frame is handed to lwIP or copied in). The interrupt handler runs without the
// big lock: it takes m_lock, notes who waits, lets it go, then wakes them. The waits (the RX
// thread's, a sender's for a TX buffer) check and queue themselves under m_lock.
// Callers of poll_rx and transmit serialize besides (the lwIP core lock).
// The glue uses it through FrameDevice (frame_device.h); the templates below are the same calls
// without the indirection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "net/frame_device.h"
#include "virtio/device.h"

namespace xos::net {

class VirtioNet final : public FrameDevice {
public:
    static constexpr size_t BUFFER_SIZE = 2048;  // header (12) + a 1514-byte frame, with room
    static constexpr size_t HEADER_SIZE = 12;  // struct virtio_net_hdr (with num_buffers: 1.x)
    static constexpr size_t MAX_FRAME = BUFFER_SIZE - HEADER_SIZE;
    static constexpr uint16_t RX_BUFFERS = 256;
    static constexpr uint16_t TX_BUFFERS = 256;

    explicit VirtioNet(platform::VirtioTransport& transport) : m_device(transport) {}

    ErrorOr<void> initialize();
    const uint8_t* mac() const override { return m_mac; }
    const char* name() override { return m_device.transport().name(); }
    // Link state from the config space (always up without VIRTIO_NET_F_STATUS).
    bool link_up() override;
    size_t max_frame() const override { return MAX_FRAME; }
    bool transmit_idle() override;
    uint32_t capabilities() const override {
        return (m_guest_checksum ? RX_CHECKSUM_VALID : 0) | (m_checksum_offload ? TX_CHECKSUM_PARTIAL : 0);
    }

    // A received frame, possibly in several buffers (mergeable RX buffers).
    using Segment = FrameDevice::Segment;
    // Calls on_frame(std::span<const Segment>, total_length, flags) for every received frame,
    // then reposts the buffers. Returns the number of frames.
    template <typename OnFrame>
    size_t poll_rx(OnFrame&& on_frame);
    void wait_for_rx(bool link, sched::Deadline deadline) override;
    bool rx_interrupts() const override { return m_rx.waiters.wake_source() == sched::WakeSource::Device; }

    // Copies a frame of `length` bytes with fill(uint8_t* destination) and queues it. ENOBUFS
    // when every TX buffer stays in flight; EMSGSIZE for a frame over MAX_FRAME.
    template <typename Fill>
    ErrorOr<void> transmit(size_t length, Fill&& fill) {
        if (length > MAX_FRAME) return error(EMSGSIZE);
        uint8_t* buffer = TRY(acquire_tx_buffer());
        fill(buffer + HEADER_SIZE);
        return submit_tx(buffer, length);
    }

protected:
    size_t receive_frames(FrameHandler on_frame, void* context) override {
        return poll_rx([&](std::span<const Segment> segments, size_t total, uint32_t flags) {
            on_frame(context, segments, total, flags);
        });
    }
    ErrorOr<void> transmit_frame(size_t length, FillHandler fill, void* context) override {
        return transmit(length, [&](uint8_t* destination) { fill(context, destination); });
    }

private:
    static void on_interrupt(void* self);
    ErrorOr<uint8_t*> acquire_tx_buffer();
    ErrorOr<void> submit_tx(uint8_t* buffer, size_t length);
    void reclaim_tx() REQUIRES(m_lock);
    void repost_rx(uint8_t* buffer) REQUIRES(m_lock);
    void flush_rx();
    bool link_changed(bool link);

    // A batch of received frames taken off the ring under m_lock and handed up without it.
    static constexpr size_t BATCH_SEGMENTS = 64;
    struct Batch {
        Segment segments[BATCH_SEGMENTS];
        struct Frame {
            uint16_t first;  // index in segments
            uint16_t count;
            uint32_t total;
            uint32_t flags;
        } frames[BATCH_SEGMENTS];
        size_t segment_count = 0;
        size_t frame_count = 0;
    };
    // False if the ring had nothing.
    bool take_rx_batch(Batch& batch) REQUIRES(m_lock);

    virtio::Device m_device;
    SpinLock m_lock;
    // The rings are the queues' (virtio::QueueState::ring); m_lock guards them after initialize()
    // (the analysis cannot see through the references: every ring call below is under m_lock).
    virtio::QueueState m_queues[2];  // 0: receive, 1: transmit
    virtio::QueueState& m_rx = m_queues[0];
    virtio::QueueState& m_tx = m_queues[1];
    uint8_t m_mac[6] = {};
    bool m_mergeable = false;
    bool m_has_status = false;
    bool m_checksum_offload = false;  // VIRTIO_NET_F_CSUM
    bool m_guest_checksum = false;  // VIRTIO_NET_F_GUEST_CSUM
    uint8_t* m_tx_free[TX_BUFFERS] GUARDED_BY(m_lock) = {};
    size_t m_tx_free_count GUARDED_BY(m_lock) = 0;
    uint8_t* m_rx_pending[RX_BUFFERS] GUARDED_BY(m_lock) = {};  // buffers consumed, not yet reposted
    size_t m_rx_pending_count GUARDED_BY(m_lock) = 0;
};

template <typename OnFrame>
size_t VirtioNet::poll_rx(OnFrame&& on_frame) {
    size_t frames = 0;
    Batch batch;
    for (;;) {
        bool reaped;
        {
            SpinLockGuard guard(m_lock);
            reaped = take_rx_batch(batch);
        }
        if (!reaped) break;
        // Without m_lock: lwIP's input may transmit (transmit() takes it). The buffers are
        // reposted only after on_frame (flush_rx below), so the data stays put.
        for (size_t i = 0; i < batch.frame_count; ++i) {
            const auto& frame = batch.frames[i];
            on_frame(std::span<const Segment>(batch.segments + frame.first, frame.count), frame.total, frame.flags);
            ++frames;
        }
        flush_rx();
    }
    return frames;
}

}  // namespace xos::net
