// The app's virtual memory: mappings (VMAs) in the platform's app region, backed by physical
// pages on first touch (so reserving far more than the machine has is fine until it is
// touched), with protections enforced by the page tables: a PROT_NONE guard page faults, a
// write to read-only memory faults, and so does running code from non-executable memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "mm/address_space.h"
#include "mm/extent_set.h"

namespace xos::mm {

enum class VmaKind : uint8_t { Anonymous, Stack, Heap };

struct Vma {
    uintptr_t start;
    uintptr_t end;
    int prot;  // PROT_* bits
    VmaKind kind;
};

class VirtualMemory {
public:
    // `region` is the platform's app region; physical pages come from `physical`.
    void init(uintptr_t region_base, size_t region_size, AddressSpace& physical);

    ErrorOr<uintptr_t> map(uintptr_t address, size_t length, int prot, Placement placement,
                           VmaKind kind = VmaKind::Anonymous);
    ErrorOr<void> unmap(uintptr_t address, size_t length);
    ErrorOr<void> protect(uintptr_t address, size_t length, int prot);
    ErrorOr<uintptr_t> remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move);
    ErrorOr<void> discard(uintptr_t address, size_t length);  // MADV_DONTNEED
    uintptr_t set_break(uintptr_t requested);

    // Demand paging: true if the fault was resolved.
    bool handle_fault(uintptr_t address, int needed_prot);
    const Vma* find(uintptr_t address) const;
    // Every byte of [address, address+size) is in mappings allowing `prot`.
    bool range_allows(uintptr_t address, size_t size, int prot) const;
    bool in_region(uintptr_t address) const { return address >= m_base && address < m_end; }

    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (size_t i = 0; i < m_count; ++i) fn(m_vmas[i]);
    }
    size_t resident_bytes() const { return m_resident_pages * PAGE_SIZE; }

private:
    size_t index_after(uintptr_t address) const;  // first VMA with end > address
    ErrorOr<void> reserve_slots(size_t extra);
    ErrorOr<void> split_at(uintptr_t address);    // makes `address` a VMA boundary
    ErrorOr<void> remove_range(uintptr_t start, uintptr_t end);
    ErrorOr<void> insert(const Vma& vma);
    void release_pages(uintptr_t start, uintptr_t end);

    uintptr_t m_base = 0, m_end = 0;
    AddressSpace* m_physical = nullptr;
    ExtentSet m_free_virtual;
    Vma* m_vmas = nullptr;
    size_t m_count = 0, m_capacity = 0;
    size_t m_resident_pages = 0;
    uintptr_t m_break_base = 0, m_break = 0, m_break_mapped_end = 0;
};

}  // namespace xos::mm
