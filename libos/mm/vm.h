// The app's virtual memory: mappings (VMAs) in the platform's app region, backed by physical
// pages on first touch (so reserving far more than the machine has is fine until it is
// touched), with protections enforced by the page tables: a PROT_NONE guard page faults, a
// write to read-only memory faults, and so does running code from non-executable memory.
//
// Each process has one VirtualMemory with page tables of its own (platform::AppSpace); libos is
// mapped the same in all. fork_copy() duplicates one copy on write: the frames of private
// memory (anonymous, stack, heap, and the private copies of file pages) are mapped read-only in
// both and counted (mm/frames.h); the first write to such a page in either copies it, or makes
// it writable again when nobody else holds it any more. Shared file mappings (MAP_SHARED, also
// anonymous: an unlinked tmpfs file) and the file pages of private mappings that nobody wrote
// come from the file cache in both.
//
// Locking (docs/locking.md, "The address-space lock"): each VirtualMemory has a spinlock,
// m_lock, guarding its VMAs, its page tables, the break and the free virtual ranges. Every public
// operation takes it itself (callers never hold it); a page fault resolves under it alone (the
// fault handler runs on the CPU's interrupt stack with interrupts off and cannot sleep, so the
// lock cannot be a sleeping one), and mmap/munmap/mprotect/brk/madvise/mremap need nothing else,
// of anonymous memory and of files alike (the file cache has a lock of its own and takes the big
// lock itself around the reads and write-backs of file systems that need it; a vnode's last
// reference is dropped under the big lock, after m_lock is let go). What still relies on the big
// lock, the syscall rewriter's site tables, makes an operation take it first (sched::BigLockScope,
// then m_lock) when the rewriter keeps sites for this memory. Nothing under m_lock blocks or
// touches app memory; TLB shootdowns complete before it is let go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/error.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "mm/address_space.h"
#include "mm/extent_set.h"
#include "xos/platform.h"

namespace xos::vfs {
class File;
class Vnode;
}  // namespace xos::vfs

namespace xos::mm {

enum class VmaKind : uint8_t { Anonymous, Stack, Heap, File };
// What fork does with a mapping: copy it (copy on write, or shared for MAP_SHARED), leave it out
// of the child (MADV_DONTFORK), or give the child zeroes (MADV_WIPEONFORK, private anonymous).
enum class ForkAdvice : uint8_t { Copy, DontFork, Wipe };

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
    ForkAdvice on_fork = ForkAdvice::Copy;  // madvise(MADV_DONTFORK / MADV_WIPEONFORK)
};

// RLIMIT_AS and RLIMIT_DATA for a new mapping or a move of the break (SIZE_MAX: none), checked
// under the address-space lock in the same step as the mapping (sys/rlimit.cpp fills it in).
struct MapLimits {
    size_t address_space = SIZE_MAX;
    size_t data = SIZE_MAX;
};

class VirtualMemory {
public:
    // `region` is the platform's app region; physical pages come from `physical`; `space` holds
    // the page tables (the VirtualMemory owns it and destroys it with itself).
    VirtualMemory(platform::AppSpace* space, uintptr_t region_base, size_t region_size, AddressSpace& physical);
    // Releases every page (shared frames lose a reference) and the page tables. Must not be
    // current (mm::set_current).
    ~VirtualMemory();
    VirtualMemory(const VirtualMemory&) = delete;
    VirtualMemory& operator=(const VirtualMemory&) = delete;

    // An empty one with new page tables (execve builds the new image in it), or ENOMEM.
    static ErrorOr<VirtualMemory*> create();
    // fork(2): a copy-on-write duplicate (see above), or ENOMEM (this one is then unchanged but
    // for pages made read-only, which a write makes writable again). Destroy with kdestroy.
    ErrorOr<VirtualMemory*> fork_copy();
    // Makes this the current memory: its page tables are loaded and mm::app_memory() is it.
    void activate();
    platform::AppSpace* space() const { return m_space; }

