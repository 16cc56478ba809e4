#include "mm/vm.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstring>

#include "base/klog.h"
#include "mm/file_cache.h"
#include "mm/frames.h"
#include "mm/heap.h"
#include "vfs/file.h"
#include "vfs/vnode.h"
#include "xos/platform.h"

namespace xos::mm {

namespace {

// Placement, as on Linux (docs/threads-and-memory.md, "The address-space layout"): the whole
// region is free virtual space; mmap without an address (or with a hint that is taken) goes
// top-down from below the room kept for the main stack at the top; the break starts at
// DEFAULT_BREAK_BASE until execve puts it right after the executable, and grows into free space.
constexpr uintptr_t DEFAULT_BREAK_BASE = 16ull << 40;  // 16 TiB: away from ET_EXEC and PIE bases
constexpr size_t STACK_ROOM = 256ull << 20;  // kept free at the top for the main stack (exec.cpp)

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

[[noreturn]] void out_of_memory(uintptr_t address, size_t resident_bytes) {
    klog("xos: out of memory: no physical page left for address 0x%lx (%zu MiB resident)", address,
         resident_bytes >> 20);
    platform::shutdown(platform::ExitKind::Crash, 128 + 9, "out of memory");
}

// A file mapping's page past the end of the file (or one its file system cannot provide): Linux
// sends SIGBUS. xos has no signal delivery for faults yet, so the image ends as Linux would end
// a program that does not handle it (status 135).
[[noreturn]] void bus_error(uintptr_t address, uint64_t index) {
    char reason[160];
    snprintf(reason, sizeof reason, "bus error (SIGBUS): access at 0x%lx to page %lu of a mapped file, past its end",
             address, static_cast<unsigned long>(index));
    klog("xos: fatal: %s", reason);
    platform::shutdown(platform::ExitKind::Crash, 128 + 7, reason);
}

uint64_t file_index(const Vma& vma, uintptr_t page) { return (vma.offset + (page - vma.start)) / PAGE_SIZE; }

}  // namespace

void VirtualMemory::init(uintptr_t region_base, size_t region_size, AddressSpace& physical) {
    m_base = region_base;
    m_end = region_base + region_size;
    m_physical = &physical;
    m_break_base = m_break = m_break_mapped_end =
        DEFAULT_BREAK_BASE > region_base && DEFAULT_BREAK_BASE < m_end ? DEFAULT_BREAK_BASE : region_base;
    m_mmap_top = region_size > 2 * STACK_ROOM ? m_end - STACK_ROOM : m_end;
    (void)m_free_virtual.insert(region_base, region_size);
}

void VirtualMemory::set_break_base(uintptr_t address) {
    m_break_base = m_break = m_break_mapped_end = page_round_up(address);
}

size_t VirtualMemory::index_after(uintptr_t address) const {
    size_t low = 0, high = m_count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (m_vmas[mid].end <= address)
            low = mid + 1;
        else
            high = mid;
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
    if (tail.file) {
        tail.offset += address - m_vmas[i].start;
        tail.file->ref();
    }
    m_vmas[i].end = address;
    memmove(&m_vmas[i + 2], &m_vmas[i + 1], (m_count - i - 1) * sizeof(Vma));
    m_vmas[i + 1] = tail;
    ++m_count;
    return {};
}

void VirtualMemory::release_pages(const Vma& vma, uintptr_t start, uintptr_t end) {
    if (vma.kind != VmaKind::File) return platform::unmap_range(start, end, release_frame, &m_resident_pages);
    // The file's cached pages stay (the cache owns them); private copies are freed.
    FileCache* cache = FileCache::existing(*vma.file);
    for (uintptr_t page = start; page < end; page += PAGE_SIZE) {
        uintptr_t frame = platform::mapped_page(page);
        if (!frame || (cache && frame == cache->page(file_index(vma, page), false))) continue;
        free_frame(frame);
        --m_resident_pages;
    }
    platform::unmap_range(start, end, forget_frame, nullptr);
}

ErrorOr<void> VirtualMemory::remove_range(uintptr_t start, uintptr_t end) {
    TRY(split_at(start));
    TRY(split_at(end));
    for (;;) {
        size_t i = index_after(start);
        if (i >= m_count || m_vmas[i].start >= end) break;
        Vma vma = m_vmas[i];
        release_pages(vma, vma.start, vma.end);
        if (!m_free_virtual.insert(vma.start, vma.end - vma.start))
            klog("xos: warning: virtual range %#lx-%#lx lost (free-range table full)", vma.start, vma.end);
        memmove(&m_vmas[i], &m_vmas[i + 1], (m_count - i - 1) * sizeof(Vma));
        --m_count;
        // Last: dropping the file may block (a 9p clunk) and the table is consistent now.
        if (vma.file) vma.file->unref();
    }
    return {};
}

ErrorOr<uintptr_t> VirtualMemory::map(uintptr_t address, size_t length, int prot, Placement placement, VmaKind kind) {
    return map_vma(address, length, placement, Vma{0, 0, prot, kind});
}

ErrorOr<uintptr_t> VirtualMemory::map_file(uintptr_t address, size_t length, int prot, Placement placement,
                                           vfs::File& file, uint64_t offset, bool shared) {
    if (length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (size < length || size > m_end - m_base || offset + size < offset) return error(ENOMEM);
    // Read what the mapping covers of the file now: the fault path cannot wait for a host.
    FileCache* cache = TRY(FileCache::of(*file.vnode(), &file));
    uint64_t first = offset / PAGE_SIZE, last = first + size / PAGE_SIZE, in_file = cache->size_in_pages();
    TRY(cache->fill(first, last < in_file ? last : in_file));
    return map_vma(address, length, placement,
                   Vma{0, 0, prot, VmaKind::File, shared, file.vnode(), offset, shared && !file.writable()});
}

ErrorOr<uintptr_t> VirtualMemory::map_vma(uintptr_t address, size_t length, Placement placement, const Vma& proto) {
    if (length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (size < length || size > m_end - m_base) return error(ENOMEM);
    uintptr_t start;
    if (placement == Placement::Fixed || placement == Placement::FixedNoReplace) {
        if (!page_aligned(address)) return error(EINVAL);
        if (address < m_base || address > m_end - size) return error(ENOMEM);
        size_t i = index_after(address);
        bool occupied = i < m_count && m_vmas[i].start < address + size;
        if (occupied && placement == Placement::FixedNoReplace) return error(EEXIST);
        if (occupied) {
            write_back_range(address, address + size);
            TRY(remove_range(address, address + size));
        }
        start = address;
    } else if (placement == Placement::Hint && page_aligned(address) && address >= m_base && address <= m_end - size &&
               m_free_virtual.contains(address, size)) {
        start = address;  // a hint is taken when the range is free, else it is just a hint
    } else {
        auto found = m_free_virtual.last_fit(size, PAGE_SIZE, m_mmap_top);
        if (!found) found = m_free_virtual.first_fit(size, PAGE_SIZE);
        if (!found) return error(ENOMEM);
        start = *found;
    }
    TRY(reserve_slots(1));
    if (!m_free_virtual.remove(start, size)) return error(ENOMEM);
    Vma vma = proto;
    vma.start = start;
    vma.end = start + size;
    TRY(insert(vma));
    if (vma.file) vma.file->ref();
    return start;
}

ErrorOr<void> VirtualMemory::unmap(uintptr_t address, size_t length) {
    if (!page_aligned(address) || length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(EINVAL);
    uintptr_t start = address < m_base ? m_base : address;
    uintptr_t end = address + size > m_end ? m_end : address + size;
    if (start >= end) return {};  // nothing of ours there
    write_back_range(start, end);
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
        if (vma->no_write && (prot & PROT_WRITE)) return error(EACCES);
        at = vma->end;
    }
    TRY(split_at(address));
    TRY(split_at(end));
    for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i) m_vmas[i].prot = prot;
    platform::protect_range(address, end, page_access(prot));
    for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i)
        if (m_vmas[i].kind == VmaKind::File && (prot & PROT_WRITE)) protect_file_pages(m_vmas[i]);
    return {};
}

ErrorOr<uintptr_t> VirtualMemory::remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move) {
    if (!page_aligned(old_address) || new_size == 0) return error(EINVAL);
    size_t old_len = page_round_up(old_size), new_len = page_round_up(new_size);
    if (new_len < new_size || new_len > m_end - m_base) return error(ENOMEM);
    const Vma* vma = find(old_address);
    if (!vma || vma->end < old_address + old_len || vma->kind == VmaKind::Heap) return error(EFAULT);
    if (new_len <= old_len) {
        if (new_len < old_len) {
            write_back_range(old_address + new_len, old_address + old_len);
            TRY(remove_range(old_address + new_len, old_address + old_len));
        }
        return old_address;
    }
    Vma proto = *vma;
    proto.offset += old_address - vma->start;
    int prot = vma->prot;
    uintptr_t old_end = old_address + old_len;
    RefPtr<vfs::Vnode> file(proto.file);  // held while the cache is filled (may block)
    if (file) {
        FileCache* cache = TRY(FileCache::of(*file));
        uint64_t first = proto.offset / PAGE_SIZE, last = first + new_len / PAGE_SIZE, in_file = cache->size_in_pages();
        TRY(cache->fill(first, last < in_file ? last : in_file));
        vma = find(old_address);  // the fill may block: look again
        if (!vma || vma->end < old_end || vma->file != proto.file) return error(EFAULT);
    }
    if (m_free_virtual.contains(old_end, new_len - old_len)) {
        // Grows in place: the VMA itself (old_end is its end, the room after it being free), so
        // that a later mremap or munmap of the whole range sees one mapping, as Linux's merge.
        if (!m_free_virtual.remove(old_end, new_len - old_len)) return error(ENOMEM);
        const_cast<Vma*>(vma)->end = old_address + new_len;
        return old_address;
    }
    if (!may_move) return error(ENOMEM);
    uintptr_t moved = TRY(map_vma(0, new_len, Placement::Anywhere, proto));
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
    if (proto.kind == VmaKind::File && (prot & PROT_WRITE)) protect_file_pages(*find(moved));
    return moved;
}

