#include "mm/vm.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

#include "base/klog.h"
#include "base/no_destroy.h"
#include "base/verify.h"
#include "fs/ramfs/ramfs.h"
#include "mm/file_cache.h"
#include "mm/frames.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "rewrite/rewrite.h"
#include "sched/big_lock_stats.h"
#include "sched/process_stats.h"
#include "sched/thread.h"
#include "vfs/file.h"
#include "vfs/vnode.h"
#include "xos/libos.h"
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
    unref_frame(phys);
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

// Where MAP_SHARED | MAP_ANONYMOUS memory lives: unlinked files (Linux: shmem).
constinit NoDestroy<fs::RamFs> g_shared_anonymous_fs;

}  // namespace

// The big lock for an operation on [start, end) when needs_big_lock() says so (the rewriter
// keeps sites for this memory), decided under m_lock and taken before it: the big lock is never
// taken with a spinlock held. The operation checks again under m_lock and, if the rewriter
// started keeping sites meanwhile, starts over with take().
class VirtualMemory::BigLockIfNeeded {
public:
    BigLockIfNeeded(VirtualMemory& memory, uintptr_t start, uintptr_t end) {
        bool needed;
        {
            SpinLockGuard guard(memory.m_lock);
            needed = memory.needs_big_lock(start, end);
        }
        if (needed) take();
    }
    void take() {
        if (!m_scope) m_scope.emplace();
    }
    bool held() const { return m_scope.has_value(); }

private:
    std::optional<sched::BigLockScope> m_scope;
};

// File mappings need nothing more: the file cache has its own lock, and takes the big lock
// itself around what reads or writes a file system that is not thread-safe (fill, write-back);
// a file reference whose end relies on it is dropped under it (drop_file_references). Only the
// rewriter's site tables are still the big lock's.
bool VirtualMemory::needs_big_lock(uintptr_t, uintptr_t) const { return m_rewritten; }

void VirtualMemory::note_rewritten() const {
    // Under the lock: an operation that has looked at m_rewritten (and dropped no site record
    // because there was none) is over before the rewriter makes its first record, and every
    // later one takes the big lock, which the rewriter holds (docs/locking.md).
    SpinLockGuard guard(m_lock);
    m_rewritten = true;
}

void VirtualMemory::unref_file_later(vfs::Vnode* file) {
    if (m_unref_count == m_unref_capacity) {
        size_t capacity = m_unref_capacity ? m_unref_capacity * 2 : 8;
        auto* grown = static_cast<vfs::Vnode**>(kmalloc(capacity * sizeof(vfs::Vnode*)));
        if (!grown) {
            // No memory for the list: dropped now unless it is the last one, which is kept
            // (leaked) rather than ended under a spinlock without the big lock.
            if (!file->unref_unless_last())
                klog("xos: warning: out of memory: a mapped file's last reference kept (leaked)");
            return;
        }
        if (m_unref_count) memcpy(grown, m_unref_later, m_unref_count * sizeof(vfs::Vnode*));
        kfree(m_unref_later);
        m_unref_later = grown;
        m_unref_capacity = capacity;
    }
    m_unref_later[m_unref_count++] = file;
}

void VirtualMemory::drop_file_references() {
    for (;;) {
        vfs::Vnode* file;
        {
            SpinLockGuard guard(m_lock);
            if (!m_unref_count) return;
            file = m_unref_later[--m_unref_count];
        }
        // Not the last reference: dropped at once. The last one ends the vnode (its file
        // system's caches, a 9p clunk, its page cache, the rewriter's entries): under the big lock.
        if (file->unref_unless_last()) continue;
        sched::BigLockScope big_lock;
        file->unref();
    }
}

// Nobody else sees it yet (the constructor and destructor need no lock).
VirtualMemory::VirtualMemory(platform::AppSpace* space, uintptr_t region_base, size_t region_size,
                             AddressSpace& physical) NO_THREAD_SAFETY_ANALYSIS : m_space(space) {
    m_base = region_base;
    m_end = region_base + region_size;
    m_physical = &physical;
    m_break_base = m_break = m_break_mapped_end =
        DEFAULT_BREAK_BASE > region_base && DEFAULT_BREAK_BASE < m_end ? DEFAULT_BREAK_BASE : region_base;
    m_mmap_top = region_size > 2 * STACK_ROOM ? m_end - STACK_ROOM : m_end;
    (void)m_free_virtual.insert(region_base, region_size);
    m_next = s_all;
    if (s_all) s_all->m_previous = this;
    s_all = this;
}

void VirtualMemory::set_break_base(uintptr_t address) {
    SpinLockGuard guard(m_lock);
    m_break_base = m_break = m_break_mapped_end = page_round_up(address);
}

// No thread runs in it any more (exit, exec), and no CPU has its page tables loaded.
VirtualMemory::~VirtualMemory() NO_THREAD_SAFETY_ANALYSIS {
    if (platform::current_app_space() == m_space) panic("destroying the current address space");
    rewrite::memory_gone(*this);
    for (size_t i = 0; i < m_unref_count; ++i) m_unref_later[i]->unref();
    kfree(m_unref_later);
    for (size_t i = 0; i < m_count; ++i) release_pages(m_vmas[i], m_vmas[i].start, m_vmas[i].end);
    // Any page outside the VMAs (none should be): unmapped without touching its frame.
    platform::unmap_range(m_space, m_base, m_end, forget_frame, nullptr);
    platform::destroy_app_space(m_space);
    for (size_t i = 0; i < m_count; ++i)
        if (m_vmas[i].file) m_vmas[i].file->unref();
    kfree(m_vmas);
    (m_previous ? m_previous->m_next : s_all) = m_next;
    if (m_next) m_next->m_previous = m_previous;
}