    // `limits`: ENOMEM if the mapping would take the memory past them (Linux's may_expand_vm).
    ErrorOr<uintptr_t> map(uintptr_t address, size_t length, int prot, Placement placement,
                           VmaKind kind = VmaKind::Anonymous, const MapLimits* limits = nullptr);
    // mmap of a file: MAP_SHARED maps the file's cached pages, MAP_PRIVATE maps them read-only
    // and copies a page on the first write to it. May block (reads the file into the cache).
    ErrorOr<uintptr_t> map_file(uintptr_t address, size_t length, int prot, Placement placement, vfs::File& file,
                                uint64_t offset, bool shared, const MapLimits* limits = nullptr);
    // msync(2): writes back the shared file mappings in the range (ENOMEM if not all mapped).
    ErrorOr<void> sync(uintptr_t address, size_t length);
    // Before `file` is truncated to `size`: unmaps every page of it past the new end, so that a
    // later access there is SIGBUS (as Linux) and no mapping keeps a page the file frees.
    void file_truncating(vfs::Vnode& file, uint64_t size);
    ErrorOr<void> unmap(uintptr_t address, size_t length);
    ErrorOr<void> protect(uintptr_t address, size_t length, int prot);
    ErrorOr<uintptr_t> remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move);
    ErrorOr<void> discard(uintptr_t address, size_t length);  // MADV_DONTNEED
    // MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK (private anonymous only, else EINVAL),
    // MADV_KEEPONFORK. ENOMEM if the range is not all mapped.
    ErrorOr<void> set_fork_advice(uintptr_t address, size_t length, ForkAdvice advice);
    // mmap(MAP_SHARED | MAP_ANONYMOUS): an unlinked tmpfs file of `length` bytes, mapped shared
    // (so that a forked child sees the same pages, even those not touched before the fork).
    ErrorOr<uintptr_t> map_shared_anonymous(uintptr_t address, size_t length, int prot, Placement placement,
                                            const MapLimits* limits = nullptr);
    // A linked image's per-process data (platform::process_data_range), into this memory (the
    // boot program's, before the app starts): one private anonymous mapping, read-write, outside
    // the app region (munmap and mprotect do not reach it), whose pages fork copies like any
    // other. [data.base, data.bss) gets copies of the image's pages, the rest zeroes on first
    // touch. Panics without memory (boot).
    void adopt_process_data(const platform::ProcessDataRange& data);
    // brk(2): the break moves to `requested` if it may (free space, `limits`), in one step under
    // the lock; returns the break.
    uintptr_t set_break(uintptr_t requested, const MapLimits* limits = nullptr);
    // Where the program break starts (execve: right after the executable). The old break's
    // memory stays mapped.
    void set_break_base(uintptr_t address);

    // Demand paging: true if the fault was resolved. The fault handler's (interrupts off): takes
    // the address-space lock only (and a file mapping's cache lock under it).
    // `in_user_copy`: a page past a mapped file's end is then a plain failure (EFAULT) rather than
    // SIGBUS.
    bool handle_fault(uintptr_t address, int needed_prot, bool in_user_copy = false);
    // Makes a present page of a private file mapping the mapping's own (the copy a write fault
    // would make, whatever the mapping's protection), so libos may patch it in place
    // (libos/rewrite) without writing into the file's page cache. The same for a page of private
    // memory that a fork shares with another address space (it gets a copy of its own). True
    // when the page now is (or already was) this memory's alone; false for shared mappings,
    // absent pages or no memory.
    bool make_private_copy(uintptr_t page);
    // Maps `frame`, a frame of private memory another holder keeps a reference on (the rewriter's
    // cache of patched pages, libos/rewrite), at `page` of a private mapping, read-only and
    // counted as fork shares a frame: the first write copies it. What the page held goes (the
    // caller knows the new frame can stand for it). False for a shared mapping, or if the frame
    // cannot be shared.
    bool adopt_frame(uintptr_t page, uintptr_t frame);
    // Writes `size` bytes at `address` of this memory, current or not and whatever the mappings'
    // protection (a loader filling a new image before it is activated): pages are faulted in,
    // private file pages and pages a fork shares get a copy of their own first. EFAULT where
    // the range is not all private mappings; ENOMEM without memory.
    ErrorOr<void> write(uintptr_t address, const void* data, size_t size);
    // A copy of the mapping holding `address` (taken under the lock: the mapping itself may change
    // on another CPU as soon as it is let go).
    std::optional<Vma> vma_at(uintptr_t address) const EXCLUDES(m_lock);
    // Every byte of [address, address+size) is in mappings allowing `prot`.
    bool range_allows(uintptr_t address, size_t size, int prot) const EXCLUDES(m_lock);
    bool in_region(uintptr_t address) const { return address >= m_base && address < m_end; }
    // The syscall rewriter keeps sites for this memory (rewrite.cpp): from now on the operations
    // that drop sites take the big lock (the site tables are its).
    // Set under the lock (an mm operation is either wholly before it or takes the big lock).
    void note_rewritten() const EXCLUDES(m_lock);

    // Calls fn(const Vma&) for each mapping, in address order, under the lock: fn must not block,
    // take the big lock or touch app memory.
    template <typename Fn>
    void for_each(Fn&& fn) const EXCLUDES(m_lock) {
        SpinLockGuard guard(m_lock);
        for (size_t i = 0; i < m_count; ++i) fn(m_vmas[i]);
    }
    // A statistic, read without the lock.
    size_t resident_bytes() const NO_THREAD_SAFETY_ANALYSIS {
        return __atomic_load_n(&m_resident_pages, __ATOMIC_RELAXED) * PAGE_SIZE;
    }

    // Every VirtualMemory that exists (for what concerns all address spaces: file truncation).
    template <typename Fn>
    static void for_each_memory(Fn&& fn) {
        for (VirtualMemory* memory = s_all; memory; memory = memory->m_next) fn(*memory);
    }

