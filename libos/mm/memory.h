// The image's one address space, set up at boot from the platform's free memory.
#pragma once

#include "mm/address_space.h"
#include "mm/vm.h"

namespace xos::mm {

void init_memory();
// Physical RAM (through the direct map): the kernel heap, page tables, page frames.
AddressSpace& address_space();
// The app's virtual memory (mmap, brk, stacks).
VirtualMemory& app_memory();
// RAM not in use by anybody (what /proc/meminfo reports as MemFree).
size_t free_memory_bytes();

// The app's mappings, for /proc/self/maps: [start, end), PROT_* bits, and a name such as
// "[heap]" or "[stack]" (empty for anonymous memory).
struct MappingView {
    uintptr_t start;
    uintptr_t end;
    int prot;
    const char* name;
};
void for_each_app_mapping(void (*visit)(const MappingView&, void* context), void* context);

}  // namespace xos::mm
