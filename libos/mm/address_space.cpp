#include "mm/address_space.h"

#include <cstring>

namespace xos::mm {

bool AddressSpace::add_free_memory(uintptr_t base, size_t size) {
    uintptr_t b = page_round_up(base);
    uintptr_t e = (base + size) & ~uintptr_t(PAGE_SIZE - 1);
    if (b >= e) return true;
    return m_free.insert(b, e - b);
}

void AddressSpace::place_break() {
    // Start the break in the middle of the largest free range: mappings are placed first-fit
    // from the bottom, so the break has room to grow upward for a long time.
    const Extent* largest = m_free.largest();
    if (!largest) return;
    uintptr_t middle = largest->base + largest->size / 2;
    m_break_base = m_break = m_break_mapped_end = (middle + (2 << 20) - 1) & ~uintptr_t((2 << 20) - 1);
    if (m_break_base >= largest->end()) m_break_base = m_break = m_break_mapped_end = page_round_up(middle);
}

ErrorOr<void> AddressSpace::take_free(uintptr_t address, size_t length) {
    if (!m_mapped.insert(address, length)) return error(ENOMEM);
    if (!m_free.remove(address, length)) {
        (void)m_mapped.remove(address, length);
        return error(ENOMEM);
    }
    return {};
}

ErrorOr<void> AddressSpace::release(uintptr_t address, size_t length) {
    // Only the mapped parts of the range are released; unmapping a hole is not an error.
    Extent pieces[64];
    size_t count = 0;
    bool overflow = false;
    m_mapped.for_each_in(address, length, [&](uintptr_t b, size_t s) {
        if (count < 64)
            pieces[count++] = {b, s};
        else
            overflow = true;
    });
    if (overflow) return error(ENOMEM);
    if (!m_mapped.remove(address, length)) return error(ENOMEM);
    for (size_t i = 0; i < count; ++i) {
        memset(reinterpret_cast<void*>(pieces[i].base), 0, pieces[i].size);
        if (!m_free.insert(pieces[i].base, pieces[i].size)) return error(ENOMEM);  // pages leak
    }
    return {};
}

ErrorOr<uintptr_t> AddressSpace::map_anonymous(uintptr_t address, size_t length, Placement placement) {
    if (length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (size < length) return error(ENOMEM);  // overflow

    if (placement == Placement::Fixed || placement == Placement::FixedNoReplace) {
        if (!page_aligned(address)) return error(EINVAL);
        if (address + size < address) return error(ENOMEM);
        if (placement == Placement::FixedNoReplace && m_mapped.intersects(address, size)) return error(EEXIST);
        // Every page must be either free or already ours (MAP_FIXED replaces our mappings).
        size_t covered = 0;
        m_free.for_each_in(address, size, [&](uintptr_t, size_t s) { covered += s; });
        m_mapped.for_each_in(address, size, [&](uintptr_t, size_t s) { covered += s; });
        if (covered != size) return error(ENOMEM);
        TRY(release(address, size));
        TRY(take_free(address, size));
        return address;
    }
    if (placement == Placement::Hint && address && page_aligned(address) && address + size > address &&
        m_free.contains(address, size)) {
        TRY(take_free(address, size));
        return address;
    }
    auto found = m_free.first_fit(size, PAGE_SIZE);
    if (!found) return error(ENOMEM);
    TRY(take_free(*found, size));
    return *found;
}

ErrorOr<void> AddressSpace::unmap(uintptr_t address, size_t length) {
    if (!page_aligned(address) || length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(EINVAL);
    return release(address, size);
}

ErrorOr<void> AddressSpace::check_mapped(uintptr_t address, size_t length) const {
    if (!m_mapped.contains(address, page_round_up(length))) return error(EFAULT);
    return {};
}

ErrorOr<uintptr_t> AddressSpace::remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move) {
    if (!page_aligned(old_address) || new_size == 0) return error(EINVAL);
    size_t old_len = page_round_up(old_size), new_len = page_round_up(new_size);
    if (new_len < new_size) return error(ENOMEM);
    if (!m_mapped.contains(old_address, old_len)) return error(EFAULT);
    if (new_len <= old_len) {
        TRY(release(old_address + new_len, old_len - new_len));
        return old_address;
    }
    if (m_free.contains(old_address + old_len, new_len - old_len)) {
        TRY(take_free(old_address + old_len, new_len - old_len));
        return old_address;
    }
    if (!may_move) return error(ENOMEM);
    uintptr_t moved = TRY(map_anonymous(0, new_len, Placement::Anywhere));
    memcpy(reinterpret_cast<void*>(moved), reinterpret_cast<const void*>(old_address), old_len);
    TRY(release(old_address, old_len));
    return moved;
}

ErrorOr<void> AddressSpace::discard(uintptr_t address, size_t length) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (!m_mapped.contains(address, size)) return error(ENOMEM);
    memset(reinterpret_cast<void*>(address), 0, size);
    return {};
}

uintptr_t AddressSpace::set_break(uintptr_t requested) {
    if (requested < m_break_base || !m_break_base) return m_break;
    uintptr_t new_end = page_round_up(requested);
    if (new_end < requested) return m_break;
    if (new_end > m_break_mapped_end) {
        if (!m_free.contains(m_break_mapped_end, new_end - m_break_mapped_end)) return m_break;
        if (!take_free(m_break_mapped_end, new_end - m_break_mapped_end)) return m_break;
    } else if (new_end < m_break_mapped_end) {
        if (!release(new_end, m_break_mapped_end - new_end)) return m_break;
    }
    m_break_mapped_end = new_end;
    // Linux zeroes the bytes between a lowered and a raised break; released pages are zero,
    // and so must be the tail of the last page when the break moves down.
    if (requested < m_break) memset(reinterpret_cast<void*>(requested), 0, new_end - requested);
    m_break = requested;
    return m_break;
}

}  // namespace xos::mm
