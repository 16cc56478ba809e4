// The lwIP netif over a virtio-net device: linkoutput copies frames into the driver's TX
// buffers; a kernel thread ("net-rx") woken by the device's interrupt feeds received frames to
// lwIP under the core lock, in batches, and follows the link state. Kernel-only.
#pragma once

#include "base/error.h"

struct netif;

namespace xos::net {

class VirtioNet;

// Adds the netif for `device` (already initialized), makes it the default, sets it up and starts
// its RX thread. Call with the core lock held. `status_changed` is called (core lock held)
// whenever the netif's addresses or link change.
ErrorOr<struct netif*> add_virtio_netif(VirtioNet& device, void (*status_changed)(struct netif*));

}  // namespace xos::net
