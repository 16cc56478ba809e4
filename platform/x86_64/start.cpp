// The C++ half of boot on x86_64: from the PVH entry (pvh_entry.S) to libos.
#include <cstdint>

#include "boot_info.h"
#include "context.h"
#include "cpu.h"
#include "machine.h"
#include "trap.h"
#include "xos/libos.h"
#include "xos/platform.h"

extern "C" void xos_syscall_trap_entry();  // syscall_trap.S: the rewriter, then xos_syscall_entry

#include "smp.h"

namespace xos::x86 {

void init_syscall_instruction() {
    // Ring 0 to ring 0: CS = 0x08, SS = 0x10. Clear TF and DF on entry, leave IF alone.
    wrmsr(MSR_STAR, uint64_t(0x08) << 32);
    wrmsr(MSR_LSTAR, reinterpret_cast<uint64_t>(&xos_syscall_trap_entry));
    wrmsr(MSR_FMASK, 0x500);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
}

}  // namespace xos::x86

// `start_info`: the physical address of struct hvm_start_info (pvh_entry.S).
extern "C" [[noreturn]] void xos_x86_64_start(uintptr_t start_info) {
    using namespace xos;
    machine::select();
    machine::init_console();
    x86::init_descriptor_tables();
    x86::init_cpu_features();
    x86::init_fpu_contexts();
    x86::parse_boot_info(start_info);
    x86::init_paging();
    x86::init_syscall_instruction();
    machine::init();
    kernel_main();
}

namespace xos::platform {

uint64_t hwcap() { return x86::cpuid(1).edx; }

void set_thread_pointer(uintptr_t value) { x86::wrmsr(x86::MSR_FS_BASE, value); }

uintptr_t thread_pointer() { return x86::rdmsr(x86::MSR_FS_BASE); }

}  // namespace xos::platform
