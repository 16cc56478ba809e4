// What the platform learned at boot from struct hvm_start_info (the PVH boot ABI) and from the
// link: the memory map, the command line and where the image lies.
#pragma once

#include <cstddef>
#include <cstdint>

#include "start_info.h"
#include "xos/platform.h"

namespace xos::x86 {

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
