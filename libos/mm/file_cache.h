// The page cache behind file-backed mmap: for each mapped file, the RAM pages that hold its data.
// Every MAP_SHARED mapping of a file and read(2)/write(2) see the same pages, and MAP_PRIVATE
// mappings map them read-only until a write copies the page (vm.cpp).
//
// Two kinds of file:
// - File systems with pages of their own (ramfs: Vnode::has_data_pages): the cache is the
//   file's own pages, allocated on fault; nothing is ever copied or written back.
// - The others (9p, hostfs, block devices): the cache holds copies, read with Vnode::read when the range is
//   mapped (the fault path runs with interrupts off and cannot wait for a host), and written
//   back with Vnode::write (a device: its File's read/write) from pages that a MAP_SHARED, writable mapping may have dirtied: on
//   msync, munmap, fsync, and before each read(2) of the file. write(2) updates the cached
//   copies. What the host (or another guest) changes in the file behind the guest's back is not
//   seen by pages already cached. Cached pages live as long as the vnode.
//
// Ownership: the cache owns its pages; a mapping holds a reference on the vnode (not on the
// pages), so no page of the cache can go while it is mapped, except by truncation, which
// unmaps first. Private copies belong to the one mapping that made them (vm.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "base/ref_ptr.h"
#include "vfs/file.h"
#include "vfs/vnode.h"

namespace xos::mm {

class FileCache {
public:
    // The cache of `vnode`, created on first use. `file`: the description being mapped; a
    // device (File::device_size) is read and written back through it, and the cache keeps it.
    static ErrorOr<FileCache*> of(vfs::Vnode& vnode, vfs::File* file = nullptr);
    static FileCache* existing(vfs::Vnode& vnode) { return static_cast<FileCache*>(vnode.m_file_cache); }
    static void install_hooks();

    // Makes sure pages [first, last) are cached (reads them; may block). Called by mmap/mremap.
    ErrorOr<void> fill(uint64_t first, uint64_t last);
    // The page holding file page `index` for the fault path (never blocks): 0 when it is not
    // there (past the end of a file system without pages: the fault is then SIGBUS) or cannot be
    // allocated.
    uintptr_t page(uint64_t index, bool create);
    // File size in pages, rounded up: a fault at or after it is SIGBUS.
    uint64_t size_in_pages() const;
    // A MAP_SHARED, writable mapping maps page `index`: it is written back from then on.
    void mark_dirty(uint64_t index);
    ErrorOr<void> write_back();
    ErrorOr<size_t> read_at(uint64_t offset, std::span<std::byte> buffer);
    ErrorOr<size_t> write_at(uint64_t offset, std::span<const std::byte> data);

    explicit FileCache(vfs::Vnode& vnode) : m_vnode(vnode) {}
    ~FileCache();

private:
    struct Page {
        uint64_t index;
        uintptr_t frame;
        bool dirty;
    };
    size_t lower_bound(uint64_t index) const;
    Page* find(uint64_t index);
    void written(uint64_t offset, const std::byte* data, size_t size);
    void truncated(uint64_t size);

    vfs::Vnode& m_vnode;
    // A device's open file, for I/O (it holds the vnode, which holds this cache: a device node
    // is never freed anyway).
    RefPtr<vfs::File> m_device;
    uint64_t m_size = 0;  // the file's size as the cache knows it (no pages of its own)
    Page* m_pages = nullptr;
    size_t m_count = 0, m_capacity = 0;
    size_t m_dirty = 0;
};

}  // namespace xos::mm
