// Machine bring-up for QEMU/KVM-style VMs after the CPU is in long mode.
#include "x86_64/machine.h"

namespace xos::kvm {
void init_clock();
}

namespace xos::machine {
void init() { kvm::init_clock(); }
}  // namespace xos::machine
