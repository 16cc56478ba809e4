// A set of disjoint, page-aligned address ranges kept sorted and coalesced, with fixed capacity
// (no allocation: it is what the allocators are built from). Portable; unit-tested on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace xos::mm {

struct Extent {
    uintptr_t base;
    size_t size;
    uintptr_t end() const { return base + size; }
};

class ExtentSet {
public:
    static constexpr size_t CAPACITY = 1024;

    // Adds [base, base+size), which must not overlap the set. False if out of capacity.
    [[nodiscard]] bool insert(uintptr_t base, size_t size);
    // Removes whatever part of [base, base+size) is in the set. False if out of capacity (the set
    // is then unchanged).
    [[nodiscard]] bool remove(uintptr_t base, size_t size);
    // True if every byte of [base, base+size) is in the set.
    bool contains(uintptr_t base, size_t size) const;
    // True if any byte of [base, base+size) is in the set.
    bool intersects(uintptr_t base, size_t size) const;
    // Lowest address of a free run of `size` bytes aligned to `align` (a power of two).
    std::optional<uintptr_t> first_fit(size_t size, size_t align) const;
    // Highest address of a free run of `size` bytes aligned to `align` that ends at or below
    // `limit` (top-down placement, as Linux's mmap).
    std::optional<uintptr_t> last_fit(size_t size, size_t align, uintptr_t limit) const;
    // Calls fn(base, size) for each piece of the set inside [base, base+size).
    template <typename Fn>
    void for_each_in(uintptr_t base, size_t size, Fn&& fn) const {
        uintptr_t end = base + size;
        for (size_t i = 0; i < m_count; ++i) {
            uintptr_t b = m_extents[i].base > base ? m_extents[i].base : base;
            uintptr_t e = m_extents[i].end() < end ? m_extents[i].end() : end;
            if (b < e) fn(b, size_t(e - b));
        }
    }

    size_t total() const;
    size_t count() const { return m_count; }
    const Extent& operator[](size_t i) const { return m_extents[i]; }
    const Extent* largest() const;

private:
    // Index of the first extent whose end is > address.
    size_t lower_bound(uintptr_t address) const;

    Extent m_extents[CAPACITY];
    size_t m_count = 0;
};

}  // namespace xos::mm
