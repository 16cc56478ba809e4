// kvm has no host NIC: its network card is virtio-net (platform/api/xos/nic.h).
#include "xos/nic.h"

namespace xos::platform {

HostNic* host_nic() { return nullptr; }

}  // namespace xos::platform
