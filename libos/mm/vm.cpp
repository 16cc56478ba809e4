#include "mm/vm.h"

#include <sys/mman.h>

#include <cstring>

#include "base/klog.h"
#include "mm/frames.h"
#include "mm/heap.h"
#include "xos/platform.h"

namespace xos::mm {

namespace {

constexpr size_t BREAK_RESERVATION = 64ull << 30;  // virtual room for brk to grow into

uint32_t page_access(int prot) {
    uint32_t access = 0;
    if (prot & PROT_READ) access |= platform::PAGE_READ;
    if (prot & PROT_WRITE) access |= platform::PAGE_WRITE | platform::PAGE_READ;
    if (prot & PROT_EXEC) access |= platform::PAGE_EXEC | platform::PAGE_READ;
    return access;
}

void release_frame(uintptr_t phys, void* context) {
    free_frame(phys);
    --*static_cast<size_t*>(context);
}

void forget_frame(uintptr_t, void*) {}

}  // namespace

void VirtualMemory::init(uintptr_t region_base, size_t region_size, AddressSpace& physical) {
    m_base = region_base;
    m_end = region_base + region_size;
    m_physical = &physical;
    m_break_base = m_break = m_break_mapped_end = region_base;
    (void)m_free_virtual.insert(region_base + BREAK_RESERVATION, region_size - BREAK_RESERVATION);
}

size_t VirtualMemory::index_after(uintptr_t address) const {
    size_t low = 0, high = m_count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (m_vmas[mid].end <= address) low = mid + 1;
        else high = mid;
    }
    return low;
}

const Vma* VirtualMemory::find(uintptr_t address) const {
    size_t i = index_after(address);
    return i < m_count && m_vmas[i].start <= address ? &m_vmas[i] : nullptr;
}

ErrorOr<void> VirtualMemory::reserve_slots(size_t extra) {
    if (m_count + extra <= m_capacity) return {};
    size_t capacity = m_capacity ? m_capacity * 2 : 64;
    while (capacity < m_count + extra) capacity *= 2;
    auto* vmas = static_cast<Vma*>(kmalloc(capacity * sizeof(Vma)));
    if (!vmas) return error(ENOMEM);
    if (m_count) memcpy(vmas, m_vmas, m_count * sizeof(Vma));
    kfree(m_vmas);
    m_vmas = vmas;
    m_capacity = capacity;
    return {};
}

ErrorOr<void> VirtualMemory::insert(const Vma& vma) {
    TRY(reserve_slots(1));
    size_t i = index_after(vma.start);
    memmove(&m_vmas[i + 1], &m_vmas[i], (m_count - i) * sizeof(Vma));
    m_vmas[i] = vma;
    ++m_count;
    return {};
}

ErrorOr<void> VirtualMemory::split_at(uintptr_t address) {
    size_t i = index_after(address);
    if (i >= m_count || m_vmas[i].start >= address) return {};  // already a boundary (or a hole)
    TRY(reserve_slots(1));
    Vma tail = m_vmas[i];
    tail.start = address;
    m_vmas[i].end = address;
    memmove(&m_vmas[i + 2], &m_vmas[i + 1], (m_count - i - 1) * sizeof(Vma));
    m_vmas[i + 1] = tail;
    ++m_count;
    return {};
}

void VirtualMemory::release_pages(uintptr_t start, uintptr_t end) {
    platform::unmap_range(start, end, release_frame, &m_resident_pages);
}

ErrorOr<void> VirtualMemory::remove_range(uintptr_t start, uintptr_t end) {
    TRY(split_at(start));
    TRY(split_at(end));
    size_t first = index_after(start), last = first;
    while (last < m_count && m_vmas[last].end <= end) {
        release_pages(m_vmas[last].start, m_vmas[last].end);
        bool in_break = m_vmas[last].kind == VmaKind::Heap;
        if (!in_break && !m_free_virtual.insert(m_vmas[last].start, m_vmas[last].end - m_vmas[last].start))
            klog("xos: warning: virtual range %#lx-%#lx lost (free-range table full)", m_vmas[last].start,
                 m_vmas[last].end);
        ++last;
    }
    memmove(&m_vmas[first], &m_vmas[last], (m_count - last) * sizeof(Vma));
    m_count -= last - first;
    return {};
}

