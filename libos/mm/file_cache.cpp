#include "mm/file_cache.h"

#include <cstring>

#include "mm/frames.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "rewrite/rewrite.h"
#include "xos/platform.h"

namespace xos::mm {

ErrorOr<FileCache*> FileCache::of(vfs::Vnode& vnode, vfs::File* file) {
    std::optional<uint64_t> device_size = file ? file->device_size() : std::nullopt;
    uint64_t size = vnode.has_data_pages() ? 0 : device_size ? *device_size : TRY(vnode.getattr()).size;
    auto* cache = existing(vnode);
    if (!cache) {
        cache = kcreate<FileCache>(vnode);
        if (!cache) return error(ENOMEM);
        vnode.m_file_cache = cache;
    }
    if (!vnode.has_data_pages()) cache->m_size = size;
    // A device keeps the description it is mapped through, a writable one if it has one.
    if (device_size && (!cache->m_device || (file->writable() && !cache->m_device->writable()))) cache->m_device = file;
    return cache;
}

ErrorOr<size_t> FileCache::read_at(uint64_t offset, std::span<std::byte> buffer) {
    return m_device ? m_device->read(buffer, offset) : m_vnode.read(offset, buffer);
}

ErrorOr<size_t> FileCache::write_at(uint64_t offset, std::span<const std::byte> data) {
    return m_device ? m_device->write(data, offset) : m_vnode.write(offset, data);
}

FileCache::~FileCache() {
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
        size_t i = lower_bound(index);
        if (i < m_count && m_pages[i].index == index) continue;
        if (m_count == m_capacity) {
            size_t capacity = m_capacity ? m_capacity * 2 : 16;
            auto* pages = static_cast<Page*>(kmalloc(capacity * sizeof(Page)));
            if (!pages) return error(ENOMEM);
            if (m_count) memcpy(pages, m_pages, m_count * sizeof(Page));
            kfree(m_pages);
            m_pages = pages;
            m_capacity = capacity;
        }
        uintptr_t frame = allocate_frame();
        if (!frame) return error(ENOMEM);
        uint64_t offset = index * PAGE_SIZE;
        // Past the end of the file the page stays zero (a fault there is SIGBUS, but the file may
        // grow by write(2) into it).
        for (size_t done = 0; offset + done < m_size && done < PAGE_SIZE;) {
            auto n = read_at(offset + done,
                             {static_cast<std::byte*>(platform::phys_to_virt(frame)) + done, PAGE_SIZE - done});
            if (!n) {
                free_frame(frame);
                return std::unexpected(n.error());
            }
            if (*n == 0) break;
            done += *n;
        }
        // A read may block: somebody else may have added the page meanwhile.
        i = lower_bound(index);
        if (i < m_count && m_pages[i].index == index) {
            free_frame(frame);
            continue;
        }
        memmove(&m_pages[i + 1], &m_pages[i], (m_count - i) * sizeof(Page));
        m_pages[i] = Page{index, frame, false};
        ++m_count;
    }
    return {};
}

uintptr_t FileCache::page(uint64_t index, bool create) {
    if (m_vnode.has_data_pages()) {
        auto page = m_vnode.data_page(index, create);
        return page ? platform::virt_to_phys(*page) : 0;
    }
    Page* page = find(index);
    return page ? page->frame : 0;
}

uint64_t FileCache::size_in_pages() const {
    uint64_t size = m_vnode.has_data_pages() ? m_vnode.m_attr.size : m_size;
    return (size + PAGE_SIZE - 1) / PAGE_SIZE;
}

void FileCache::mark_dirty(uint64_t index) {
    Page* page = find(index);
    if (page && !page->dirty) {
        page->dirty = true;
        ++m_dirty;
    }
}

ErrorOr<void> FileCache::write_back() {
    if (!m_dirty) return {};
    // Dirty pages stay dirty (there are no dirty bits to clear): a writable shared mapping may
    // write to them again at any time.
    for (size_t i = 0; i < m_count; ++i) {
        if (!m_pages[i].dirty) continue;
        uint64_t offset = m_pages[i].index * PAGE_SIZE;
        if (offset >= m_size) continue;  // never extends the file
        size_t length = m_size - offset < PAGE_SIZE ? size_t(m_size - offset) : PAGE_SIZE;
        uintptr_t frame = m_pages[i].frame;
        TRY(write_at(offset, {static_cast<const std::byte*>(platform::phys_to_virt(frame)), length}));
        // The write may block and pages may be added meanwhile: continue from this one.
        size_t at = lower_bound(offset / PAGE_SIZE);
        i = at;
    }
    return {};
}

void FileCache::written(uint64_t offset, const std::byte* data, size_t size) {
    if (m_vnode.has_data_pages()) return;
    if (offset + size > m_size) m_size = offset + size;
    for (size_t done = 0; done < size;) {
        uint64_t at = offset + done;
        size_t in_page = at % PAGE_SIZE;
        size_t chunk = PAGE_SIZE - in_page < size - done ? PAGE_SIZE - in_page : size - done;
        Page* page = find(at / PAGE_SIZE);
        std::byte* to = page ? static_cast<std::byte*>(platform::phys_to_virt(page->frame)) + in_page : nullptr;
        if (to && to != data + done) memcpy(to, data + done, chunk);  // a write-back writes the page itself
        done += chunk;
    }
}

void FileCache::truncated(uint64_t size) {
    if (m_vnode.has_data_pages()) return;
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
        .truncating =
            [](vfs::Vnode& vnode, uint64_t size) {
                VirtualMemory::for_each_memory([&](VirtualMemory& memory) { memory.file_truncating(vnode, size); });
            },
        .truncated =
            [](vfs::Vnode& vnode, uint64_t size) {
                rewrite::file_changed(vnode, size);  // the pages from the new end on
                if (auto* cache = existing(vnode)) cache->truncated(size);
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