ErrorOr<void> VirtualMemory::discard(uintptr_t address, size_t length) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (!range_allows(address, size, PROT_NONE)) return error(ENOMEM);
    uintptr_t end = address + size;
    for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i)
        release_pages(m_vmas[i], address > m_vmas[i].start ? address : m_vmas[i].start,
                      end < m_vmas[i].end ? end : m_vmas[i].end);
    return {};
}

uintptr_t VirtualMemory::set_break(uintptr_t requested) {
    if (requested < m_break_base || requested > m_end) return m_break;
    uintptr_t new_end = page_round_up(requested);
    if (new_end > m_break_mapped_end) {
        // The break grows into free space only (Linux: not into another mapping).
        if (!m_free_virtual.contains(m_break_mapped_end, new_end - m_break_mapped_end)) return m_break;
        const Vma* below = m_break_mapped_end > m_break_base ? find(m_break_mapped_end - 1) : nullptr;
        Vma* last = below && below->kind == VmaKind::Heap ? const_cast<Vma*>(below) : nullptr;
        if (!reserve_slots(1)) return m_break;
        if (!m_free_virtual.remove(m_break_mapped_end, new_end - m_break_mapped_end)) return m_break;
        if (last && last->end == m_break_mapped_end) {
            last->end = new_end;
        } else if (!insert(Vma{m_break_mapped_end, new_end, PROT_READ | PROT_WRITE, VmaKind::Heap})) {
            (void)m_free_virtual.insert(m_break_mapped_end, new_end - m_break_mapped_end);
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

bool VirtualMemory::handle_fault(uintptr_t address, int needed_prot, bool in_user_copy) {
    const Vma* vma = find(address);
    if (!vma || (vma->prot & needed_prot) != needed_prot || vma->prot == PROT_NONE) return false;
    uintptr_t page = address & ~uintptr_t(PAGE_SIZE - 1);
    if (vma->kind == VmaKind::File) return file_fault(*vma, page, needed_prot, in_user_copy);
    if (platform::mapped_page(page)) return false;  // present: a real protection fault
    uintptr_t frame = allocate_frame();
    if (!frame || !platform::map_page(page, frame, page_access(vma->prot))) out_of_memory(address, resident_bytes());
    ++m_resident_pages;
    return true;
}

bool VirtualMemory::make_private_copy(uintptr_t page) {
    const Vma* vma = find(page);
    if (!vma || vma->kind != VmaKind::File || vma->shared) return false;
    uintptr_t present = platform::mapped_page(page);
    if (!present) return false;
    FileCache* cache = FileCache::existing(*vma->file);
    if (present != cache->page(file_index(*vma, page), false)) return true;  // already its own copy
    uintptr_t copy = allocate_frame();
    if (!copy) return false;
    memcpy(platform::phys_to_virt(copy), platform::phys_to_virt(present), PAGE_SIZE);
    if (!platform::map_page(page, copy, page_access(vma->prot))) {
        free_frame(copy);
        return false;
    }
    ++m_resident_pages;
    return true;
}

// A file mapping's page: MAP_SHARED maps the cached page itself; MAP_PRIVATE maps it read-only
// and, on a write, a private copy (copy on write). Never blocks: the cache was filled at mmap.
bool VirtualMemory::file_fault(const Vma& vma, uintptr_t page, int needed_prot, bool in_user_copy) {
    FileCache* cache = FileCache::existing(*vma.file);
    uint64_t index = file_index(vma, page);
    uint32_t access = page_access(vma.prot);
    uintptr_t present = platform::mapped_page(page);
    if (present) {
        // Only a write to a private mapping's page that is still the file's is resolved here.
        if (vma.shared || !(needed_prot & PROT_WRITE) || present != cache->page(index, false)) return false;
    } else if (index >= cache->size_in_pages()) {
        if (in_user_copy) return false;  // a syscall's copy: EFAULT, as on Linux
        bus_error(page, index);
    }
    uintptr_t frame = present ? present : cache->page(index, true);
    if (!frame) {  // ramfs out of space, or not cached
        if (in_user_copy) return false;
        bus_error(page, index);
    }
    if (vma.shared) {
        if (vma.prot & PROT_WRITE) cache->mark_dirty(index);
        if (!platform::map_page(page, frame, access)) out_of_memory(page, resident_bytes());
        return true;
    }
    if (!(needed_prot & PROT_WRITE)) {
        if (!platform::map_page(page, frame, access & ~platform::PAGE_WRITE)) out_of_memory(page, resident_bytes());
        return true;
    }
    uintptr_t copy = allocate_frame();
    if (!copy) out_of_memory(page, resident_bytes());
    memcpy(platform::phys_to_virt(copy), platform::phys_to_virt(frame), PAGE_SIZE);
    if (!platform::map_page(page, copy, access)) out_of_memory(page, resident_bytes());
    ++m_resident_pages;
    return true;
}

// mprotect gave a file mapping PROT_WRITE: a private mapping's pages that are still the file's
// must stay read-only (the first write copies them); a shared mapping's pages are now dirty.
void VirtualMemory::protect_file_pages(const Vma& vma) {
    FileCache* cache = FileCache::existing(*vma.file);
    uint32_t read_only = page_access(vma.prot) & ~platform::PAGE_WRITE;
    for (uintptr_t page = vma.start; page < vma.end; page += PAGE_SIZE) {
        uintptr_t frame = platform::mapped_page(page);
        if (!frame || frame != cache->page(file_index(vma, page), false)) continue;
        if (vma.shared)
            cache->mark_dirty(file_index(vma, page));
        else
            platform::protect_range(page, page + PAGE_SIZE, read_only);
    }
}

void VirtualMemory::write_back_range(uintptr_t start, uintptr_t end) {
    for (uintptr_t at = start; at < end;) {
        size_t i = index_after(at);
        if (i >= m_count || m_vmas[i].start >= end) return;
        at = m_vmas[i].end;
        const Vma& vma = m_vmas[i];
        if (vma.kind != VmaKind::File || !vma.shared || !(vma.prot & PROT_WRITE)) continue;
        RefPtr<vfs::Vnode> file(vma.file);  // the write may block and the VMA go meanwhile
        if (FileCache* cache = FileCache::existing(*file)) (void)cache->write_back();
    }
}

ErrorOr<void> VirtualMemory::sync(uintptr_t address, size_t length) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(ENOMEM);
    for (uintptr_t at = address; at < address + size;) {
        const Vma* vma = find(at);
        if (!vma) return error(ENOMEM);
        at = vma->end;
    }
    for (uintptr_t at = address; at < address + size;) {
        size_t i = index_after(at);
        if (i >= m_count || m_vmas[i].start >= address + size) break;
        at = m_vmas[i].end;
        if (m_vmas[i].kind != VmaKind::File || !m_vmas[i].shared) continue;
        RefPtr<vfs::Vnode> file(m_vmas[i].file);
        if (FileCache* cache = FileCache::existing(*file)) TRY(cache->write_back());
    }
    return {};
}

void VirtualMemory::file_truncating(vfs::Vnode& file, uint64_t size) {
    uint64_t first_gone = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    for (size_t i = 0; i < m_count; ++i) {
        const Vma& vma = m_vmas[i];
        if (vma.file != &file) continue;
        uint64_t first = vma.offset / PAGE_SIZE;
        uintptr_t from = first_gone <= first ? vma.start : vma.start + (first_gone - first) * PAGE_SIZE;
        if (from < vma.start || from >= vma.end) continue;  // wholly before the new end (or overflow)
        release_pages(vma, from, vma.end);
    }
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
