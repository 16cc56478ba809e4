#include "mm/extent_set.h"

#include <cstring>

namespace xos::mm {

size_t ExtentSet::lower_bound(uintptr_t address) const {
    size_t low = 0, high = m_count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (m_extents[mid].end() <= address)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

bool ExtentSet::insert(uintptr_t base, size_t size) {
    if (!size) return true;
    size_t i = lower_bound(base);
    bool joins_left = i > 0 && m_extents[i - 1].end() == base;
    bool joins_right = i < m_count && m_extents[i].base == base + size;
    if (joins_left && joins_right) {
        m_extents[i - 1].size += size + m_extents[i].size;
        memmove(&m_extents[i], &m_extents[i + 1], (m_count - i - 1) * sizeof(Extent));
        --m_count;
    } else if (joins_left) {
        m_extents[i - 1].size += size;
    } else if (joins_right) {
        m_extents[i].base = base;
        m_extents[i].size += size;
    } else {
        if (m_count == CAPACITY) return false;
        memmove(&m_extents[i + 1], &m_extents[i], (m_count - i) * sizeof(Extent));
        m_extents[i] = {base, size};
        ++m_count;
    }
    return true;
}

bool ExtentSet::remove(uintptr_t base, size_t size) {
    if (!size) return true;
    uintptr_t end = base + size;
    size_t i = lower_bound(base);
    // A removal strictly inside one extent splits it in two and needs a free slot.
    if (i < m_count && m_extents[i].base < base && m_extents[i].end() > end) {
        if (m_count == CAPACITY) return false;
        Extent tail{end, m_extents[i].end() - end};
        m_extents[i].size = base - m_extents[i].base;
        memmove(&m_extents[i + 2], &m_extents[i + 1], (m_count - i - 1) * sizeof(Extent));
        m_extents[i + 1] = tail;
        ++m_count;
        return true;
    }
    size_t first_removed = i, removed = 0;
    for (; i < m_count && m_extents[i].base < end; ++i) {
        Extent& e = m_extents[i];
        if (e.base < base) {  // keep the head
            e.size = base - e.base;
            first_removed = i + 1;
        } else if (e.end() > end) {  // keep the tail
            e.size = e.end() - end;
            e.base = end;
        } else {
            ++removed;
        }
    }
    if (removed) {
        memmove(&m_extents[first_removed], &m_extents[first_removed + removed],
                (m_count - first_removed - removed) * sizeof(Extent));
        m_count -= removed;
    }
    return true;
}

bool ExtentSet::contains(uintptr_t base, size_t size) const {
    if (!size) return true;
    size_t i = lower_bound(base);
    return i < m_count && m_extents[i].base <= base && m_extents[i].end() >= base + size;
}

bool ExtentSet::intersects(uintptr_t base, size_t size) const {
    if (!size) return false;
    size_t i = lower_bound(base);
    return i < m_count && m_extents[i].base < base + size;
}

std::optional<uintptr_t> ExtentSet::first_fit(size_t size, size_t align) const {
    for (size_t i = 0; i < m_count; ++i) {
        uintptr_t aligned = (m_extents[i].base + align - 1) & ~uintptr_t(align - 1);
        if (aligned < m_extents[i].end() && m_extents[i].end() - aligned >= size) return aligned;
    }
    return std::nullopt;
}

std::optional<uintptr_t> ExtentSet::last_fit(size_t size, size_t align, uintptr_t limit) const {
    for (size_t i = m_count; i-- > 0;) {
        uintptr_t end = m_extents[i].end() < limit ? m_extents[i].end() : limit;
        if (end < m_extents[i].base || end - m_extents[i].base < size) continue;
        uintptr_t aligned = (end - size) & ~uintptr_t(align - 1);
        if (aligned >= m_extents[i].base) return aligned;
    }
    return std::nullopt;
}

size_t ExtentSet::total() const {
    size_t sum = 0;
    for (size_t i = 0; i < m_count; ++i) sum += m_extents[i].size;
    return sum;
}

const Extent* ExtentSet::largest() const {
    const Extent* best = nullptr;
    for (size_t i = 0; i < m_count; ++i)
        if (!best || m_extents[i].size > best->size) best = &m_extents[i];
    return best;
}

}  // namespace xos::mm