ErrorOr<VirtualMemory*> VirtualMemory::create() {
    platform::AppSpace* space = platform::create_app_space();
    if (!space) return error(ENOMEM);
    platform::MemoryRange region = platform::app_region();
    auto* memory = kcreate<VirtualMemory>(space, region.base, region.size, address_space());
    if (!memory) {
        platform::destroy_app_space(space);
        return error(ENOMEM);
    }
    return memory;
}

void VirtualMemory::activate() {
    // No lock: the page tables' root never changes.
    platform::InterruptGuard guard;  // no tick between the page tables and app_memory()
    platform::activate_app_space(m_space);
    set_current_memory(this);
}

void VirtualMemory::adopt_process_data(const platform::ProcessDataRange& data) {
    if (data.end <= data.base) return;
    SpinLockGuard guard(m_lock);  // boot: nobody else uses it yet
    VERIFY(page_aligned(data.base) && page_aligned(data.end) && !in_region(data.base) && m_count == 0);
    // Copy first, while the image's own pages are still what the addresses show; then drop
    // them and map the copies.
    uintptr_t copied_end = page_round_up(data.bss);
    size_t pages = (copied_end - data.base) / PAGE_SIZE;
    auto* frames = static_cast<uintptr_t*>(kmalloc((pages ? pages : 1) * sizeof(uintptr_t)));
    if (!frames) panic("no memory for the image's per-process data");
    for (size_t i = 0; i < pages; ++i) {
        frames[i] = allocate_frame();
        if (!frames[i]) panic("no memory for the image's per-process data (%zu KiB)", pages * PAGE_SIZE / 1024);
        memcpy(platform::phys_to_virt(frames[i]), reinterpret_cast<const void*>(data.base + i * PAGE_SIZE), PAGE_SIZE);
    }
    platform::release_image_process_data();
    if (!insert(Vma{data.base, data.end, PROT_READ | PROT_WRITE, VmaKind::Anonymous}))
        panic("no memory for the image's per-process data");
    for (size_t i = 0; i < pages; ++i) {
        if (!platform::map_page(m_space, data.base + i * PAGE_SIZE, frames[i], page_access(PROT_READ | PROT_WRITE)))
            panic("no memory for the image's per-process data");
        ++m_resident_pages;
    }
    kfree(frames);
}

// fork runs under the big lock (a locked syscall), which the file cache needs; the parent's
// lock keeps its other threads' faults and mm syscalls out while its pages become copy on write.
ErrorOr<VirtualMemory*> VirtualMemory::fork_copy() {
    VirtualMemory* child = TRY(create());
    ErrorOr<void> copied;
    {
        SpinLockGuard guard(m_lock);
        SpinLockGuard child_guard(child->m_lock);  // nobody else sees it: the parent's lock first
        copied = fork_copy_into(*child);
    }
    if (!copied) {
        kdestroy(child);
        return std::unexpected(copied.error());
    }
    return child;
}

ErrorOr<void> VirtualMemory::fork_copy_into(VirtualMemory& child) {
    child.m_free_virtual = m_free_virtual;
    child.m_break_base = m_break_base;
    child.m_break = m_break;
    child.m_break_mapped_end = m_break_mapped_end;
    TRY(child.reserve_slots(m_count));
    for (size_t i = 0; i < m_count; ++i) {
        const Vma& vma = m_vmas[i];
        if (vma.on_fork == ForkAdvice::DontFork) {
            // A hole in the child (the break's range is never in the free set).
            if (vma.kind != VmaKind::Heap && !child.m_free_virtual.insert(vma.start, vma.end - vma.start))
                return error(ENOMEM);
            continue;
        }
        Vma copy = vma;
        child.m_vmas[child.m_count++] = copy;  // in order: the parent's are sorted
        if (copy.file) copy.file->ref();
        if (vma.on_fork == ForkAdvice::Wipe) continue;
        TRY(copy_pages_into(child, vma));
    }
    return {};
}

