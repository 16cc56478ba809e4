// A NIC the host gives the image directly, for platforms without virtio devices: on hosted, a
// host fd that carries Ethernet frames (a passt socket or a tap device, docs/hosted.md). The
// platform does the framing and the host I/O; libos (libos/net/host_net.cpp) puts a FrameDevice
// and lwIP on top. kvm has none: its NIC is virtio-net (xos/virtio.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "xos/platform.h"

namespace xos::platform {

class HostNic {
public:
    HostNic() = default;
    HostNic(const HostNic&) = delete;
    HostNic& operator=(const HostNic&) = delete;

    // "host-nic (passt stream, fd 3)": for log lines.
    virtual const char* name() const = 0;
    // Largest frame either way (Ethernet header included, no FCS).
    virtual size_t max_frame() const = 0;
    // False once the host side has gone (the peer closed the socket, an I/O error): the
    // link is down for good.
    virtual bool connected() const = 0;

    // Calls on_frame(context, frame, length) for every whole frame the host has delivered so
    // far, without blocking; a frame is valid during its call only. Also retries output that
    // send() left queued. Returns the number of frames; `more` is set when it stopped early (a
    // batch limit) with more input possibly waiting.
    virtual size_t receive(void (*on_frame)(void* context, const uint8_t* frame, size_t length), void* context,
                           bool& more) = 0;

    enum class SendResult {
        Sent,  // handed to the host (or queued behind a frame the host took in part)
        Busy,  // the host's queue is full: nothing was sent; retry after the next interrupt
        TooBig,  // over max_frame()
        Gone,  // the host side has gone
    };
    // Sends one frame given in pieces (concatenated). Never blocks.
    virtual SendResult send(const uint8_t* const* pieces, const size_t* lengths, size_t count) = 0;

    // Calls handler(context) in interrupt context (interrupts off) whenever the host fd becomes
    // readable or writable again. False if the platform cannot (the driver must then poll).
    // `locking`: under the big lock or not (xos/platform.h; Xen has one vCPU and ignores it).
    virtual bool set_interrupt_handler(void (*handler)(void* context), void* context, InterruptLocking locking) = 0;

protected:
    ~HostNic() = default;
};

// The host NIC, or nullptr (kvm; a hosted image started without one).
HostNic* host_nic();

}  // namespace xos::platform
