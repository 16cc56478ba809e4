#include "mm/memory.h"

#include "base/klog.h"
#include "base/user_ptr.h"
#include "mm/file_cache.h"
#include "mm/frames.h"
#include "mm/heap.h"
#include "xos/libos.h"
#include "xos/platform.h"

#include <sys/mman.h>

namespace xos::mm {

namespace {
AddressSpace g_address_space;
SpinLock g_physical_lock;  // physical_memory_lock()
// The current one, per CPU (the one whose page tables it runs on), indexed by "this CPU"
// (platform::cpu_index_unlocked).
VirtualMemory* g_app_memory_of[XOS_MAX_CPUS];
VirtualMemory*& current_memory_slot() { return g_app_memory_of[platform::cpu_index_unlocked()]; }

bool app_memory_allows(uintptr_t address, size_t size, int prot) {
    // Under the address-space lock (range_allows takes it): every change of the mappings holds
    // it, so a lock-free syscall's check never sees a half-made mapping (files_stress at --cpus 4
    // got spurious EFAULTs when the check read the mappings unlocked).
    return current_memory_slot()->range_allows(address, size, prot);
}

// The parts of the image a syscall may be given (the app's code, constants and globals), with
// the protections their pages have. Everything else outside the app region (libos's data, the
// heap, page tables, kernel stacks, low memory) is never app memory.
void set_app_image_regions() {
    UserRegion regions[platform::MAX_IMAGE_REGIONS];
    size_t count = 0;
    for (const platform::ImageRegion& region : platform::app_image_regions()) {
        if (count == platform::MAX_IMAGE_REGIONS) break;
        int prot = 0;
        if (region.access & platform::PAGE_READ) prot |= PROT_READ;
        if (region.access & platform::PAGE_WRITE) prot |= PROT_WRITE;
        if (region.access & platform::PAGE_EXEC) prot |= PROT_EXEC;
        regions[count++] = UserRegion{region.base, region.end, prot};
    }
    set_user_regions({regions, count});
}
}  // namespace

AddressSpace& address_space() { return g_address_space; }
SpinLock& physical_memory_lock() { return g_physical_lock; }
VirtualMemory& app_memory() { return *current_memory_slot(); }

ErrorOr<uintptr_t> map_physical(size_t size) {
    SpinLockGuard guard(g_physical_lock);
    return g_address_space.map_anonymous(0, size, Placement::Anywhere);
}

void unmap_physical(uintptr_t address, size_t size) {
    SpinLockGuard guard(g_physical_lock);
    (void)g_address_space.unmap(address, size);  // zeroes it
}
void set_current(VirtualMemory* memory) { memory->activate(); }
void set_current_memory(VirtualMemory* memory) { current_memory_slot() = memory; }
size_t free_memory_bytes() { return g_address_space.free_bytes() + free_frame_bytes(); }

void init_memory() {
    // The kernel heap and the frame allocator work on the direct map: the free ranges are
    // physical, what AddressSpace hands out are pointers (frames.cpp turns them back).
    for (const platform::MemoryRange& range : platform::free_memory()) {
        auto base = reinterpret_cast<uintptr_t>(platform::phys_to_virt(range.base));
        if (!g_address_space.add_free_memory(base, range.size))
            klog("xos: warning: memory %#lx-%#lx dropped (too many ranges)", range.base, range.end());
    }
    g_address_space.place_break();
    set_app_image_regions();
    uintptr_t ram_base = UINTPTR_MAX, ram_end = 0;
    for (const platform::MemoryRange& range : platform::free_memory()) {
        if (range.size == 0) continue;
        if (range.base < ram_base) ram_base = range.base;
        if (range.end() > ram_end) ram_end = range.end();
    }
    init_frames(g_address_space, ram_base, ram_end);
    platform::MemoryRange region = platform::app_region();
    current_memory_slot() =
        kcreate<VirtualMemory>(platform::boot_app_space(), region.base, region.size, g_address_space);
    if (!current_memory_slot()) panic("no memory for the app's address space");
    // A linked image's data and bss become the boot program's own memory (fork copies them).
    current_memory_slot()->adopt_process_data(platform::process_data_range());
    // Until a CPU runs a process, the boot program's is its current one (never destroyed).
    for (VirtualMemory*& slot : g_app_memory_of) slot = current_memory_slot();
    set_user_memory_check(app_memory_allows);
    FileCache::install_hooks();
}

}  // namespace xos::mm

namespace xos::mm {

uintptr_t allocate_page_table_page() { return allocate_frame(); }
void free_page_table_page(uintptr_t page) { free_frame(page); }

bool handle_page_fault(uintptr_t address, FaultAccess access, FaultSource source) {
    int needed = access == FaultAccess::Write ? PROT_WRITE : access == FaultAccess::Execute ? PROT_EXEC : PROT_READ;
    return current_memory_slot()->handle_fault(address, needed, source == FaultSource::UserCopy);
}

const char* describe_fault(uintptr_t address, FaultAccess access) {
    if (address < 4096) return "null pointer dereference";
    if (std::optional<Vma> vma = current_memory_slot()->vma_at(address)) {
        if (vma->prot == PROT_NONE) return "access to a PROT_NONE page: a guard page (stack overflow?)";
        if (access == FaultAccess::Write && !(vma->prot & PROT_WRITE)) return "write to read-only memory";
        if (access == FaultAccess::Execute && !(vma->prot & PROT_EXEC)) return "execution of non-executable memory";
        return "protection fault in a mapping";
    }
    if (current_memory_slot()->in_region(address)) return "address not mapped";
    platform::MemoryRange ram = platform::addressable_memory();
    if (address >= ram.base && address < ram.end()) {
        if (access == FaultAccess::Write) return "write to read-only memory (the image's code or constants)";
        if (access == FaultAccess::Execute) return "execution of non-executable memory";
    }
    return "address not mapped";
}

}  // namespace xos::mm
