// What the portable VFS code needs from the kernel build, provided on the host for the unit
// tests: the kernel heap (over calloc/aligned_alloc), the user copy (memcpy), the clock, and the
// FIFO and device open hooks (not exercised by the host tests).
#include <cstdlib>
#include <cstring>

#include "base/user_ptr.h"
#include "mm/heap.h"
#include "vfs/operations.h"
#include "vfs/vnode.h"

namespace xos::mm {

void* kmalloc(size_t size) { return calloc(1, size ? size : 1); }
void kfree(void* pointer) { free(pointer); }

void* alloc_pages(size_t count) {
    void* pages = aligned_alloc(4096, count * 4096);
    if (pages) memset(pages, 0, count * 4096);
    return pages;
}
void free_pages(void* pages, size_t) { free(pages); }

}  // namespace xos::mm

namespace xos::platform {

size_t copy_user(void* to, const void* from, size_t size) {  // no faults to recover from here
    memcpy(to, from, size);
    return 0;
}

// The host has no direct map: physical = virtual, as on the hosted platform.
void* phys_to_virt(uintptr_t phys) { return reinterpret_cast<void*>(phys); }
uintptr_t virt_to_phys(const void* virt) { return reinterpret_cast<uintptr_t>(virt); }

}  // namespace xos::platform

namespace xos::vfs {

Timestamp now() { return {1700000000, 0}; }
ErrorOr<RefPtr<File>> open_fifo(RefPtr<Vnode>, int) { return error(ENXIO); }
ErrorOr<RefPtr<File>> open_device(RefPtr<Vnode>, int) { return error(ENXIO); }

}  // namespace xos::vfs
