// Physical 4 KiB pages for demand paging and page tables: a free list of single pages, refilled
// in 2 MiB chunks from the physical AddressSpace (which works on the direct map: a frame here is
// a physical address, platform::phys_to_virt reaches it). O(1) both ways and immune to fragmentation.
// Pages come out zeroed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::mm {

class AddressSpace;

void init_frames(AddressSpace& physical);
uintptr_t allocate_frame();  // 0 when memory is exhausted
void free_frame(uintptr_t frame);
size_t free_frame_bytes();  // pages on the free list (not counting the AddressSpace's)

}  // namespace xos::mm
