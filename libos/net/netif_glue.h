// The lwIP netif over a FrameDevice (frame_device.h: virtio-net, or the hosted platform's host
// NIC): linkoutput copies frames into the device; a kernel thread ("net-rx") woken by the device's
// interrupt feeds received frames to lwIP under the core lock, in batches, and follows the link
// state. Kernel-only.
#pragma once

#include "base/error.h"

struct netif;

namespace xos::net {

class FrameDevice;

// Adds the netif for `device` (already initialized), makes it the default, sets it up and starts
// its RX thread. Call with the core lock held. `status_changed` is called (core lock held)
// whenever the netif's addresses or link change.
ErrorOr<struct netif*> add_netif(FrameDevice& device, void (*status_changed)(struct netif*));

// The device behind a netif add_netif made.
FrameDevice& device_of(struct netif* netif);

}  // namespace xos::net