// The pages `vma` has in this memory, into the child: private memory's frames shared copy on
// write (read-only in both from now on), the file cache's pages of a private file mapping left
// for the child to fault in. Shared file mappings are left to fault in, too.
ErrorOr<void> VirtualMemory::copy_pages_into(VirtualMemory& child, const Vma& vma) {
    if (vma.kind == VmaKind::File && vma.shared) return {};
    uint32_t access = page_access(vma.prot) & ~platform::PAGE_WRITE;
    struct Context {
        VirtualMemory* self;
        VirtualMemory* child;
        const Vma* vma;
        FileCache* cache;
        uint32_t access;
        bool failed;
    } context{this, &child, &vma, vma.kind == VmaKind::File ? FileCache::existing(*vma.file) : nullptr, access, false};
    // The callback below changes the child's count under the child's lock (held by fork_copy).
    if (vma.prot & PROT_WRITE) platform::protect_range(m_space, vma.start, vma.end, access);
    platform::for_each_mapped(
        m_space, vma.start, vma.end,
        [](uintptr_t virt, uintptr_t phys, void* opaque) NO_THREAD_SAFETY_ANALYSIS {
            auto& c = *static_cast<Context*>(opaque);
            if (c.failed) return;
            if (c.cache && phys == c.cache->page(file_index(*c.vma, virt), false)) return;  // the file's page
            uintptr_t frame = phys;
            if (!ref_frame(phys)) {  // cannot be counted: the child gets a copy now
                frame = allocate_frame();
                if (!frame) {
                    c.failed = true;
                    return;
                }
                memcpy(platform::phys_to_virt(frame), platform::phys_to_virt(phys), PAGE_SIZE);
            }
            if (!platform::map_page(c.child->m_space, virt, frame, c.access)) {
                unref_frame(frame);
                c.failed = true;
                return;
            }
            ++c.child->m_resident_pages;
            ++sched::g_process_stats.fork_pages_shared;
        },
        &context);
    if (context.failed) return error(ENOMEM);
    return {};
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

std::optional<Vma> VirtualMemory::vma_at(uintptr_t address) const {
    SpinLockGuard guard(m_lock);
    const Vma* vma = find(address);
    if (!vma) return std::nullopt;
    return *vma;
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
    if (vma.kind != VmaKind::File) return platform::unmap_range(m_space, start, end, release_frame, &m_resident_pages);
    // The file's cached pages stay (the cache owns them); private copies are freed. One walk over
    // the pages present (a page-by-page lookup over the whole VMA cost an exiting process one
    // page-table walk per page of every program and library it mapped).
    struct Context {
        VirtualMemory* self;
        FileCache* cache;
        const Vma* vma;
    } context{this, FileCache::existing(*vma.file), &vma};
    platform::for_each_mapped(
        m_space, start, end,
        [](uintptr_t virt, uintptr_t frame, void* opaque) NO_THREAD_SAFETY_ANALYSIS {  // under m_lock
            auto& c = *static_cast<Context*>(opaque);
            if (c.cache && frame == c.cache->page(file_index(*c.vma, virt), false)) return;
            unref_frame(frame);
            --c.self->m_resident_pages;
        },
        &context);
    platform::unmap_range(m_space, start, end, forget_frame, nullptr);
}

ErrorOr<void> VirtualMemory::remove_range(uintptr_t start, uintptr_t end) {
    TRY(split_at(start));
    TRY(split_at(end));
    // Site records exist only for memory the rewriter keeps sites for, whose operations hold
    // the big lock (needs_big_lock; note_rewritten is ordered with this under m_lock).
    if (m_rewritten) rewrite::unmapped(*this, start, end);
    for (;;) {
        size_t i = index_after(start);
        if (i >= m_count || m_vmas[i].start >= end) break;
        Vma vma = m_vmas[i];
        release_pages(vma, vma.start, vma.end);
        if (!m_free_virtual.insert(vma.start, vma.end - vma.start))
            klog("xos: warning: virtual range %#lx-%#lx lost (free-range table full)", vma.start, vma.end);
        memmove(&m_vmas[i], &m_vmas[i + 1], (m_count - i - 1) * sizeof(Vma));
        --m_count;
        // Dropping the file may block (a 9p clunk): once the lock is let go.
        if (vma.file) unref_file_later(vma.file);
    }
    return {};
}

ErrorOr<uintptr_t> VirtualMemory::map(uintptr_t address, size_t length, int prot, Placement placement, VmaKind kind,
                                      const MapLimits* limits) {
    // MAP_FIXED replaces what is there: shared writable file mappings there are written back
    // first (the write-back takes the big lock itself where the file system needs it).
    bool fixed = placement == Placement::Fixed;
    uintptr_t end = address + page_round_up(length);
    if (end < address) end = UINTPTR_MAX;
    ErrorOr<uintptr_t> result = error(EINVAL);
    if (fixed) write_back_range(address, end);
    for (BigLockIfNeeded big(*this, fixed ? address : 0, fixed ? end : 0);; big.take()) {
        SpinLockGuard guard(m_lock);
        if (fixed && !big.held() && needs_big_lock(address, end)) continue;
        result = map_vma(address, length, placement, Vma{0, 0, prot, kind}, limits);
        break;
    }
    drop_file_references();
    return result;
}

ErrorOr<uintptr_t> VirtualMemory::map_file(uintptr_t address, size_t length, int prot, Placement placement,
                                           vfs::File& file, uint64_t offset, bool shared, const MapLimits* limits) {
    if (length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (size < length || size > m_end - m_base || offset + size < offset) return error(ENOMEM);
    // Read what the mapping covers of the file now: the fault path cannot wait for a host.
    FileCache* cache = TRY(FileCache::of(*file.vnode(), &file));
    uint64_t first = offset / PAGE_SIZE, last = first + size / PAGE_SIZE, in_file = cache->size_in_pages();
    TRY(cache->fill(first, last < in_file ? last : in_file));
    // No big lock needed but for what the fill and the write-back take themselves, the
    // rewriter's sites (BigLockIfNeeded) and its cache of patched pages (below).
    bool fixed = placement == Placement::Fixed;
    uintptr_t end = address + size < address ? UINTPTR_MAX : address + size;
    if (fixed) write_back_range(address, end);
    ErrorOr<uintptr_t> mapped = error(EINVAL);
    for (BigLockIfNeeded big(*this, fixed ? address : 0, fixed ? end : 0);; big.take()) {
        SpinLockGuard guard(m_lock);
        if (fixed && !big.held() && needs_big_lock(address, end)) continue;
        mapped =
            map_vma(address, length, placement,
                    Vma{0, 0, prot, VmaKind::File, shared, file.vnode(), offset, shared && !file.writable()}, limits);
        break;
    }
    drop_file_references();
    uintptr_t start = TRY(mapped);
    // Code: the syscall-site rewriter maps the pages it has patched before (its per-file cache,
    // the big lock's) when it has any.
    if (!shared && (prot & PROT_EXEC) && rewrite::file_mapped_has_work()) {
        sched::BigLockScope big_lock;
        rewrite::file_mapped(*this, start, start + size);
    }
    return start;
}

bool VirtualMemory::within_limits(const MapLimits* limits, uintptr_t replaced_start, uintptr_t replaced_end,
                                  size_t more, bool data) const {
    if (!limits || (limits->address_space == SIZE_MAX && limits->data == SIZE_MAX)) return true;
    size_t total = 0, data_used = 0;
    for (size_t i = 0; i < m_count; ++i) {
        const Vma& vma = m_vmas[i];
        uintptr_t overlap_start = vma.start > replaced_start ? vma.start : replaced_start;
        uintptr_t overlap_end = vma.end < replaced_end ? vma.end : replaced_end;
        size_t size = vma.end - vma.start - (overlap_start < overlap_end ? overlap_end - overlap_start : 0);
        total += size;
        // What Linux counts against RLIMIT_DATA: private writable memory that is not a stack.
        if ((vma.prot & PROT_WRITE) && !vma.shared && vma.kind != VmaKind::Stack) data_used += size;
    }
    auto over = [](size_t used, size_t added, size_t limit) {
        return limit != SIZE_MAX && (added > limit || used > limit - added);
    };
    return !over(total, more, limits->address_space) && !(data && over(data_used, more, limits->data));
}

ErrorOr<uintptr_t> VirtualMemory::map_vma(uintptr_t address, size_t length, Placement placement, const Vma& proto,
                                          const MapLimits* limits) {
    if (length == 0) return error(EINVAL);
    size_t size = page_round_up(length);
    if (size < length || size > m_end - m_base) return error(ENOMEM);
    // The limits in the same step as the mapping (two threads' mmaps cannot both pass them).
    bool data = (proto.prot & PROT_WRITE) && !proto.shared;
    bool fixed = placement == Placement::Fixed;
    if (!within_limits(limits, fixed ? address : 0, fixed ? address + size : 0, size, data)) return error(ENOMEM);
    uintptr_t start;
    if (placement == Placement::Fixed || placement == Placement::FixedNoReplace) {
        if (!page_aligned(address)) return error(EINVAL);
        if (address < m_base || address > m_end - size) return error(ENOMEM);
        size_t i = index_after(address);
        bool occupied = i < m_count && m_vmas[i].start < address + size;
        if (occupied && placement == Placement::FixedNoReplace) return error(EEXIST);
        if (occupied) TRY(remove_range(address, address + size));  // written back by the caller
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
    ErrorOr<void> result;
    write_back_range(start, end);
    for (BigLockIfNeeded big(*this, start, end);; big.take()) {
        SpinLockGuard guard(m_lock);
        if (!big.held() && needs_big_lock(start, end)) continue;  // the rewriter started meanwhile
        result = remove_range(start, end);  // the TLB shootdown completes under the lock
        break;
    }
    drop_file_references();
    return result;
}

ErrorOr<void> VirtualMemory::protect(uintptr_t address, size_t length, int prot) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(ENOMEM);
    if (size == 0) return {};
    uintptr_t end = address + size;
    for (BigLockIfNeeded big(*this, address, end);; big.take()) {
        SpinLockGuard guard(m_lock);
        if (!big.held() && needs_big_lock(address, end)) continue;  // the rewriter started meanwhile
        return protect_locked(address, end, prot);
    }
}

ErrorOr<void> VirtualMemory::protect_locked(uintptr_t address, uintptr_t end, int prot) {
    // The whole range must be mapped.
    for (uintptr_t at = address; at < end;) {
        const Vma* vma = find(at);
        if (!vma) return error(ENOMEM);
        if (vma->no_write && (prot & PROT_WRITE)) return error(EACCES);
        // A file on a noexec mount never becomes executable (Linux: no VM_MAYEXEC).
        if ((prot & PROT_EXEC) && vma->file && (vma->file->fs().mount_flags() & vfs::MOUNT_NO_EXEC))
            return error(EACCES);
        at = vma->end;
    }
    TRY(split_at(address));
    TRY(split_at(end));
    for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i) m_vmas[i].prot = prot;
    platform::protect_range(m_space, address, end, page_access(prot));
    if (prot & PROT_WRITE) {
        for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i) {
            if (m_vmas[i].kind == VmaKind::File) protect_file_pages(m_vmas[i]);
            if (!m_vmas[i].shared) protect_shared_frames(m_vmas[i]);
        }
    }
    return {};
}

