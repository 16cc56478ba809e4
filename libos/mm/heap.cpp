#include "mm/heap.h"

#include <cstring>

#include "base/klog.h"
#include "base/verify.h"
#include "mm/frames.h"
#include "mm/memory.h"
#include "sched/thread.h"

namespace xos::mm {

namespace {

constexpr size_t CHUNK_SIZE = 64 * 1024;
constexpr size_t HEADER = 16;
constexpr size_t CLASS_SIZES[] = {32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 4096};
constexpr size_t CLASS_COUNT = sizeof CLASS_SIZES / sizeof CLASS_SIZES[0];
constexpr uint32_t MAGIC = 0x78686561;  // "xhea"
constexpr uint32_t LARGE = 0xffffffff;

struct Header {
    uint32_t magic;
    uint32_t class_index;  // LARGE for a mapping of its own
    uint64_t mapping_size;  // LARGE only
};
static_assert(sizeof(Header) == HEADER);

struct FreeBlock {
    FreeBlock* next;
};

// The heap's lock (docs/locking.md): a leaf but for physical_memory_lock(), taken inside it to
// refill a size class. Blocks are zeroed and headers written outside it.
SpinLock g_heap_lock;
FreeBlock* g_free_lists[CLASS_COUNT] GUARDED_BY(g_heap_lock);
HeapStats g_stats GUARDED_BY(g_heap_lock);

size_t class_for(size_t total) {
    for (size_t i = 0; i < CLASS_COUNT; ++i)
        if (total <= CLASS_SIZES[i]) return i;
    return CLASS_COUNT;
}

// Contiguous memory from the physical AddressSpace. The frame allocator refills its free list
// 2 MiB at a time, so with little RAM the AddressSpace can be short of a chunk while the free
// list holds plenty: then the free list gives its pages back and the request is tried again.
// Lock order: the heap's lock, the frames' lock, the physical memory lock.
ErrorOr<uintptr_t> map_contiguous(size_t bytes) {
    auto mapping = map_physical(bytes);
    if (!mapping && return_free_frames()) mapping = map_physical(bytes);
    return mapping;
}

bool refill(size_t index) REQUIRES(g_heap_lock) {
    size_t chunk_size = CHUNK_SIZE;
    auto chunk = map_contiguous(chunk_size);
    if (!chunk) {  // fragmented or nearly full: one page of blocks
        chunk_size = PAGE_SIZE;
        chunk = map_contiguous(chunk_size);
        if (!chunk) return false;
    }
    g_stats.bytes_reserved += chunk_size;
    size_t size = CLASS_SIZES[index];
    for (uintptr_t block = *chunk + chunk_size - size; block >= *chunk; block -= size) {
        auto* free_block = reinterpret_cast<FreeBlock*>(block);
        free_block->next = g_free_lists[index];
        g_free_lists[index] = free_block;
        if (block - *chunk < size) break;
    }
    return true;
}

}  // namespace

void* kmalloc(size_t size) {
    ASSERT(!sched::in_interrupt());
    if (size > SIZE_MAX - HEADER - PAGE_SIZE) return nullptr;
    size_t total = size + HEADER;
    size_t index = class_for(total);
    Header* header;
    if (index == CLASS_COUNT) {
        size_t mapping_size = page_round_up(total);
        auto mapping = map_contiguous(mapping_size);
        if (!mapping) return nullptr;
        header = reinterpret_cast<Header*>(*mapping);
        *header = {MAGIC, LARGE, mapping_size};
        SpinLockGuard guard(g_heap_lock);
        g_stats.bytes_reserved += mapping_size;
        ++g_stats.allocations;
    } else {
        {
            SpinLockGuard guard(g_heap_lock);
            if (!g_free_lists[index] && !refill(index)) return nullptr;
            FreeBlock* block = g_free_lists[index];
            g_free_lists[index] = block->next;
            ++g_stats.allocations;
            header = reinterpret_cast<Header*>(block);
        }
        *header = {MAGIC, uint32_t(index), 0};
    }
    return reinterpret_cast<char*>(header) + HEADER;
}

void kfree(void* pointer) {
    if (!pointer) return;
    ASSERT(!sched::in_interrupt());
    auto* header = reinterpret_cast<Header*>(static_cast<char*>(pointer) - HEADER);
    if (header->magic != MAGIC || (header->class_index >= CLASS_COUNT && header->class_index != LARGE))
        panic("kfree(%p): not a heap block (double free or corruption)", pointer);
    if (header->class_index == LARGE) {
        size_t mapping_size = header->mapping_size;
        {
            SpinLockGuard guard(g_heap_lock);
            --g_stats.allocations;
            g_stats.bytes_reserved -= mapping_size;
        }
        unmap_physical(reinterpret_cast<uintptr_t>(header), mapping_size);  // zeroes it
        return;
    }
    size_t index = header->class_index;
    memset(header, 0, CLASS_SIZES[index]);  // handed out zeroed next time
    auto* block = reinterpret_cast<FreeBlock*>(header);
    SpinLockGuard guard(g_heap_lock);
    --g_stats.allocations;
    block->next = g_free_lists[index];
    g_free_lists[index] = block;
}

void* alloc_pages(size_t count) {
    ASSERT(!sched::in_interrupt());
    if (count == 0 || count > SIZE_MAX / PAGE_SIZE) return nullptr;
    auto mapping = map_contiguous(count * PAGE_SIZE);
    if (!mapping) return nullptr;
    SpinLockGuard guard(g_heap_lock);
    g_stats.bytes_reserved += count * PAGE_SIZE;
    return reinterpret_cast<void*>(*mapping);
}

void free_pages(void* pages, size_t count) {
    if (!pages) return;
    ASSERT(!sched::in_interrupt());
    {
        SpinLockGuard guard(g_heap_lock);
        g_stats.bytes_reserved -= count * PAGE_SIZE;
    }
    unmap_physical(reinterpret_cast<uintptr_t>(pages), count * PAGE_SIZE);
}

HeapStats heap_stats() {
    SpinLockGuard guard(g_heap_lock);
    return g_stats;
}

}  // namespace xos::mm
