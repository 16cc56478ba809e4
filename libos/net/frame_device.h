// A network device as the lwIP glue (netif_glue.cpp) sees it: something that sends and receives
// whole Ethernet frames. Implemented by VirtioNet (virtio-net in a VM) and HostNet (a frame pipe
// the host gives a hosted image: passt or a tap device, platform/api/xos/nic.h).
//
// The glue serializes receive() and transmit() (the lwIP core lock); the RX thread (a kernel
// thread without the big lock) sleeps in wait_for_rx(). A device's interrupt handler runs without
// the big lock: it takes the device's own SpinLock (the waits check and queue under it) and wakes
// the waiters after letting it go (docs/locking.md, "Network RX and TX").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"
#include "sched/wait_queue.h"

namespace xos::net {

class FrameDevice {
public:
    FrameDevice() = default;
    FrameDevice(const FrameDevice&) = delete;
    FrameDevice& operator=(const FrameDevice&) = delete;

    // What the device does for the stack (checksum offload). Without either, lwIP computes and
    // checks every checksum.
    enum Capability : uint32_t {
        // Received frames may come with FRAME_CHECKSUM_VALID: their TCP/UDP checksum was
        // verified (or the frame came from the host with a partial checksum that the host
        // vouches for: then the checksum field must not be checked at all).
        RX_CHECKSUM_VALID = 1u << 0,
        // The device completes TCP checksums on transmit: the glue turns off lwIP's TCP
        // checksum generation for the netif and the driver marks each TCP segment.
        TX_CHECKSUM_PARTIAL = 1u << 1,
    };
    virtual uint32_t capabilities() const { return 0; }
    // Per received frame (the `flags` of the receive callback).
    static constexpr uint32_t FRAME_CHECKSUM_VALID = 1u << 0;

    // "virtio-mmio@0xfeb00e00", "host-nic (passt)": for log lines.
    virtual const char* name() = 0;
    virtual const uint8_t* mac() const = 0;
    virtual bool link_up() = 0;
    // Largest frame transmit() takes (Ethernet header included, no FCS).
    virtual size_t max_frame() const = 0;

    // A received frame, possibly in several pieces (virtio's mergeable RX buffers).
    struct Segment {
        const uint8_t* data;
        size_t length;
    };

    // Hands every frame received so far to on_frame(segments, total_length, flags) and returns
    // how many. The segments are valid during the call only; flags: FRAME_CHECKSUM_VALID.
    // Never blocks.
    template <typename OnFrame>
    size_t receive(OnFrame&& on_frame) {
        return receive_frames([](void* context, std::span<const Segment> segments, size_t total,
                                 uint32_t flags) { (*static_cast<OnFrame*>(context))(segments, total, flags); },
                              &on_frame);
    }
    // True when every frame given to transmit() has left the driver (the device consumed it).
    // Polled under the core lock before the image exits (net::drain_before_exit).
    virtual bool transmit_idle() { return true; }

    // Blocks until receive() has something to do or link_up() differs from `link`, at most until
    // `deadline` (a device wait). The check and the queueing are one step under the device's
    // lock, which the interrupt handler takes before it wakes: an interrupt on another CPU is
    // never slept through.
    virtual void wait_for_rx(bool link, sched::Deadline deadline) = 0;
    // True when the device's interrupts end wait_for_rx(); false: the caller polls.
    virtual bool rx_interrupts() const = 0;

    // Sends a frame of `length` bytes that fill(uint8_t* destination) writes. ENOBUFS when the
    // device stays busy (the frame is dropped; TCP retransmits), EMSGSIZE above max_frame().
    template <typename Fill>
    ErrorOr<void> transmit(size_t length, Fill&& fill) {
        return transmit_frame(
            length, [](void* context, uint8_t* destination) { (*static_cast<Fill*>(context))(destination); }, &fill);
    }

protected:
    ~FrameDevice() = default;
    using FrameHandler = void (*)(void* context, std::span<const Segment> segments, size_t total, uint32_t flags);
    using FillHandler = void (*)(void* context, uint8_t* destination);
    virtual size_t receive_frames(FrameHandler on_frame, void* context) = 0;
    virtual ErrorOr<void> transmit_frame(size_t length, FillHandler fill, void* context) = 0;
};

}  // namespace xos::net
