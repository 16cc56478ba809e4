#include "mm/frames.h"

#include <cstring>

#include "base/klog.h"
#include "base/spinlock.h"
#include "mm/memory.h"

#include "mm/address_space.h"
#include "mm/frame_refs.h"
#include "xos/platform.h"

namespace xos::mm {

namespace {

constexpr size_t CHUNK = 2 << 20;

struct FreeFrame {
    FreeFrame* next;
};

AddressSpace* g_physical;
// The frame allocator's lock (docs/locking.md): a leaf but for physical_memory_lock(), taken
// inside it to refill. Frames are zeroed outside it.
SpinLock g_frames_lock;
FreeFrame* g_free GUARDED_BY(g_frames_lock);
size_t g_free_count GUARDED_BY(g_frames_lock);
FrameRefs g_refs;

void push(uintptr_t frame) REQUIRES(g_frames_lock) {  // its direct-map address; zero but for what `next` overwrites
    auto* free = reinterpret_cast<FreeFrame*>(frame);
    free->next = g_free;
    g_free = free;
    ++g_free_count;
}

bool refill() REQUIRES(g_frames_lock) {
    auto chunk = map_physical(CHUNK);
    size_t size = CHUNK;
    if (!chunk) {  // fragmented or nearly full: take whatever single pages are left
        chunk = map_physical(PAGE_SIZE);
        size = PAGE_SIZE;
        if (!chunk) return false;
    }
    // Pushed from the top so that allocation hands them out in ascending order: pages faulted
    // in one after another get adjacent frames. The hosted platform maps every app page as a
    // host mapping of the RAM memfd; adjacent frames at adjacent addresses merge into one host
    // VMA, so the host's vm.max_map_count (65530) does not cap the app at ~255 MiB.
    for (uintptr_t page = *chunk + size; page > *chunk;) push(page -= PAGE_SIZE);  // fresh: zero
    return true;
}

}  // namespace

void init_frames(AddressSpace& physical, uintptr_t ram_base, uintptr_t ram_end) {
    g_physical = &physical;
    ram_base &= ~uintptr_t(PAGE_SIZE - 1);
    ram_end = page_round_up(ram_end);
    size_t bytes = page_round_up(FrameRefs::table_entries(ram_base, ram_end) * sizeof(uint32_t));
    auto table = physical.map_anonymous(0, bytes, Placement::Anywhere);  // zeroed
    if (table)
        g_refs.init(ram_base, ram_end, reinterpret_cast<uint32_t*>(*table));
    else  // then nothing is shared: fork copies every page
        klog("xos: warning: no memory for the frame reference counts (%zu KiB)", bytes >> 10);
}

uintptr_t allocate_frame() {
    FreeFrame* frame;
    {
        SpinLockGuard guard(g_frames_lock);
        if (!g_free && !refill()) return 0;
        frame = g_free;
        g_free = frame->next;
        --g_free_count;
    }
    frame->next = nullptr;  // the rest of the page is already zero
    return platform::virt_to_phys(frame);
}

void free_frame(uintptr_t frame) {
    void* page = platform::phys_to_virt(frame);
    memset(page, 0, PAGE_SIZE);
    SpinLockGuard guard(g_frames_lock);
    push(reinterpret_cast<uintptr_t>(page));
}

size_t free_frame_bytes() {
    SpinLockGuard guard(g_frames_lock);
    return g_free_count * PAGE_SIZE;
}

size_t return_free_frames() {
    SpinLockGuard guard(g_frames_lock);
    SpinLockGuard physical(physical_memory_lock());
    size_t bytes = 0;
    while (g_free) {
        FreeFrame* frame = g_free;
        FreeFrame* next = frame->next;
        frame->next = nullptr;  // the AddressSpace keeps free memory zeroed
        // Fails only when the AddressSpace's extent sets are full: the rest stay on the list.
        if (!g_physical->unmap(reinterpret_cast<uintptr_t>(frame), PAGE_SIZE)) {
            frame->next = next;
            break;
        }
        g_free = next;
        --g_free_count;
        bytes += PAGE_SIZE;
    }
    return bytes;
}

bool ref_frame(uintptr_t frame) { return g_refs.ref(frame); }

void unref_frame(uintptr_t frame) {
    if (g_refs.unref(frame)) free_frame(frame);
}

bool frame_shared(uintptr_t frame) { return g_refs.shared(frame); }

size_t shared_frame_count() { return g_refs.shared_frames(); }

}  // namespace xos::mm
