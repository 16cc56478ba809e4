// kvm has no host NIC: its network card is virtio-net (platform/api/xos/nic.h).
#include "xos/nic.h"

namespace xos::kvm {

platform::HostNic* no_nic() { return nullptr; }

}  // namespace xos::kvm
