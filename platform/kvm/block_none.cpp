// A VM's disks are virtio-blk devices, which libos drives itself (libos/blk): the platform has
// none of its own.
#include "xos/block.h"

namespace xos::platform {

std::span<BlockDevice* const> host_block_devices() { return {}; }

}  // namespace xos::platform
