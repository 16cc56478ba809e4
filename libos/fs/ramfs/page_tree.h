// File data of ramfs: a radix tree from page index to 4 KiB pages. Interior nodes are pages of
// 512 pointers; the tree grows in height as the file does. Holes cost nothing: a page that was
// never written is simply absent and reads as zeros. Pages come from mm::alloc_pages, through a
// small pool of recently freed pages shared by all files: creating and deleting small files
// (the common churn: temporary files, lock files, logs rotated) then costs no trip to the page
// allocator, and a page that is about to be overwritten whole is not zeroed first.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"

namespace xos::fs {

class PageTree {
public:
    static constexpr size_t PAGE = 4096;

    PageTree() = default;
    PageTree(const PageTree&) = delete;
    PageTree& operator=(const PageTree&) = delete;
    ~PageTree() { truncate(0); }

    // The page at `index`, or nullptr for a hole.
    std::byte* find(uint64_t index) const;
    // What the caller will do with a page that find_or_create has to add.
    enum class NewPage {
        Zeroed,  // read or partly written: it must read as zeros
        Overwritten,  // about to be overwritten whole: its old contents do not matter
    };
    // The page at `index`, allocated if absent. ENOMEM when memory runs out; EFBIG beyond the
    // largest supported file.
    ErrorOr<std::byte*> find_or_create(uint64_t index, NewPage new_page = NewPage::Zeroed);
    // Frees every page at or after `first_dropped`; with `deferred`, links them (and the interior
    // nodes that go) onto that list instead, for free_deferred once nobody may still read them
    // (ramfs reads copy from a page with the file's lock let go).
    void truncate(uint64_t first_dropped, void** deferred = nullptr);
    static void free_deferred(void* list);
    size_t page_count() const { return m_pages; }

private:
    static constexpr int FANOUT_BITS = 9;
    static constexpr uint64_t FANOUT = 1 << FANOUT_BITS;
    static constexpr int MAX_HEIGHT = 5;  // 512^5 pages: far beyond any file size we accept

    static uint64_t capacity(int height) { return uint64_t(1) << (FANOUT_BITS * height); }
    void drop(void*& node, int height, uint64_t base, uint64_t first_dropped);
    static void* allocate_page(NewPage new_page);
    static void free_page(void* page);

    void* m_root = nullptr;
    int m_height = 0;  // 0: m_root is the data page for index 0
    size_t m_pages = 0;
    void** m_deferred_list = nullptr;  // during truncate(first, deferred)
};

}  // namespace xos::fs