ErrorOr<uintptr_t> VirtualMemory::remap(uintptr_t old_address, size_t old_size, size_t new_size, bool may_move) {
    if (!page_aligned(old_address) || new_size == 0) return error(EINVAL);
    size_t old_len = page_round_up(old_size), new_len = page_round_up(new_size);
    if (new_len < new_size || new_len > m_end - m_base) return error(ENOMEM);
    uintptr_t old_end = old_address + old_len;
    if (old_end < old_address) return error(EFAULT);
    ErrorOr<uintptr_t> result = error(EFAULT);
    // A file mapping: what the grown mapping covers is read into the cache first (may block:
    // the mapping is looked up again under the lock after it; a file mapped there meanwhile
    // has its pages filled by its own mmap, or faults SIGBUS past the file's end).
    std::optional<Vma> vma = vma_at(old_address);
    if (vma && vma->file && new_len > old_len) {
        RefPtr<vfs::Vnode> file(vma->file);
        FileCache* cache = TRY(FileCache::of(*file));
        uint64_t first = (vma->offset + (old_address - vma->start)) / PAGE_SIZE;
        uint64_t last = first + new_len / PAGE_SIZE, in_file = cache->size_in_pages();
        TRY(cache->fill(first, last < in_file ? last : in_file));
    }
    if (new_len < old_len) write_back_range(old_address + new_len, old_end);
    for (BigLockIfNeeded big(*this, old_address, old_end);; big.take()) {
        SpinLockGuard guard(m_lock);
        if (!big.held() && needs_big_lock(old_address, old_end)) continue;  // the rewriter started meanwhile
        result = remap_locked(old_address, old_len, new_len, may_move);
        break;
    }
    drop_file_references();
    return result;
}

