// blkfront (platform/xen internal): the domain's Xen disks (device/vbd/*) as block devices.
#pragma once

#include <span>

#include "xos/block.h"

namespace xos::xen {

// The disks: on the first call (from libos, once its memory is up) every disk xenstore lists is
// connected; those that connect are the list.
std::span<platform::BlockDevice* const> blkfront_devices();

}  // namespace xos::xen
