// Hypercalls through the hypercall page (platform/xen internal). Xen fills the page with one
// 32-byte stub per hypercall (`mov $nr, %eax; vmcall/vmmcall; ret`) when the guest writes its
// physical address to the MSR CPUID leaf base+2 names; calling stub `nr` with the arguments in
// rdi, rsi, rdx, r10, r8 is a hypercall. Results are 0 or -errno (Xen's errno values are
// Linux's on x86).
#pragma once

#include <cstdint>

#include "xen/xen_abi.h"

namespace xos::xen {

// Installs the hypercall page (`leaf_base`: the CPUID leaf where Xen's signature was found).
// False if Xen offers no hypercall page.
bool init_hypercalls(uint32_t leaf_base);

long hypercall(Hypercall nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0);

inline long hvm_get_param(uint32_t index, uint64_t& value) {
    xen_hvm_param param{DOMID_SELF, index, 0};
    long rc = hypercall(HYPERVISOR_hvm_op, HVMOP_get_param, reinterpret_cast<uint64_t>(&param));
    value = param.value;
    return rc;
}
inline long hvm_set_param(uint32_t index, uint64_t value) {
    xen_hvm_param param{DOMID_SELF, index, value};
    return hypercall(HYPERVISOR_hvm_op, HVMOP_set_param, reinterpret_cast<uint64_t>(&param));
}
inline long event_channel_op(int op, void* argument) {
    return hypercall(HYPERVISOR_event_channel_op, uint64_t(op), reinterpret_cast<uint64_t>(argument));
}
inline long sched_op(int op, void* argument) {
    return hypercall(HYPERVISOR_sched_op, uint64_t(op), reinterpret_cast<uint64_t>(argument));
}
inline void notify(evtchn_port_t port) {
    evtchn_send send{port};
    event_channel_op(EVTCHNOP_send, &send);
}

}  // namespace xos::xen