ErrorOr<uintptr_t> VirtualMemory::remap_locked(uintptr_t old_address, size_t old_len, size_t new_len, bool may_move) {
    const Vma* vma = find(old_address);
    if (!vma || vma->end < old_address + old_len || vma->kind == VmaKind::Heap) return error(EFAULT);
    if (new_len <= old_len) {
        if (new_len < old_len) TRY(remove_range(old_address + new_len, old_address + old_len));
        return old_address;
    }
    Vma proto = *vma;
    proto.offset += old_address - vma->start;
    int prot = vma->prot;
    uintptr_t old_end = old_address + old_len;
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
    for (uintptr_t offset = 0; offset < old_len; offset += PAGE_SIZE) {
        uint32_t access = 0;  // as it was: a copy-on-write page stays read-only
        uintptr_t frame = platform::mapped_page(m_space, old_address + offset, &access);
        if (!frame) continue;
        if (!platform::map_page(m_space, moved + offset, frame, access)) {
            (void)remove_range(moved, moved + new_len);
            return error(ENOMEM);
        }
    }
    platform::unmap_range(m_space, old_address, old_end, forget_frame, nullptr);
    TRY(remove_range(old_address, old_end));
    if (proto.kind == VmaKind::File && (prot & PROT_WRITE)) protect_file_pages(*find(moved));
    return moved;
}

ErrorOr<void> VirtualMemory::discard(uintptr_t address, size_t length) {
    if (!page_aligned(address)) return error(EINVAL);
    uintptr_t end = address + page_round_up(length);
    for (BigLockIfNeeded big(*this, address, end);; big.take()) {
        SpinLockGuard guard(m_lock);
        if (!big.held() && needs_big_lock(address, end)) continue;  // the rewriter started meanwhile
        return discard_locked(address, end);
    }
}

ErrorOr<void> VirtualMemory::discard_locked(uintptr_t address, uintptr_t end) {
    if (!range_allows_locked(address, end - address, PROT_NONE)) return error(ENOMEM);
    for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i)
        release_pages(m_vmas[i], address > m_vmas[i].start ? address : m_vmas[i].start,
                      end < m_vmas[i].end ? end : m_vmas[i].end);
    return {};
}

uintptr_t VirtualMemory::set_break(uintptr_t requested, const MapLimits* limits) {
    // The heap has no file mappings; only the rewriter's sites (dropped when it shrinks) may
    // need the big lock.
    for (BigLockIfNeeded big(*this, 0, 0);; big.take()) {
        SpinLockGuard guard(m_lock);
        if (!big.held() && needs_big_lock(0, 0)) continue;
        return set_break_locked(requested, limits);
    }
}

uintptr_t VirtualMemory::set_break_locked(uintptr_t requested, const MapLimits* limits) {
    if (requested < m_break_base || requested > m_end) return m_break;
    uintptr_t new_end = page_round_up(requested);
    // RLIMIT_AS/RLIMIT_DATA: the break stays where it is, as on Linux; read and moved in one step.
    uintptr_t old_end = page_round_up(m_break);
    if (new_end > old_end && !within_limits(limits, 0, 0, new_end - old_end, true)) return m_break;
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
    // Through the direct map (no fault may happen under the lock), in this memory's own copy of
    // the page (a fork may share it).
    uintptr_t page = requested & ~uintptr_t(PAGE_SIZE - 1);
    if (requested < m_break && new_end > requested && platform::mapped_page(m_space, page) &&
        make_private_copy_locked(page)) {
        uintptr_t frame = platform::mapped_page(m_space, page);
        memset(static_cast<char*>(platform::phys_to_virt(frame)) + (requested - page), 0, new_end - requested);
    }
    m_break = requested;
    return m_break;
}

// Runs in the fault handler: interrupts off, on the CPU's interrupt stack (it cannot sleep).
// Every fault, anonymous or in a file mapping, takes the address-space lock only (a file
// mapping's page comes from its file cache, under the cache's own lock, never blocking).
bool VirtualMemory::handle_fault(uintptr_t address, int needed_prot, bool in_user_copy) {
    // This CPU holds the lock already: libos code running on an app stack whose page is not
    // there yet (a thread's first libos function on a fresh main stack: processes-procs'
    // threadexec case) faulted in a push. The big lock was recursive and let such a fault
    // through; so does this, resolving it under the holder's lock (the holder is this flow,
    // stopped at a call, where the mappings are consistent).
    if (m_lock.is_held()) return handle_nested_fault(address, needed_prot, in_user_copy);
    SpinLockGuard guard(m_lock);
    const Vma* vma = find(address);
    if (!vma || (vma->prot & needed_prot) != needed_prot || vma->prot == PROT_NONE) return false;
    return resolve_fault(*vma, address, needed_prot, in_user_copy);
}

