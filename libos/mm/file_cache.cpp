#include "mm/file_cache.h"

#include <cstring>

#include "mm/frames.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "mm/vm.h"
#include "rewrite/rewrite.h"
#include "sched/thread.h"
#include "xos/platform.h"

namespace xos::mm {

bool FileCache::needs_big_lock() const { return m_device || !m_vnode.thread_safe(); }

ErrorOr<FileCache*> FileCache::of(vfs::Vnode& vnode, vfs::File* file) {
    std::optional<uint64_t> device_size = file ? file->device_size() : std::nullopt;
    // getattr, and a device's description, are the big lock's unless the vnode is thread-safe.
    vfs::BigLockUnlessSafe big_lock(vnode.thread_safe() && !device_size);
    uint64_t size = vnode.has_data_pages() ? 0 : device_size ? *device_size : TRY(vnode.getattr()).size;
    auto* cache = existing(vnode);
    if (!cache) {
        auto* made = kcreate<FileCache>(vnode);
        if (!made) return error(ENOMEM);
        void* expected = nullptr;
        // Two mmaps of one file on two CPUs: one cache wins, the other goes.
        if (__atomic_compare_exchange_n(&vnode.m_file_cache, &expected, made, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            cache = made;
        } else {
            kdestroy(made);
            cache = static_cast<FileCache*>(expected);
        }
    }
    if (!vnode.has_data_pages()) {
        SpinLockGuard guard(cache->m_lock);
        cache->m_size = size;
    }
    // A device keeps the description it is mapped through, a writable one if it has one.
    if (device_size && (!cache->m_device || (file->writable() && !cache->m_device->writable()))) cache->m_device = file;
    return cache;
}

ErrorOr<size_t> FileCache::read_at(uint64_t offset, std::span<std::byte> buffer) {
    vfs::BigLockUnlessSafe big_lock(!needs_big_lock());
    return m_device ? m_device->read(buffer, offset) : m_vnode.read(offset, buffer);
}

ErrorOr<size_t> FileCache::write_at(uint64_t offset, std::span<const std::byte> data) {
    vfs::BigLockUnlessSafe big_lock(!needs_big_lock());
    return m_device ? m_device->write(data, offset) : m_vnode.write(offset, data);
}

// The vnode is going: nobody else sees the cache (no lock).
FileCache::~FileCache() NO_THREAD_SAFETY_ANALYSIS {
    for (size_t i = 0; i < m_count; ++i) free_frame(m_pages[i].frame);
    kfree(m_pages);
}

size_t FileCache::lower_bound(uint64_t index) const {
    size_t low = 0, high = m_count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (m_pages[mid].index < index)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

FileCache::Page* FileCache::find(uint64_t index) {
    size_t i = lower_bound(index);
    return i < m_count && m_pages[i].index == index ? &m_pages[i] : nullptr;
}

ErrorOr<void> FileCache::fill(uint64_t first, uint64_t last) {
    if (m_vnode.has_data_pages()) return {};
    for (uint64_t index = first; index < last; ++index) {
        uint64_t size;
        {
            SpinLockGuard guard(m_lock);
            if (find(index)) continue;
            size = m_size;
        }
        // Read with the lock let go (the read may block).
        uintptr_t frame = allocate_frame();
        if (!frame) return error(ENOMEM);
        uint64_t offset = index * PAGE_SIZE;
        // Past the end of the file the page stays zero (a fault there is SIGBUS, but the file may
        // grow by write(2) into it).
        for (size_t done = 0; offset + done < size && done < PAGE_SIZE;) {
            auto n = read_at(offset + done,
                             {static_cast<std::byte*>(platform::phys_to_virt(frame)) + done, PAGE_SIZE - done});
            if (!n) {
                free_frame(frame);
                return std::unexpected(n.error());
            }
            if (*n == 0) break;
            done += *n;
        }
        SpinLockGuard guard(m_lock);
        // Somebody else may have added the page meanwhile.
        size_t i = lower_bound(index);
        if (i < m_count && m_pages[i].index == index) {
            free_frame(frame);
            continue;
        }
        if (m_count == m_capacity) {
            size_t capacity = m_capacity ? m_capacity * 2 : 16;
            auto* pages = static_cast<Page*>(kmalloc(capacity * sizeof(Page)));
            if (!pages) {
                free_frame(frame);
                return error(ENOMEM);
            }
            if (m_count) memcpy(pages, m_pages, m_count * sizeof(Page));
            kfree(m_pages);
            m_pages = pages;
            m_capacity = capacity;
        }
        memmove(&m_pages[i + 1], &m_pages[i], (m_count - i) * sizeof(Page));
        m_pages[i] = Page{index, frame, false};
        ++m_count;
    }
    return {};
}

uintptr_t FileCache::own_page(uint64_t index, bool create) {
    auto page = m_vnode.data_page(index, create);  // its own lock (ramfs: a SpinLock)
    return page && *page ? platform::virt_to_phys(*page) : 0;
}

uintptr_t FileCache::page(uint64_t index, bool create) {
    // A file system with pages of its own: no list here, and no lock of the cache's (a fault
    // and an munmap on two CPUs would otherwise meet on it for every page).
    if (m_vnode.has_data_pages()) return own_page(index, create);
    SpinLockGuard guard(m_lock);
    Page* page = find(index);
    return page ? page->frame : 0;
}

bool FileCache::past_truncation(uint64_t index) const {
    uint64_t limit = __atomic_load_n(&m_truncate_limit, __ATOMIC_SEQ_CST);
    return limit != UINT64_MAX && index >= (limit + PAGE_SIZE - 1) / PAGE_SIZE;
}

uintptr_t FileCache::fault_page(uint64_t index, bool create, bool* past_end) {
    if (m_vnode.has_data_pages()) {
        // The limit is read after the caller took its address-space lock: a truncation that set
        // it later unmaps this space after this fault is over (its unmap waits for that lock).
        *past_end = past_truncation(index) || index >= size_in_pages();
        return *past_end ? 0 : own_page(index, create);
    }
    SpinLockGuard guard(m_lock);
    *past_end = past_truncation(index) || index >= (m_size + PAGE_SIZE - 1) / PAGE_SIZE;
    if (*past_end) return 0;
    Page* page = find(index);
    return page ? page->frame : 0;
}

uint64_t FileCache::size_in_pages() const {
    uint64_t size;
    if (m_vnode.has_data_pages()) {
        size = __atomic_load_n(&m_vnode.m_attr.size, __ATOMIC_RELAXED);  // under the file's own lock
    } else {
        SpinLockGuard guard(m_lock);
        size = m_size;
    }
    return (size + PAGE_SIZE - 1) / PAGE_SIZE;
}

void FileCache::mark_dirty(uint64_t index) {
    SpinLockGuard guard(m_lock);
    Page* page = find(index);
    if (page && !page->dirty) {
        page->dirty = true;
        ++m_dirty;
    }
}

ErrorOr<void> FileCache::write_back() {
    // Dirty pages stay dirty (there are no dirty bits to clear): a writable shared mapping may
    // write to them again at any time. One page at a time: the write may block, with the lock
    // let go (pages may be added meanwhile; none goes).
    for (uint64_t next = 0;;) {
        uint64_t offset;
        size_t length;
        uintptr_t frame;
        {
            SpinLockGuard guard(m_lock);
            if (!m_dirty) return {};
            size_t i = lower_bound(next);
            while (i < m_count && !m_pages[i].dirty) ++i;
            if (i == m_count) return {};
            offset = m_pages[i].index * PAGE_SIZE;
            next = m_pages[i].index + 1;
            if (offset >= m_size) continue;  // never extends the file
            length = m_size - offset < PAGE_SIZE ? size_t(m_size - offset) : PAGE_SIZE;
            frame = m_pages[i].frame;
        }
        TRY(write_at(offset, {static_cast<const std::byte*>(platform::phys_to_virt(frame)), length}));
    }
}

void FileCache::written(uint64_t offset, const std::byte* data, size_t size) {
    if (m_vnode.has_data_pages()) return;
    {
        SpinLockGuard guard(m_lock);
        if (offset + size > m_size) m_size = offset + size;
    }
    for (size_t done = 0; done < size;) {
        uint64_t at = offset + done;
        size_t in_page = at % PAGE_SIZE;
        size_t chunk = PAGE_SIZE - in_page < size - done ? PAGE_SIZE - in_page : size - done;
        uintptr_t frame = page(at / PAGE_SIZE, false);
        // Copied with the lock let go (`data` may be app memory, and a cached page stays).
        std::byte* to = frame ? static_cast<std::byte*>(platform::phys_to_virt(frame)) + in_page : nullptr;
        if (to && to != data + done) memcpy(to, data + done, chunk);  // a write-back writes the page itself
        done += chunk;
    }
}

// Truncations run under the big lock (the hooks take it): one at a time.
void FileCache::truncating(uint64_t size) { __atomic_store_n(&m_truncate_limit, size, __ATOMIC_SEQ_CST); }

void FileCache::truncate_ended() { __atomic_store_n(&m_truncate_limit, UINT64_MAX, __ATOMIC_SEQ_CST); }

void FileCache::truncated(uint64_t size) {
    truncate_ended();
    if (m_vnode.has_data_pages()) return;
    SpinLockGuard guard(m_lock);
    m_size = size;
    // What lies past the new end reads as zeros if the file grows again.
    for (size_t i = lower_bound(size / PAGE_SIZE); i < m_count; ++i) {
        uint64_t start = m_pages[i].index * PAGE_SIZE;
        size_t from = start < size ? size_t(size - start) : 0;
        memset(static_cast<std::byte*>(platform::phys_to_virt(m_pages[i].frame)) + from, 0, PAGE_SIZE - from);
    }
}

void FileCache::install_hooks() {
    vfs::g_file_cache_hooks = {
        .sync =
            [](vfs::Vnode& vnode) {
                if (auto* cache = existing(vnode)) (void)cache->write_back();
            },
        .written =
            [](vfs::Vnode& vnode, uint64_t offset, std::span<const std::byte> data) {
                rewrite::file_changed(vnode, offset, offset + data.size());  // rewritten pages there are stale
                if (auto* cache = existing(vnode)) cache->written(offset, data.data(), data.size());
            },
        // A truncation (ramfs: O_TRUNC at open runs without the big lock) takes the big lock for
        // the list of address spaces and the rewriter's cache; faults, which do not take it, see
        // the cache's truncation limit from the start of the truncation to its end.
        .truncating =
            [](vfs::Vnode& vnode, uint64_t size) {
                sched::BigLockScope big_lock;
                if (auto* cache = existing(vnode)) cache->truncating(size);
                VirtualMemory::for_each_memory([&](VirtualMemory& memory) { memory.file_truncating(vnode, size); });
            },
        .truncated =
            [](vfs::Vnode& vnode, uint64_t size) {
                sched::BigLockScope big_lock;
                rewrite::file_changed(vnode, size);  // the pages from the new end on
                if (auto* cache = existing(vnode)) cache->truncated(size);
            },
        .truncate_aborted =
            [](vfs::Vnode& vnode) {
                if (auto* cache = existing(vnode)) cache->truncate_ended();
            },
        .destroyed =
            [](vfs::Vnode& vnode) {
                rewrite::file_destroyed(vnode);  // the vnode's address may be reused
                kdestroy(existing(vnode));
                vnode.m_file_cache = nullptr;
            },
    };
}

}  // namespace xos::mm
