#include "fs/ramfs/page_tree.h"

#include <cstring>

#include "base/spinlock.h"
#include "mm/heap.h"

namespace xos::fs {

namespace {

// Freed pages kept for reuse, linked through their first word. Bounded, so that deleting big
// files gives the memory back. Shared by every file of every ramfs, which may be written on
// several CPUs at once (docs/locking.md "Files and directories"): under g_pool_lock.
constexpr size_t POOL_LIMIT = 64;
constinit SpinLock g_pool_lock;
constinit void* g_pool GUARDED_BY(g_pool_lock) = nullptr;
constinit size_t g_pooled GUARDED_BY(g_pool_lock) = 0;

void* take_pooled() {
    SpinLockGuard guard(g_pool_lock);
    void* page = g_pool;
    if (!page) return nullptr;
    g_pool = *static_cast<void**>(page);
    --g_pooled;
    return page;
}

}  // namespace

void* PageTree::allocate_page(NewPage new_page) {
    void* page = take_pooled();
    if (!page) return mm::alloc_pages(1);  // zeroed
    if (new_page == NewPage::Zeroed)
        memset(page, 0, PAGE);
    else
        *static_cast<void**>(page) = nullptr;  // no stale link in a page about to be written
    return page;
}

void PageTree::free_page(void* page) {
    {
        SpinLockGuard guard(g_pool_lock);
        if (g_pooled < POOL_LIMIT) {
            *static_cast<void**>(page) = g_pool;
            g_pool = page;
            ++g_pooled;
            return;
        }
    }
    mm::free_pages(page, 1);
}

std::byte* PageTree::find(uint64_t index) const {
    if (!m_root || index >= capacity(m_height)) return nullptr;
    void* node = m_root;
    for (int level = m_height; level > 0 && node; --level)
        node = static_cast<void**>(node)[(index >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
    return static_cast<std::byte*>(node);
}

ErrorOr<std::byte*> PageTree::find_or_create(uint64_t index, NewPage new_page) {
    while (index >= capacity(m_height)) {
        if (m_height == MAX_HEIGHT) return error(EFBIG);
        if (m_root) {
            void* node = allocate_page(NewPage::Zeroed);
            if (!node) return error(ENOMEM);
            static_cast<void**>(node)[0] = m_root;
            m_root = node;
        }
        ++m_height;
    }
    void** slot = &m_root;
    for (int level = m_height; level >= 0; --level) {
        if (!*slot) {
            *slot = allocate_page(level == 0 ? new_page : NewPage::Zeroed);
            if (!*slot) return error(ENOMEM);
            if (level == 0) ++m_pages;
        }
        if (level == 0) break;
        slot = &static_cast<void**>(*slot)[(index >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
    }
    return static_cast<std::byte*>(*slot);
}

void PageTree::drop(void*& node, int height, uint64_t base, uint64_t first_dropped) {
    if (!node) return;
    if (height > 0) {
        uint64_t child_capacity = capacity(height - 1);
        for (uint64_t i = 0; i < FANOUT; ++i) {
            uint64_t child_base = base + i * child_capacity;
            if (child_base + child_capacity <= first_dropped) continue;
            drop(static_cast<void**>(node)[i], height - 1, child_base, first_dropped);
        }
    } else if (base >= first_dropped) {
        --m_pages;
    }
    if (base >= first_dropped) {
        if (m_deferred_list) {
            *static_cast<void**>(node) = *m_deferred_list;
            *m_deferred_list = node;
        } else {
            free_page(node);
        }
        node = nullptr;
    }
}

void PageTree::truncate(uint64_t first_dropped, void** deferred) {
    m_deferred_list = deferred;
    drop(m_root, m_height, 0, first_dropped);
    m_deferred_list = nullptr;
    if (!m_root) m_height = 0;
}

void PageTree::free_deferred(void* list) {
    while (list) {
        void* next = *static_cast<void**>(list);
        free_page(list);
        list = next;
    }
}

}  // namespace xos::fs
