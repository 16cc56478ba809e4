// blkfront (platform/xen internal): the domain's Xen disks (device/vbd/*) as block devices.
#pragma once

#include <span>

#include "xos/block.h"

namespace xos::xen {

// Connects every disk xenstore lists (after xenstore and grant tables are up).
void init_blkfront();
std::span<platform::BlockDevice* const> blkfront_devices();

}  // namespace xos::xen
