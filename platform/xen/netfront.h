// netfront (platform/xen internal): the domain's first Xen network interface (device/vif/*) as
// the platform's NIC (xos/nic.h), under libos's host_net and lwIP.
#pragma once

#include "xos/nic.h"

namespace xos::xen {

// Connects the first vif xenstore lists (after xenstore and grant tables are up).
void init_netfront();
platform::HostNic* netfront_nic();

}  // namespace xos::xen
