// The disks as block device files /dev/vda, /dev/vdb, ... (major 254, minor 16 * index, as
// Linux numbers virtio-blk disks), in the order of libos/blk/registry.h.
#pragma once

#include <span>
#include <string_view>

#include "base/error.h"

namespace xos::fs {

// After devfs is mounted. `platform_tokens`: the command line's non-xos tokens.
ErrorOr<void> add_block_devices(std::span<const std::string_view> platform_tokens);

}  // namespace xos::fs
