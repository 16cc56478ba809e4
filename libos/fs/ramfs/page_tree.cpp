#include "fs/ramfs/page_tree.h"

#include "mm/heap.h"

namespace xos::fs {

std::byte* PageTree::find(uint64_t index) const {
    if (!m_root || index >= capacity(m_height)) return nullptr;
    void* node = m_root;
    for (int level = m_height; level > 0 && node; --level)
        node = static_cast<void**>(node)[(index >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
    return static_cast<std::byte*>(node);
}

ErrorOr<std::byte*> PageTree::find_or_create(uint64_t index) {
    while (index >= capacity(m_height)) {
        if (m_height == MAX_HEIGHT) return error(EFBIG);
        if (m_root) {
            void* node = mm::alloc_pages(1);
            if (!node) return error(ENOMEM);
            static_cast<void**>(node)[0] = m_root;
            m_root = node;
        }
        ++m_height;
    }
    void** slot = &m_root;
    for (int level = m_height; level >= 0; --level) {
        if (!*slot) {
            *slot = mm::alloc_pages(1);
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
        mm::free_pages(node, 1);
        node = nullptr;
    }
}

void PageTree::truncate(uint64_t first_dropped) {
    drop(m_root, m_height, 0, first_dropped);
    if (!m_root) m_height = 0;
}

}  // namespace xos::fs
