// A VM's disks are virtio-blk devices, which libos drives itself (libos/blk): the kvm machine has
// none of its own.
#include "xos/block.h"

namespace xos::kvm {

std::span<platform::BlockDevice* const> no_block_devices() { return {}; }

}  // namespace xos::kvm
