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
// unmaps first. Private copies belong to the one mapping that made them (vm.cpp). A cached
// page, once in the cache, stays until the vnode goes: a frame looked up under the lock may be
// used after it is let go.
//
// Locking (docs/locking.md "Memory and futexes"): each cache has a SpinLock, m_lock, guarding
// its page list, its size and its dirty count; the fault path takes it under the address-space
// lock (it never blocks). A file system with pages of its own (ramfs) has no list here: its
// lookups take only the file's own lock. What reads or writes the file (fill,
// write_back) runs with it let go, and takes the big lock around the file system's calls when
// the vnode is not thread_safe() (or is a device). The cache is made once per vnode and
// published with a compare-and-swap (two mmaps of one file on two CPUs).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "base/ref_ptr.h"
#include "vfs/file.h"
#include "vfs/vnode.h"

namespace xos::mm {

class FileCache {
public:
    // The cache of `vnode`, created on first use. `file`: the description being mapped; a
    // device (File::device_size) is read and written back through it, and the cache keeps it.
    // Takes the big lock for the vnode's getattr unless it is thread_safe().
    static ErrorOr<FileCache*> of(vfs::Vnode& vnode, vfs::File* file = nullptr);
    static FileCache* existing(vfs::Vnode& vnode) {
        return static_cast<FileCache*>(__atomic_load_n(&vnode.m_file_cache, __ATOMIC_ACQUIRE));
    }
    static void install_hooks();

    // Makes sure pages [first, last) are cached (reads them; may block). Called by mmap/mremap.
    ErrorOr<void> fill(uint64_t first, uint64_t last) EXCLUDES(m_lock);
    // The page holding file page `index` (never blocks): 0 when it is not there (a file system
    // without pages of its own: not cached; with pages: a hole when not `create`, or no memory).
    uintptr_t page(uint64_t index, bool create) EXCLUDES(m_lock);
    // For a fault (never blocks): the page holding file page `index` (made if `create` and the
    // file system has pages of its own), or 0 with `*past_end` set when the page is at or past
    // the end of the file, or past the size a truncation in progress goes to (SIGBUS there).
    uintptr_t fault_page(uint64_t index, bool create, bool* past_end) EXCLUDES(m_lock);
    // File size in pages, rounded up: a fault at or after it is SIGBUS.
    uint64_t size_in_pages() const EXCLUDES(m_lock);
    // A MAP_SHARED, writable mapping maps page `index`: it is written back from then on.
    void mark_dirty(uint64_t index) EXCLUDES(m_lock);
    ErrorOr<void> write_back() EXCLUDES(m_lock);

    explicit FileCache(vfs::Vnode& vnode) : m_vnode(vnode) {}
    ~FileCache();

private:
    struct Page {
        uint64_t index;
        uintptr_t frame;
        bool dirty;
    };
    ErrorOr<size_t> read_at(uint64_t offset, std::span<std::byte> buffer);
    ErrorOr<size_t> write_at(uint64_t offset, std::span<const std::byte> data);
    // The file system's calls (read, write, getattr) need the big lock.
    bool needs_big_lock() const;
    size_t lower_bound(uint64_t index) const REQUIRES(m_lock);
    Page* find(uint64_t index) REQUIRES(m_lock);
    uintptr_t own_page(uint64_t index, bool create);  // has_data_pages: the file system's page
    bool past_truncation(uint64_t index) const;
    void written(uint64_t offset, const std::byte* data, size_t size) EXCLUDES(m_lock);
    void truncating(uint64_t size) EXCLUDES(m_lock);
    void truncated(uint64_t size) EXCLUDES(m_lock);
    void truncate_ended() EXCLUDES(m_lock);

    vfs::Vnode& m_vnode;
    // A device's open file, for I/O (it holds the vnode, which holds this cache: a device node
    // is never freed anyway). Set and used under the big lock (devices are not thread_safe()).
    RefPtr<vfs::File> m_device;
    mutable SpinLock m_lock;
    uint64_t m_size GUARDED_BY(m_lock) = 0;  // the file's size as the cache knows it (no pages of its own)
    // A truncation in progress goes to this size (else UINT64_MAX): a fault past it is SIGBUS, so
    // that no mapping takes a page the truncation is about to free (vfs hooks: truncating, then
    // truncated or truncate_aborted). Atomic accesses (a fault reads it under its address-space
    // lock, which the truncation's unmap takes after setting it); truncations take the big lock.
    uint64_t m_truncate_limit = UINT64_MAX;
    Page* m_pages GUARDED_BY(m_lock) = nullptr;
    size_t m_count GUARDED_BY(m_lock) = 0;
    size_t m_capacity GUARDED_BY(m_lock) = 0;
    size_t m_dirty GUARDED_BY(m_lock) = 0;
};

}  // namespace xos::mm
