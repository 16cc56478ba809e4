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

namespace xos::vfs {
class File;
class Vnode;
}  // namespace xos::vfs

namespace xos::mm {

enum class VmaKind : uint8_t { Anonymous, Stack, Heap, File };

struct Vma {
    uintptr_t start;
    uintptr_t end;
    int prot;  // PROT_* bits
    VmaKind kind;
    // File mappings (mm/file_cache.h): the file (the VMA holds a reference on it), the file
    // offset of `start`, and MAP_SHARED (else MAP_PRIVATE: copy on write).
    bool shared = false;
    vfs::Vnode* file = nullptr;
    uint64_t offset = 0;
    bool no_write = false;  // MAP_SHARED of a file opened read-only: mprotect(PROT_WRITE) is EACCES
};

class VirtualMemory {
public:
    // `region` is the platform's app region; physical pages come from `physical`.
    void init(uintptr_t region_base, size_t region_size, AddressSpace& physical);

    ErrorOr<uintptr_t> map(uintptr_t address, size_t length, int prot, Placement placement,
                           VmaKind kind = VmaKind::Anonymous);
    // mmap of a file: MAP_SHARED maps the file's cached pages, MAP_PRIVATE maps them read-only
    // and copies a page on the first write to it. May block (reads the file into the cache).
    ErrorOr<uintptr_t> map_file(uintptr_t address, size_t length, int prot, Placement placement, vfs::File& file,
                                uint64_t offset, bool shared);
    // msync(2): writes back the shared file mappings in the range (ENOMEM if not all mapped).
    ErrorOr<void> sync(uintptr_t address, size_t length);
    // Before `file` is truncated to `size`: unmaps every page of it past the new end, so that a
    // later access there is SIGBUS (as Linux) and no mapping keeps a page the file frees.
    void file_truncating(vfs::Vnode& file, uint64_t size);
    ErrorOr<void> unmap(uintptr_t address, size_t length);
    ErrorOr<void> protect(uintptr_t address, size_t length, int prot);
    ErrorOr<uintptr_t> remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move);
    ErrorOr<void> discard(uintptr_t address, size_t length);  // MADV_DONTNEED
    uintptr_t set_break(uintptr_t requested);
    // Where the program break starts (execve: right after the executable). The old break's
    // memory stays mapped.
    void set_break_base(uintptr_t address);

    // Demand paging: true if the fault was resolved.
    // `in_user_copy`: a page past a mapped file's end is then a plain failure (EFAULT) rather than
    // SIGBUS.
    bool handle_fault(uintptr_t address, int needed_prot, bool in_user_copy = false);
    // Makes a present page of a private file mapping the mapping's own (the copy a write fault
    // would make, whatever the mapping's protection), so libos may patch it in place
    // (libos/rewrite) without writing into the file's page cache. True when the page now is (or
    // already was) private; false for shared mappings, absent pages or no memory.
    bool make_private_copy(uintptr_t page);
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
    ErrorOr<void> split_at(uintptr_t address);  // makes `address` a VMA boundary
    ErrorOr<void> remove_range(uintptr_t start, uintptr_t end);
    ErrorOr<void> insert(const Vma& vma);
    ErrorOr<uintptr_t> map_vma(uintptr_t address, size_t length, Placement placement, const Vma& proto);
    void release_pages(const Vma& vma, uintptr_t start, uintptr_t end);
    bool file_fault(const Vma& vma, uintptr_t page, int needed_prot, bool in_user_copy);
    void write_back_range(uintptr_t start, uintptr_t end);  // shared writable file mappings in it
    void protect_file_pages(const Vma& vma);  // after mprotect (see vm.cpp)

    uintptr_t m_base = 0, m_end = 0;
    AddressSpace* m_physical = nullptr;
    ExtentSet m_free_virtual;
    Vma* m_vmas = nullptr;
    size_t m_count = 0, m_capacity = 0;
    size_t m_resident_pages = 0;
    uintptr_t m_break_base = 0, m_break = 0, m_break_mapped_end = 0;
    uintptr_t m_mmap_top = 0;  // placement without an address goes top-down from here, as Linux's
};

}  // namespace xos::mm
