#include "fs/ramfs/ramfs.h"

#include <fcntl.h>

#include <cstring>

#include "base/user_ptr.h"
#include "mm/heap.h"

namespace xos::fs {

RamFs::RamFs(const char* type_name, uint64_t magic) : Filesystem(type_name, magic) {}

RamFs::~RamFs() = default;

ErrorOr<void> RamFs::initialize(mode_t root_mode) {
    RamDir* root = mm::kcreate<RamDir>(*this, S_IFDIR | (root_mode & 07777), nullptr);
    if (!root) return error(ENOMEM);
    m_root = root;
    return {};
}

RefPtr<vfs::Vnode> RamFs::root() { return m_root; }

ErrorOr<vfs::FsStats> RamFs::statfs() {
    size_t free = free_pages_hook ? free_pages_hook() : 0;
    // With a limit, as tmpfs with size=: the limit is the size and what it leaves is free (even
    // when memory is shorter; writes then fail with ENOSPC earlier). Without, memory is the limit.
    size_t blocks = m_page_limit == NO_LIMIT ? data_pages() + free : m_page_limit;
    size_t blocks_free = m_page_limit == NO_LIMIT ? free : pages_left();
    return vfs::FsStats{.magic = magic(),
                        .block_size = PageTree::PAGE,
                        .blocks = blocks,
                        .blocks_free = blocks_free,
                        .blocks_available = blocks_free,
                        .files = nodes() + free,
                        .files_free = free,
                        .name_max = 255,
                        .flags = 0};  // the mount's options come on top (statfs(2): Filesystem::mount_flags)
}

ErrorOr<RefPtr<vfs::Vnode>> RamFs::create_unlinked_file(mode_t mode) {
    RamFile* file = mm::kcreate<RamFile>(*this, S_IFREG | (mode & 07777));
    if (!file) return error(ENOMEM);
    file->m_attr.nlink = 0;
    return RefPtr<vfs::Vnode>(file);
}

// --- regular files ---

RamFile::~RamFile() NO_THREAD_SAFETY_ANALYSIS {  // the last reference: nobody else sees it
    PageTree::free_deferred(m_deferred);
    ramfs().add_data_pages(-ptrdiff_t(m_pages.page_count()));
}

bool RamFile::within_limit(uint64_t index, size_t added) const {
    return added < ramfs().pages_left() || m_pages.find(index);
}

void RamFile::update_blocks() { m_attr.blocks = m_pages.page_count() * (PageTree::PAGE / 512); }

ErrorOr<vfs::Attributes> RamFile::getattr() {
    SpinLockGuard guard(m_lock);  // size, blocks and mtime change together under it
    return m_attr;
}

// The buffers of read and write may be the app's: they are copied with the fault-safe user
// copy, and a fault ends the transfer (EFAULT if nothing moved). The copies run without m_lock
// (they may fault). A write holds m_io_lock (File::write_at), as truncate does; a read does not
// (readers of one file run in parallel): it counts itself in m_readers, and a truncate
// meanwhile leaves the pages it drops to the last reader to free.
ErrorOr<size_t> RamFile::read(uint64_t offset, std::span<std::byte> buffer) {
    static const std::byte zeros[PageTree::PAGE] = {};  // what a hole reads as
    uint64_t size;
    {
        SpinLockGuard guard(m_lock);
        size = m_attr.size;
        if (offset >= size) return 0;
        ++m_readers;
    }
    size_t count = buffer.size() < size - offset ? buffer.size() : size_t(size - offset);
    size_t done = 0;
    bool faulted = false;
    // Pages are looked up BATCH at a time under one m_lock (a lock per page was contended by
    // two readers of one file), then copied with it let go: being a reader (m_readers) keeps them.
    constexpr size_t BATCH = 32;
    const std::byte* pages[BATCH];
    while (done < count && !faulted) {
        uint64_t first = (offset + done) / PageTree::PAGE;
        uint64_t last = (offset + count - 1) / PageTree::PAGE;
        size_t batch = last - first + 1 < BATCH ? size_t(last - first + 1) : BATCH;
        {
            SpinLockGuard guard(m_lock);
            for (size_t i = 0; i < batch; ++i) pages[i] = m_pages.find(first + i);
        }
        for (size_t i = 0; i < batch && done < count; ++i) {
            uint64_t at = offset + done;
            size_t in_page = at % PageTree::PAGE;
            size_t chunk = PageTree::PAGE - in_page < count - done ? PageTree::PAGE - in_page : count - done;
            if (size_t left = user_copy(buffer.data() + done, pages[i] ? pages[i] + in_page : zeros, chunk)) {
                done += chunk - left;
                faulted = true;
                break;
            }
            done += chunk;
        }
    }
    void* deferred = nullptr;
    {
        SpinLockGuard guard(m_lock);
        if (--m_readers == 0) {
            deferred = m_deferred;
            m_deferred = nullptr;
        }
    }
    PageTree::free_deferred(deferred);
    if (faulted && !done) return error(EFAULT);
    return done;
}

ErrorOr<std::byte*> RamFile::page_for_write(uint64_t index, PageTree::NewPage new_page, size_t& added) {
    SpinLockGuard guard(m_lock);
    if (!within_limit(index, 0)) return error(ENOSPC);  // the file system's count includes `added` already
    size_t before = m_pages.page_count();
    auto page = m_pages.find_or_create(index, new_page);
    size_t created = m_pages.page_count() - before;
    added += created;
    ramfs().add_data_pages(ptrdiff_t(created));
    if (!page) return std::unexpected(page.error().code == ENOMEM ? Error{ENOSPC} : page.error());
    return page;
}

ErrorOr<size_t> RamFile::write(uint64_t offset, std::span<const std::byte> data) {
    if (m_seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return error(EPERM);
    if (m_seals & F_SEAL_GROW) {
        SpinLockGuard guard(m_lock);
        if (offset + data.size() > m_attr.size) {
            if (offset >= m_attr.size) return error(EPERM);
            data = data.first(size_t(m_attr.size - offset));  // Linux writes up to the end
        }
    }
    size_t done = 0, added = 0;
    ErrorOr<void> failure;
    while (done < data.size()) {
        uint64_t at = offset + done;
        size_t in_page = at % PageTree::PAGE;
        size_t chunk = PageTree::PAGE - in_page < data.size() - done ? PageTree::PAGE - in_page : data.size() - done;
        auto new_page = chunk == PageTree::PAGE ? PageTree::NewPage::Overwritten : PageTree::NewPage::Zeroed;
        auto page = page_for_write(at / PageTree::PAGE, new_page, added);
        if (!page) {
            failure = std::unexpected(page.error());
            break;  // a short write, like Linux on ENOSPC part-way
        }
        if (size_t left = user_copy(*page + in_page, data.data() + done, chunk)) {
            memset(*page + in_page + (chunk - left), 0, left);  // a page created for overwriting holds old bytes
            done += chunk - left;
            if (!done) failure = error(EFAULT);
            break;
        }
        done += chunk;
    }
    SpinLockGuard guard(m_lock);
    if (offset + done > m_attr.size) m_attr.size = offset + done;
    update_blocks();
    if (done) touch_mtime();
    if (!done && !failure) return std::unexpected(failure.error());  // nothing written: the first error
    return done;
}

ErrorOr<void> RamFile::setattr(const vfs::AttrChange& change) {
    if (change.mask & vfs::ATTR_SIZE) TRY(truncate(change.size));
    SpinLockGuard guard(m_lock);
    apply_attributes(change);
    return {};
}

ErrorOr<void> RamFile::truncate(uint64_t size) {
    // Under m_io_lock: no read or write is copying from a page this frees.
    sched::MutexLocker io(m_io_lock);
    return truncate_locked(size);
}

ErrorOr<void> RamFile::truncate_locked(uint64_t size) {
    if (size > uint64_t(INT64_MAX)) return error(EINVAL);
    SpinLockGuard guard(m_lock);
    if ((m_seals & F_SEAL_SHRINK) && size < m_attr.size) return error(EPERM);
    if ((m_seals & F_SEAL_GROW) && size > m_attr.size) return error(EPERM);
    size_t before = m_pages.page_count();
    if (size < m_attr.size) {
        m_pages.truncate((size + PageTree::PAGE - 1) / PageTree::PAGE, m_readers ? &m_deferred : nullptr);
        // Zero the tail of the last page so that growing the file again reads zeros.
        if (std::byte* page = m_pages.find(size / PageTree::PAGE); page && size % PageTree::PAGE)
            memset(page + size % PageTree::PAGE, 0, PageTree::PAGE - size % PageTree::PAGE);
    }
    ramfs().add_data_pages(-ptrdiff_t(before - m_pages.page_count()));
    m_attr.size = size;
    update_blocks();
    touch_mtime();
    return {};
}

ErrorOr<void> RamFile::allocate(int mode, uint64_t offset, uint64_t length) {
    constexpr int KEEP_SIZE = 1;  // FALLOC_FL_KEEP_SIZE
    if (mode & ~KEEP_SIZE) return error(EOPNOTSUPP);
    sched::MutexLocker io(m_io_lock);
    SpinLockGuard guard(m_lock);
    if ((m_seals & F_SEAL_GROW) && !(mode & KEEP_SIZE) && offset + length > m_attr.size) return error(EPERM);
    size_t before = m_pages.page_count();
    for (uint64_t index = offset / PageTree::PAGE; index * PageTree::PAGE < offset + length; ++index) {
        auto page = within_limit(index, m_pages.page_count() - before) ? m_pages.find_or_create(index)
                                                                       : ErrorOr<std::byte*>(error(ENOSPC));
        if (!page) {
            ramfs().add_data_pages(ptrdiff_t(m_pages.page_count() - before));
            update_blocks();
            return error(page.error().code == ENOMEM ? ENOSPC : page.error().code);
        }
    }
    ramfs().add_data_pages(ptrdiff_t(m_pages.page_count() - before));
    if (!(mode & KEEP_SIZE) && offset + length > m_attr.size) {
        m_attr.size = offset + length;
        touch_ctime();
    }
    update_blocks();
    return {};
}

ErrorOr<std::byte*> RamFile::data_page(uint64_t index, bool create) {
    // From the page-fault path (also inside a copy of read/write to this file, with m_io_lock
    // held): the tree's lock only.
    SpinLockGuard guard(m_lock);
    if (std::byte* page = m_pages.find(index)) return page;
    if (!create) return nullptr;
    if (!within_limit(index, 0)) return error(ENOSPC);
    std::byte* page = TRY(m_pages.find_or_create(index));
    ramfs().add_data_pages(ptrdiff_t(1));
    update_blocks();
    return page;
}

// --- symlinks ---

RamSymlink::RamSymlink(RamFs& fs, KString target)
    : Vnode(fs, fs.allocate_ino(), S_IFLNK | 0777), m_target(static_cast<KString&&>(target)) {
    m_attr.size = m_target.size();
}

ErrorOr<KString> RamSymlink::readlink() { return KString::from(m_target.view()); }

}  // namespace xos::fs