bool VirtualMemory::handle_nested_fault(uintptr_t address, int needed_prot, bool in_user_copy) {
    m_lock.assert_held();
    const Vma* vma = find(address);
    if (!vma || (vma->prot & needed_prot) != needed_prot || vma->prot == PROT_NONE) return false;
    return resolve_fault(*vma, address, needed_prot, in_user_copy);
}

bool VirtualMemory::resolve_fault(const Vma& vma_ref, uintptr_t address, int needed_prot, bool in_user_copy) {
    const Vma* vma = &vma_ref;
    uintptr_t page = address & ~uintptr_t(PAGE_SIZE - 1);
    // With several CPUs, another one may have resolved this page while this fault waited for
    // the lock (docs/locking.md): the page allows the access already, the access is retried.
    uint32_t access_now = 0;
    if (platform::mapped_page(m_space, page, &access_now) &&
        (!(needed_prot & PROT_READ) || (access_now & platform::PAGE_READ)) &&
        (!(needed_prot & PROT_WRITE) || (access_now & platform::PAGE_WRITE)) &&
        (!(needed_prot & PROT_EXEC) || (access_now & platform::PAGE_EXEC)))
        return true;
    if (vma->kind == VmaKind::File) return file_fault(*vma, page, needed_prot, in_user_copy);
    if (uintptr_t present = platform::mapped_page(m_space, page)) {
        // A write to a present page of writable memory: copy on write after a fork. Anything
        // else is a real protection fault.
        if (!(needed_prot & PROT_WRITE)) return false;
        return break_cow(*vma, page, present);
    }
    uintptr_t frame = allocate_frame();
    if (!frame || !platform::map_page(m_space, page, frame, page_access(vma->prot)))
        out_of_memory(address, resident_bytes());
    ++m_resident_pages;
    return true;
}

// A write fault on a present page of private writable memory (`frame`): the frame is shared
// with another address space (fork), so this one gets a copy; or it is no longer shared and
// just becomes writable again.
bool VirtualMemory::break_cow(const Vma& vma, uintptr_t page, uintptr_t frame) {
    uint32_t access = page_access(vma.prot);
    if (!frame_shared(frame)) {
        ++sched::g_process_stats.cow_reclaims;
        writable_around(vma, page);
        return true;
    }
    ++sched::g_process_stats.cow_copies;
    uintptr_t copy = allocate_frame();
    if (!copy) out_of_memory(page, resident_bytes());
    memcpy(platform::phys_to_virt(copy), platform::phys_to_virt(frame), PAGE_SIZE);
    if (!platform::map_page(m_space, page, copy, access)) out_of_memory(page, resident_bytes());
    unref_frame(frame);
    return true;
}

// The write fault at `page` found its frame no longer shared: that page, and its neighbours in
// the same 2 MiB (and VMA) whose frames nobody else holds either, become writable at once. A
// fork's parent whose child has exited (or exec'd) then takes one fault per 2 MiB rather than
// one per page (on the hosted platform each is a signal and a host mprotect).
void VirtualMemory::writable_around(const Vma& vma, uintptr_t page) {
    constexpr uintptr_t WINDOW = 2 << 20;
    uintptr_t start = page & ~(WINDOW - 1), end = start + WINDOW;
    if (start < vma.start) start = vma.start;
    if (end > vma.end) end = vma.end;
    struct Context {
        VirtualMemory* self;
        FileCache* cache;
        const Vma* vma;
        uint32_t access;
        uintptr_t run_start, run_end;
        void flush() {
            if (run_end > run_start) platform::protect_range(self->m_space, run_start, run_end, access);
            run_start = run_end = 0;
        }
    } context{
        this, vma.kind == VmaKind::File ? FileCache::existing(*vma.file) : nullptr, &vma, page_access(vma.prot), 0, 0};
    platform::for_each_mapped(
        m_space, start, end,
        [](uintptr_t virt, uintptr_t phys, void* opaque) {
            auto& c = *static_cast<Context*>(opaque);
            bool eligible = !frame_shared(phys) && !(c.cache && phys == c.cache->page(file_index(*c.vma, virt), false));
            if (eligible && c.run_end == virt) {
                c.run_end += PAGE_SIZE;
                return;
            }
            c.flush();
            if (eligible) {
                c.run_start = virt;
                c.run_end = virt + PAGE_SIZE;
            }
        },
        &context);
    context.flush();
}

// mprotect made private memory writable: the pages whose frames another address space shares
// stay read-only (the first write copies them).
void VirtualMemory::protect_shared_frames(const Vma& vma) {
    if (!shared_frame_count()) return;
    struct Context {
        VirtualMemory* self;
        uint32_t read_only;
    } context{this, page_access(vma.prot) & ~platform::PAGE_WRITE};
    platform::for_each_mapped(
        m_space, vma.start, vma.end,
        [](uintptr_t virt, uintptr_t phys, void* opaque) {  // under m_lock (the caller's)
            auto& c = *static_cast<Context*>(opaque);
            if (frame_shared(phys)) platform::protect_range(c.self->m_space, virt, virt + PAGE_SIZE, c.read_only);
        },
        &context);
}

// The page at `page` (frame `present`, private memory) this memory's alone: copied, with the
// access it has, if another address space shares the frame.
bool VirtualMemory::own_copy(uintptr_t page, uintptr_t present) {
    if (!frame_shared(present)) return true;
    uintptr_t copy = allocate_frame();
    if (!copy) return false;
    memcpy(platform::phys_to_virt(copy), platform::phys_to_virt(present), PAGE_SIZE);
    uint32_t access = 0;
    (void)platform::mapped_page(m_space, page, &access);
    if (!platform::map_page(m_space, page, copy, access)) {
        free_frame(copy);
        return false;
    }
    unref_frame(present);
    return true;
}

