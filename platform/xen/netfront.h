// netfront (platform/xen internal): the domain's first Xen network interface (device/vif/*) as
// the platform's NIC (xos/nic.h), under libos's host_net and lwIP.
#pragma once

#include "xos/nic.h"

namespace xos::xen {

// The NIC: on the first call (from libos, once its memory is up) the first vif xenstore lists is
// connected; null if there is none or it does not connect.
platform::HostNic* netfront_nic();

}  // namespace xos::xen
