// Physical memory and the apps' address spaces, set up at boot from the platform's free memory.
#pragma once

#include "base/spinlock.h"
#include "mm/address_space.h"
#include "mm/vm.h"

namespace xos::mm {

void init_memory();
// Physical RAM (through the direct map): the kernel heap, page tables, page frames.
AddressSpace& address_space();
// Guards address_space()'s map_anonymous/unmap (the heap and the frame allocator take it, inside
// their own locks: docs/locking.md). Its byte counts are read without it, as statistics.
SpinLock& physical_memory_lock();
// address_space().map_anonymous / unmap under physical_memory_lock().
ErrorOr<uintptr_t> map_physical(size_t size);
void unmap_physical(uintptr_t address, size_t size);
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
