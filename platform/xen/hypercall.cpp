// The hypercall page (hypercall.h). It lives in .text (executable); Xen writes the stubs through
// the guest-physical address, not through our read-only mapping of it.
#include "xen/hypercall.h"

#include "x86_64/cpu.h"
#include "xos/platform.h"

// A page of the image's text, filled by Xen.
asm(R"(
    .pushsection .text.xos_xen_hypercall_page, "ax", @progbits
    .balign 4096
    .globl xos_xen_hypercall_page
xos_xen_hypercall_page:
    .fill 4096, 1, 0xcc
    .popsection
)");
extern "C" char xos_xen_hypercall_page[4096];

namespace xos::xen {

bool init_hypercalls(uint32_t leaf_base) {
    x86::CpuidResult pages = x86::cpuid(leaf_base + 2);
    if (pages.eax == 0) return false;  // number of hypercall pages
    x86::wrmsr(pages.ebx, platform::virt_to_phys(xos_xen_hypercall_page));
    return true;
}

long hypercall(Hypercall nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
    register uint64_t r10 asm("r10") = a4;
    register uint64_t r8 asm("r8") = a5;
    long result;
    void* stub = xos_xen_hypercall_page + nr * 32;
    asm volatile("call *%[stub]"
                 : "=a"(result), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                 : [stub] "r"(stub)
                 : "memory", "rcx", "r11");
    return result;
}

}  // namespace xos::xen