bool VirtualMemory::make_private_copy(uintptr_t page) {
    SpinLockGuard guard(m_lock);
    return make_private_copy_locked(page);
}

bool VirtualMemory::make_private_copy_locked(uintptr_t page) {
    const Vma* vma = find(page);
    if (!vma || vma->shared) return false;
    uintptr_t present = platform::mapped_page(m_space, page);
    if (!present) return false;
    if (vma->kind != VmaKind::File) {
        return own_copy(page, present);
    }
    FileCache* cache = FileCache::existing(*vma->file);
    if (present != cache->page(file_index(*vma, page), false)) return own_copy(page, present);  // a private copy
    uintptr_t copy = allocate_frame();
    if (!copy) return false;
    memcpy(platform::phys_to_virt(copy), platform::phys_to_virt(present), PAGE_SIZE);
    if (!platform::map_page(m_space, page, copy, page_access(vma->prot))) {
        free_frame(copy);
        return false;
    }
    ++m_resident_pages;
    return true;
}

bool VirtualMemory::adopt_frame(uintptr_t page, uintptr_t frame) {
    SpinLockGuard guard(m_lock);
    const Vma* vma = find(page);
    if (!vma || vma->shared) return false;
    uintptr_t present = platform::mapped_page(m_space, page);
    FileCache* cache = vma->kind == VmaKind::File ? FileCache::existing(*vma->file) : nullptr;
    bool file_page = present && cache && present == cache->page(file_index(*vma, page), false);
    if (!ref_frame(frame)) return false;
    if (!platform::map_page(m_space, page, frame, page_access(vma->prot) & ~platform::PAGE_WRITE)) {
        unref_frame(frame);
        return false;
    }
    if (present && !file_page)
        unref_frame(present);  // a private frame replaced
    else
        ++m_resident_pages;
    return true;
}

// A file mapping's page: MAP_SHARED maps the cached page itself; MAP_PRIVATE maps it read-only
// and, on a write, a private copy (copy on write). Never blocks: the cache was filled at mmap.
// Under the address-space lock and, for the lookup, the cache's (no big lock): the VMA holds a
// reference on the vnode, which holds the cache, and a cached page stays while the vnode does;
// a truncation on another CPU sets the cache's limit before it unmaps (which waits for this
// lock), so no page it frees is mapped here after its unmap.
bool VirtualMemory::file_fault(const Vma& vma, uintptr_t page, int needed_prot, bool in_user_copy) {
    FileCache* cache = FileCache::existing(*vma.file);
    uint64_t index = file_index(vma, page);
    uint32_t access = page_access(vma.prot);
    uintptr_t present = platform::mapped_page(m_space, page);
    if (present) {
        // Only a write to a private mapping's page is resolved here: the file's page is copied,
        // a private copy that a fork shares is copied again (or made writable).
        if (vma.shared || !(needed_prot & PROT_WRITE)) return false;
        if (present != cache->page(index, false)) return break_cow(vma, page, present);
    }
    bool past_end = false;
    uintptr_t frame = present ? present : cache->fault_page(index, true, &past_end);
    if (!frame) {  // past the end (SIGBUS), ramfs out of space, or not cached
        if (in_user_copy) return false;  // a syscall's copy: EFAULT, as on Linux
        bus_error(page, index);
    }
    if (vma.shared) {
        if (vma.prot & PROT_WRITE) cache->mark_dirty(index);
        if (!platform::map_page(m_space, page, frame, access)) out_of_memory(page, resident_bytes());
        return true;
    }
    if (!(needed_prot & PROT_WRITE)) {
        if (!platform::map_page(m_space, page, frame, access & ~platform::PAGE_WRITE))
            out_of_memory(page, resident_bytes());
        return true;
    }
    uintptr_t copy = allocate_frame();
    if (!copy) out_of_memory(page, resident_bytes());
    memcpy(platform::phys_to_virt(copy), platform::phys_to_virt(frame), PAGE_SIZE);
    if (!platform::map_page(m_space, page, copy, access)) out_of_memory(page, resident_bytes());
    ++m_resident_pages;
    return true;
}

// mprotect gave a file mapping PROT_WRITE: a private mapping's pages that are still the file's
// must stay read-only (the first write copies them); a shared mapping's pages are now dirty.
void VirtualMemory::protect_file_pages(const Vma& vma) {
    FileCache* cache = FileCache::existing(*vma.file);
    uint32_t read_only = page_access(vma.prot) & ~platform::PAGE_WRITE;
    for (uintptr_t page = vma.start; page < vma.end; page += PAGE_SIZE) {
        uintptr_t frame = platform::mapped_page(m_space, page);
        if (!frame || frame != cache->page(file_index(vma, page), false)) continue;
        if (vma.shared)
            cache->mark_dirty(file_index(vma, page));
        else
            platform::protect_range(m_space, page, page + PAGE_SIZE, read_only);
    }
}

