// What the platform learned at boot from struct hvm_start_info (the PVH boot ABI) and from the
// link: the memory map, the command line and where the image lies.
#pragma once

#include <cstddef>
#include <cstdint>

#include "xos/platform.h"

namespace xos::x86 {

// Xen public/arch-x86/hvm/start_info.h (PVH boot ABI).
struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;  // version >= 1
    uint32_t memmap_entries;
    uint32_t reserved;
};
struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
constexpr uint32_t HVM_START_MAGIC = 0x336ec578;
constexpr uint32_t HVM_MEMMAP_TYPE_RAM = 1;

// Reads start_info at physical `start_info` (copying what must outlive boot) and computes the
// free memory ranges (physical).
void parse_boot_info(uintptr_t start_info);

// The ACPI RSDP's physical address that start_info gave (0: none; smp.cpp then searches the BIOS area).
uintptr_t rsdp_address();

// Highest RAM address + 1, as found in the memory map.
uintptr_t ram_top();

// Builds the final direct map (all RAM and the 32-bit MMIO hole, page 0 unmapped) and removes
// the boot code's mapping of the first GiB at 0.
void init_paging();

// Makes device memory (a PCI BAR) at physical [base, base + size) reachable in the direct map
// (platform::phys_to_virt(base)), uncached (PCD|PWT), not executable. Ranges the direct map
// already covers (the 32-bit MMIO hole; caching there follows the firmware's MTRRs) are left as
// they are. False if a page table could not be allocated or the range is beyond the direct map.
bool map_device_memory(uintptr_t base, size_t size);

}  // namespace xos::x86
