// The kernel heap: libos's own allocator (the app's malloc is musl's, which calls into libos
// for memory, so libos must never call it). Small sizes come from per-size-class free lists
// carved out of 64 KiB chunks; big ones are mappings of their own. Every allocation has a
// 16-byte header saying which, so kfree needs no size. Memory comes back zeroed.
//
// Global operator new belongs to the app (libc++), so kernel code allocates objects with
// kcreate<T>(...) / kdestroy(p), which construct in place on kmalloc'd memory.
//
// Safe on several CPUs at once (its own spinlock: docs/locking.md); still never from interrupt
// context (an interrupt may land in the middle of a heap
// call): checked with ASSERT(!sched::in_interrupt()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace xos::mm {

// Zeroed memory aligned to 16 bytes, or nullptr.
void* kmalloc(size_t size);
void kfree(void* pointer);

// Whole zeroed pages (page-aligned), for buffers that must not share pages; or nullptr.
void* alloc_pages(size_t count);
void free_pages(void* pages, size_t count);

struct HeapStats {
    size_t allocations;  // live kmalloc allocations
    size_t bytes_reserved;  // taken from the address space by the heap
};
HeapStats heap_stats();

template <typename T, typename... Args>
T* kcreate(Args&&... args) {
    static_assert(alignof(T) <= 16);
    void* memory = kmalloc(sizeof(T));
    if (!memory) return nullptr;
    return new (memory) T(std::forward<Args>(args)...);
}

template <typename T>
void kdestroy(T* object) {
    if (!object) return;
    object->~T();
    kfree(object);
}

}  // namespace xos::mm