void VirtualMemory::write_back_range(uintptr_t start, uintptr_t end) {
    for (uintptr_t at = start; at < end;) {
        RefPtr<vfs::Vnode> file;  // the write may block and the VMA go meanwhile
        {
            SpinLockGuard guard(m_lock);
            size_t i = index_after(at);
            if (i >= m_count || m_vmas[i].start >= end) return;
            at = m_vmas[i].end;
            const Vma& vma = m_vmas[i];
            if (vma.kind != VmaKind::File || !vma.shared || !(vma.prot & PROT_WRITE)) continue;
            file = RefPtr<vfs::Vnode>(vma.file);
        }
        if (FileCache* cache = FileCache::existing(*file)) (void)cache->write_back();
    }
}

// msync(2): the write-back takes the big lock itself where the file system needs it.
ErrorOr<void> VirtualMemory::sync(uintptr_t address, size_t length) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(ENOMEM);
    {
        SpinLockGuard guard(m_lock);
        for (uintptr_t at = address; at < address + size;) {
            const Vma* vma = find(at);
            if (!vma) return error(ENOMEM);
            at = vma->end;
        }
    }
    for (uintptr_t at = address; at < address + size;) {
        RefPtr<vfs::Vnode> file;
        {
            SpinLockGuard guard(m_lock);
            size_t i = index_after(at);
            if (i >= m_count || m_vmas[i].start >= address + size) break;
            at = m_vmas[i].end;
            if (m_vmas[i].kind != VmaKind::File || !m_vmas[i].shared) continue;
            file = RefPtr<vfs::Vnode>(m_vmas[i].file);
        }
        if (FileCache* cache = FileCache::existing(*file)) TRY(cache->write_back());
    }
    return {};
}

void VirtualMemory::file_truncating(vfs::Vnode& file, uint64_t size) {
    uint64_t first_gone = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    SpinLockGuard guard(m_lock);  // the caller holds the big lock (for_each_memory)
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
    SpinLockGuard guard(m_lock);
    return range_allows_locked(address, size, prot);
}

bool VirtualMemory::range_allows_locked(uintptr_t address, size_t size, int prot) const {
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

ErrorOr<void> VirtualMemory::write(uintptr_t address, const void* data, size_t size) {
    if (address + size < address) return error(EFAULT);
    SpinLockGuard guard(m_lock);  // a loader (exec: the big lock is held for the file cache)
    auto* from = static_cast<const uint8_t*>(data);
    for (uintptr_t at = address; at < address + size;) {
        uintptr_t page = at & ~uintptr_t(PAGE_SIZE - 1);
        size_t chunk = PAGE_SIZE - (at - page);
        if (chunk > address + size - at) chunk = address + size - at;
        const Vma* vma = find(at);
        if (!vma || vma->shared) return error(EFAULT);
        uintptr_t present = platform::mapped_page(m_space, page);
        if (!present && vma->kind == VmaKind::File) {
            FileCache* cache = FileCache::existing(*vma->file);
            uint64_t index = file_index(*vma, page);
            bool past_end = true;
            uintptr_t frame = cache ? cache->fault_page(index, true, &past_end) : 0;
            if (past_end) return error(EFAULT);
            if (!frame) return error(ENOMEM);
            if (!platform::map_page(m_space, page, frame, page_access(vma->prot) & ~platform::PAGE_WRITE))
                return error(ENOMEM);
        } else if (!present) {
            uintptr_t frame = allocate_frame();
            if (!frame) return error(ENOMEM);
            if (!platform::map_page(m_space, page, frame, page_access(vma->prot))) {
                free_frame(frame);
                return error(ENOMEM);
            }
            ++m_resident_pages;
        }
        if (!make_private_copy_locked(page)) return error(ENOMEM);
        uintptr_t frame = platform::mapped_page(m_space, page);
        memcpy(static_cast<char*>(platform::phys_to_virt(frame)) + (at - page), from, chunk);
        from += chunk;
        at += chunk;
    }
    return {};
}

ErrorOr<void> VirtualMemory::set_fork_advice(uintptr_t address, size_t length, ForkAdvice advice) {
    if (!page_aligned(address)) return error(EINVAL);
    size_t size = page_round_up(length);
    if (address + size < address) return error(EINVAL);
    if (size == 0) return {};
    uintptr_t end = address + size;
    SpinLockGuard guard(m_lock);  // only the VMAs change (a file's reference count is atomic)
    for (uintptr_t at = address; at < end;) {
        const Vma* vma = find(at);
        if (!vma) return error(ENOMEM);
        if (advice == ForkAdvice::Wipe && (vma->kind == VmaKind::File || vma->shared)) return error(EINVAL);
        at = vma->end;
    }
    TRY(split_at(address));
    TRY(split_at(end));
    for (size_t i = index_after(address); i < m_count && m_vmas[i].start < end; ++i) m_vmas[i].on_fork = advice;
    return {};
}

// The big lock is held (sys_mmap): the tmpfs file and its cache are its.
ErrorOr<uintptr_t> VirtualMemory::map_shared_anonymous(uintptr_t address, size_t length, int prot, Placement placement,
                                                       const MapLimits* limits) {
    if (length == 0) return error(EINVAL);
    static bool initialized;
    fs::RamFs& fs = g_shared_anonymous_fs.get("tmpfs", 0x01021994);
    if (!initialized) {
        TRY(fs.initialize(01777));
        initialized = true;
    }
    RefPtr<vfs::Vnode> vnode = TRY(fs.create_unlinked_file(0600));
    TRY(vnode->truncate(page_round_up(length)));
    vfs::File* file = kcreate<vfs::File>(vnode, O_RDWR);
    if (!file) return error(ENOMEM);
    RefPtr<vfs::File> held(file);
    return map_file(address, length, prot, placement, *file, 0, true, limits);
}

}  // namespace xos::mm