private:
    class BigLockIfNeeded;

    const Vma* find(uintptr_t address) const REQUIRES(m_lock);
    size_t index_after(uintptr_t address) const REQUIRES(m_lock);  // first VMA with end > address
    // The operation on [start, end) must run under the big lock too (see the top of this file).
    bool needs_big_lock(uintptr_t start, uintptr_t end) const REQUIRES(m_lock);
    ErrorOr<void> reserve_slots(size_t extra) REQUIRES(m_lock);
    ErrorOr<void> split_at(uintptr_t address) REQUIRES(m_lock);
    ErrorOr<void> protect_locked(uintptr_t address, uintptr_t end, int prot) REQUIRES(m_lock);
    ErrorOr<uintptr_t> remap_locked(uintptr_t old_address, size_t old_len, size_t new_len, bool may_move)
        REQUIRES(m_lock);
    ErrorOr<void> discard_locked(uintptr_t address, uintptr_t end) REQUIRES(m_lock);
    bool range_allows_locked(uintptr_t address, size_t size, int prot) const REQUIRES(m_lock);
    uintptr_t set_break_locked(uintptr_t requested, const MapLimits* limits) REQUIRES(m_lock);
    // The mappings outside [replaced_start, replaced_end) and `more` bytes stay within `limits`
    // (`data`: the new bytes count against RLIMIT_DATA).
    bool within_limits(const MapLimits* limits, uintptr_t replaced_start, uintptr_t replaced_end, size_t more,
                       bool data) const REQUIRES(m_lock);
    ErrorOr<void> remove_range(uintptr_t start, uintptr_t end) REQUIRES(m_lock);
    ErrorOr<void> insert(const Vma& vma) REQUIRES(m_lock);
    ErrorOr<uintptr_t> map_vma(uintptr_t address, size_t length, Placement placement, const Vma& proto,
                               const MapLimits* limits = nullptr) REQUIRES(m_lock);
    void release_pages(const Vma& vma, uintptr_t start, uintptr_t end) REQUIRES(m_lock);
    bool handle_nested_fault(uintptr_t address, int needed_prot, bool in_user_copy);
    bool resolve_fault(const Vma& vma, uintptr_t address, int needed_prot, bool in_user_copy) REQUIRES(m_lock);
    bool file_fault(const Vma& vma, uintptr_t page, int needed_prot, bool in_user_copy) REQUIRES(m_lock);
    // Shared writable file mappings in [start, end) are written back (may block: takes the lock
    // for each step only).
    void write_back_range(uintptr_t start, uintptr_t end) EXCLUDES(m_lock);
    void protect_file_pages(const Vma& vma) REQUIRES(m_lock);  // after mprotect (see vm.cpp)
    void protect_shared_frames(const Vma& vma) REQUIRES(m_lock);  // after mprotect: copy-on-write pages stay read-only
    bool break_cow(const Vma& vma, uintptr_t page, uintptr_t frame) REQUIRES(m_lock);
    bool own_copy(uintptr_t page, uintptr_t present) REQUIRES(m_lock);
    bool make_private_copy_locked(uintptr_t page) REQUIRES(m_lock);
    void writable_around(const Vma& vma, uintptr_t page) REQUIRES(m_lock);
    ErrorOr<void> copy_pages_into(VirtualMemory& child, const Vma& vma) REQUIRES(m_lock, child.m_lock);
    ErrorOr<void> fork_copy_into(VirtualMemory& child) REQUIRES(m_lock, child.m_lock);
    // A file reference a mapping gave up under the lock: dropped by drop_file_references once it
    // is let go (the last reference of a vnode may block, and relies on the big lock).
    void unref_file_later(vfs::Vnode* file) REQUIRES(m_lock);
    void drop_file_references() EXCLUDES(m_lock);

    // The address-space lock (see the top of this file; docs/locking.md).
    mutable SpinLock m_lock;
    platform::AppSpace* m_space;  // its page tables: changed under m_lock
    VirtualMemory* m_next = nullptr;  // in s_all (the big lock's)
    VirtualMemory* m_previous = nullptr;
    static inline VirtualMemory* s_all = nullptr;
    uintptr_t m_base = 0, m_end = 0;
    AddressSpace* m_physical = nullptr;
    ExtentSet m_free_virtual GUARDED_BY(m_lock);
    Vma* m_vmas GUARDED_BY(m_lock) = nullptr;
    size_t m_count GUARDED_BY(m_lock) = 0;
    size_t m_capacity GUARDED_BY(m_lock) = 0;
    size_t m_resident_pages GUARDED_BY(m_lock) = 0;
    uintptr_t m_break_base GUARDED_BY(m_lock) = 0;
    uintptr_t m_break GUARDED_BY(m_lock) = 0;
    uintptr_t m_break_mapped_end GUARDED_BY(m_lock) = 0;
    uintptr_t m_mmap_top = 0;  // placement without an address goes top-down from here, as Linux's
    vfs::Vnode** m_unref_later GUARDED_BY(m_lock) = nullptr;  // unref_file_later
    size_t m_unref_count GUARDED_BY(m_lock) = 0;
    size_t m_unref_capacity GUARDED_BY(m_lock) = 0;
    mutable bool m_rewritten GUARDED_BY(m_lock) = false;  // note_rewritten
};

}  // namespace xos::mm