ErrorOr<uintptr_t> VirtualMemory::map(uintptr_t address, size_t length, int prot, Placement placement,
                                      VmaKind kind) {
    if (length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (size < length || size > m_end - m_base) return error(ENOMEM);
    uintptr_t start;
    if (placement == Placement::Fixed || placement == Placement::FixedNoReplace) {
        if (!page_aligned(address)) return error(EINVAL);
        if (address < m_base + BREAK_RESERVATION || address > m_end - size) return error(ENOMEM);
        size_t i = index_after(address);
        bool occupied = i < m_count && m_vmas[i].start < address + size;
        if (occupied && placement == Placement::FixedNoReplace) return error(EEXIST);
        if (occupied) TRY(remove_range(address, address + size));
        start = address;
    } else if (placement == Placement::Hint && page_aligned(address) && address >= m_base + BREAK_RESERVATION &&
               address <= m_end - size && m_free_virtual.contains(address, size)) {
        start = address;
    } else {
        auto found = m_free_virtual.first_fit(size, PAGE_SIZE);
        if (!found) return error(ENOMEM);
        start = *found;
    }
    TRY(reserve_slots(1));
    if (!m_free_virtual.remove(start, size)) return error(ENOMEM);
    TRY(insert(Vma{start, start + size, prot, kind}));
    return start;
}

ErrorOr<void> VirtualMemory::unmap(uintptr_t address, size_t length) {
    if (!page_aligned(address) || length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(EINVAL);
    uintptr_t start = address < m_base ? m_base : address;
    uintptr_t end = address + size > m_end ? m_end : address + size;
    if (start >= end) return {};  // nothing of ours there
    return remove_range(start, end);
}

ErrorOr<void> VirtualMemory::protect(uintptr_t address, size_t length, int prot) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(ENOMEM);
    if (size == 0) return {};
    uintptr_t end = address + size;
    // The whole range must be mapped.
    for (uintptr_t at = address; at < end;) {
        const Vma* vma = find(at);
        if (!vma) return error(ENOMEM);
        at = vma->end;
    }
    TRY(split_at(address));
    TRY(split_at(end));
    for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i) m_vmas[i].prot = prot;
    platform::protect_range(address, end, page_access(prot));
    return {};
}

ErrorOr<uintptr_t> VirtualMemory::remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move) {
    if (!page_aligned(old_address) || new_size == 0) return error(EINVAL);
    size_t old_len = page_round_up(old_size), new_len = page_round_up(new_size);
    if (new_len < new_size || new_len > m_end - m_base) return error(ENOMEM);
    const Vma* vma = find(old_address);
    if (!vma || vma->end < old_address + old_len || vma->kind == VmaKind::Heap) return error(EFAULT);
    if (new_len <= old_len) {
        if (new_len < old_len) TRY(remove_range(old_address + new_len, old_address + old_len));
        return old_address;
    }
    int prot = vma->prot;
    VmaKind kind = vma->kind;
    uintptr_t old_end = old_address + old_len;
    if (m_free_virtual.contains(old_end, new_len - old_len)) {
        TRY(map(old_end, new_len - old_len, prot, Placement::FixedNoReplace, kind));
        return old_address;
    }
    if (!may_move) return error(ENOMEM);
    uintptr_t moved = TRY(map(0, new_len, prot, Placement::Anywhere, kind));
    // Move the pages themselves: no copy, the frames change address.
    uint32_t access = page_access(prot);
    for (uintptr_t offset = 0; offset < old_len; offset += PAGE_SIZE) {
        uintptr_t frame = platform::mapped_page(old_address + offset);
        if (!frame) continue;
        if (!platform::map_page(moved + offset, frame, access)) {
            (void)remove_range(moved, moved + new_len);
            return error(ENOMEM);
        }
    }
    platform::unmap_range(old_address, old_end, forget_frame, nullptr);
    TRY(remove_range(old_address, old_end));
    return moved;
}

ErrorOr<void> VirtualMemory::discard(uintptr_t address, size_t length) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (!range_allows(address, size, PROT_NONE)) return error(ENOMEM);
    release_pages(address, address + size);
    return {};
}

uintptr_t VirtualMemory::set_break(uintptr_t requested) {
    if (requested < m_break_base || requested > m_break_base + BREAK_RESERVATION) return m_break;
    uintptr_t new_end = page_round_up(requested);
    if (new_end > m_break_mapped_end) {
        Vma* last = m_count && m_vmas[0].kind == VmaKind::Heap ? &m_vmas[0] : nullptr;
        if (last && last->end == m_break_mapped_end) {
            last->end = new_end;
        } else if (!insert(Vma{m_break_mapped_end, new_end, PROT_READ | PROT_WRITE, VmaKind::Heap})) {
            return m_break;
        }
    } else if (new_end < m_break_mapped_end) {
        if (!remove_range(new_end, m_break_mapped_end)) return m_break;
    }
    m_break_mapped_end = new_end;
    // Linux hands out zeroes above the break: clear the tail of the last page when it moves down.
    if (requested < m_break && platform::mapped_page(requested & ~uintptr_t(PAGE_SIZE - 1)))
        memset(reinterpret_cast<void*>(requested), 0, new_end - requested);
    m_break = requested;
    return m_break;
}

bool VirtualMemory::handle_fault(uintptr_t address, int needed_prot) {
    const Vma* vma = find(address);
    if (!vma || (vma->prot & needed_prot) != needed_prot || vma->prot == PROT_NONE) return false;
    uintptr_t page = address & ~uintptr_t(PAGE_SIZE - 1);
    if (platform::mapped_page(page)) return false;  // present: a real protection fault
    uintptr_t frame = allocate_frame();
    if (!frame || !platform::map_page(page, frame, page_access(vma->prot))) {
        klog("xos: out of memory: no physical page left for address 0x%lx (%zu MiB resident)", address,
             resident_bytes() >> 20);
        platform::shutdown(platform::ExitKind::Crash, 128 + 9, "out of memory");
    }
    ++m_resident_pages;
    return true;
}

bool VirtualMemory::range_allows(uintptr_t address, size_t size, int prot) const {
    if (size == 0) return true;
    uintptr_t end = address + size;
    if (end < address) return false;
    for (uintptr_t at = address; at < end;) {
        const Vma* vma = find(at);
        if (!vma || (vma->prot & prot) != prot) return false;
        at = vma->end;
    }
    return true;
}

}  // namespace xos::mm
