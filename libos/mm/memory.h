// Physical memory and the apps' address spaces, set up at boot from the platform's free memory.
#pragma once

#include "mm/address_space.h"
#include "mm/vm.h"

namespace xos::mm {

void init_memory();
// Physical RAM (through the direct map): the kernel heap, page tables, page frames.
AddressSpace& address_space();
// The current process's virtual memory (mmap, brk, stacks): the boot one until set_current.
VirtualMemory& app_memory();
// Makes `memory` the current one and loads its page tables (what VirtualMemory::activate does;
// the scheduler calls it when it switches to a thread of another process).
void set_current(VirtualMemory* memory);
// Only app_memory()'s pointer (VirtualMemory::activate has loaded the page tables).
void set_current_memory(VirtualMemory* memory);
// RAM not in use by anybody (what /proc/meminfo reports as MemFree).
size_t free_memory_bytes();

}  // namespace xos::mm
