// Physical 4 KiB pages for demand paging and page tables: a free list of single pages, refilled
// in 2 MiB chunks from the physical AddressSpace (which works on the direct map: a frame here is
// a physical address, platform::phys_to_virt reaches it). O(1) both ways and immune to fragmentation.
// Pages come out zeroed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::mm {

class AddressSpace;

// `ram_base`..`ram_end`: every frame `physical` can hand out lies there (the reference-count
// table covers it and is taken from `physical`).
void init_frames(AddressSpace& physical, uintptr_t ram_base, uintptr_t ram_end);
uintptr_t allocate_frame();  // 0 when memory is exhausted
void free_frame(uintptr_t frame);  // whoever else maps it: only for frames never shared
size_t free_frame_bytes();  // pages on the free list (not counting the AddressSpace's)
// Gives every page on the free list back to the physical AddressSpace, so that a contiguous
// request (the kernel heap's chunks) can use memory the free list took in 2 MiB refills and
// did not hand out. Returns the bytes given back.
size_t return_free_frames();

// Frames of the apps' private memory may be mapped by several address spaces at once (fork's
// copy on write). A frame starts with one reference (its allocation).
[[nodiscard]] bool ref_frame(uintptr_t frame);  // false: cannot be shared (copy it instead)
void unref_frame(uintptr_t frame);  // frees the frame with its last reference
bool frame_shared(uintptr_t frame);
size_t shared_frame_count();

}  // namespace xos::mm
