// The machine's disks, found once at boot: virtio-blk devices (brought up by libos's driver, in
// the platform's virtio order) followed by the platform's own (xos/block.h: host files on
// hosted). The device files (/dev/vda, /dev/vdb, ...) are made from this list in its order.
#pragma once

#include <span>
#include <string_view>

#include "xos/block.h"

namespace xos::blk {

// `platform_tokens`: the command line's non-xos tokens (for platform::virtio_devices). Later
// calls return the same list.
std::span<platform::BlockDevice* const> devices(std::span<const std::string_view> platform_tokens);

}  // namespace xos::blk
