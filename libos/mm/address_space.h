// Physical memory: the RAM libos hands out, through the direct map (mm/memory.cpp keeps the one
// instance, address_space()), as page-granular extents carved out of the platform's free
// ranges. The kernel heap (heap.cpp) and the frame allocator (frames.h: pages for the app's
// demand-paged memory and for page tables) take their memory from it. Free memory is kept
// zeroed (pages are cleared when unmapped), so a new mapping costs nothing to hand out. No
// locking: libos code is not preempted (sched/thread.h). Portable: the host unit tests run it
// over an ordinary buffer.
//
// The app's memory is not here: its mappings, protections enforced by the page tables, guard
// pages, demand paging and the program break are VirtualMemory (vm.h). set_break, remap,
// discard and check_mapped date from when the app used this space directly: libos no longer
// calls them (the unit tests still cover them).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "mm/extent_set.h"

namespace xos::mm {

constexpr size_t PAGE_SIZE = 4096;

constexpr uintptr_t page_round_up(uintptr_t v) { return (v + PAGE_SIZE - 1) & ~uintptr_t(PAGE_SIZE - 1); }
constexpr bool page_aligned(uintptr_t v) { return (v & (PAGE_SIZE - 1)) == 0; }

enum class Placement { Anywhere, Hint, Fixed, FixedNoReplace };

class AddressSpace {
public:
    // Adds zeroed, page-aligned RAM to manage. False if out of extent capacity.
    [[nodiscard]] bool add_free_memory(uintptr_t base, size_t size);
    // Chooses where the program break starts (call once all memory is added).
    void place_break();

    ErrorOr<uintptr_t> map_anonymous(uintptr_t address, size_t length, Placement placement);
    ErrorOr<void> unmap(uintptr_t address, size_t length);
    ErrorOr<uintptr_t> remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move);
    ErrorOr<void> discard(uintptr_t address, size_t length);  // MADV_DONTNEED: zero-fill
    ErrorOr<void> check_mapped(uintptr_t address, size_t length) const;
    // brk(2): returns the new break, or the old one when the request cannot be met.
    uintptr_t set_break(uintptr_t requested);

    template <typename Fn>
    void for_each_mapping(Fn&& fn) const {
        for (size_t i = 0; i < m_mapped.count(); ++i) fn(m_mapped[i].base, m_mapped[i].size);
    }

    size_t free_bytes() const { return m_free.total(); }
    size_t mapped_bytes() const { return m_mapped.total(); }

private:
    ErrorOr<void> take_free(uintptr_t address, size_t length);
    ErrorOr<void> release(uintptr_t address, size_t length);

    ExtentSet m_free;  // zeroed RAM nobody uses
    ExtentSet m_mapped;  // RAM handed to the app (mmap, stacks, the break)
    uintptr_t m_break_base = 0;
    uintptr_t m_break = 0;  // current break (byte granular)
    uintptr_t m_break_mapped_end = 0;  // end of the pages backing it
};

}  // namespace xos::mm
