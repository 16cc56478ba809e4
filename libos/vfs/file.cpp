#include "vfs/file.h"

#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <climits>

#include "sched/thread.h"

namespace xos::vfs {

File::File(RefPtr<Vnode> vnode, int flags) : m_vnode(static_cast<RefPtr<Vnode>&&>(vnode)), m_flags(flags) {}

File::~File() { release_flock(); }

void File::destroy() {
    // The last reference may go on any CPU, from a syscall that does not hold the big lock
    // (a read that outlived the close of its descriptor). What a description's destruction
    // touches (epoll registrations, flock state, the vnode and its file system's caches, a
    // socket's protocol state) is still the big lock's: take it (docs/locking.md "I/O objects"),
    // except for a plain regular file or directory of a thread-safe file system with no flock
    // (close of a tmpfs file: its vnode and its directory have locks of their own; epoll
    // registrations end under the epoll mutex).
    bool plain = m_vnode->thread_safe() && (m_vnode->is_regular() || m_vnode->is_directory()) &&
        (!m_origin_parent || m_origin_parent->thread_safe()) && m_flock == 0 && !m_vnode->m_file_cache;
    BigLockUnlessSafe big_lock(plain);
    release_poll_waiters(*this);
    RefCounted::destroy();
}

void File::release_flock() {
    if (m_flock == LOCK_SH)
        --m_vnode->m_flock_shared;
    else if (m_flock == LOCK_EX)
        m_vnode->m_flock_exclusive = false;
    m_flock = 0;
}

ErrorOr<size_t> File::read_at(uint64_t at, std::span<std::byte> buffer) {
    if (m_vnode->m_file_cache && g_file_cache_hooks.sync) g_file_cache_hooks.sync(*m_vnode);
    // A thread-safe vnode orders its reads against writes and truncates itself (ramfs: readers
    // of one file in parallel, docs/locking.md "Files and directories").
    if (m_vnode->thread_safe()) return m_vnode->read(at, buffer);
    sched::MutexLocker io(m_vnode->m_io_lock);
    return m_vnode->read(at, buffer);
}

ErrorOr<size_t> File::write_at(uint64_t& at, std::span<const std::byte> data) {
    // The end of file and the write under one lock: concurrent O_APPEND writers, through one
    // description or several, neither overwrite nor interleave each other's data.
    sched::MutexLocker io(m_vnode->m_io_lock);
    if (flags() & O_APPEND) at = TRY(m_vnode->getattr()).size;  // Linux appends even for pwrite
    if (data.size() && at + data.size() > uint64_t(LLONG_MAX)) return error(EFBIG);
    size_t n = TRY(m_vnode->write(at, data));
    if (n && m_vnode->m_file_cache && g_file_cache_hooks.written)
        g_file_cache_hooks.written(*m_vnode, at, data.first(n));
    return n;
}

ErrorOr<size_t> File::read(std::span<std::byte> buffer, std::optional<uint64_t> offset) {
    if (offset) return read_at(*offset, buffer);
    sched::MutexLocker position(m_position_lock);
    size_t n = TRY(read_at(m_position, buffer));
    m_position += n;
    return n;
}

ErrorOr<size_t> File::write(std::span<const std::byte> data, std::optional<uint64_t> offset) {
    if (offset) {
        uint64_t at = *offset;
        return write_at(at, data);
    }
    sched::MutexLocker position(m_position_lock);
    uint64_t at = m_position;
    size_t n = TRY(write_at(at, data));
    m_position = at + n;
    return n;
}

ErrorOr<uint64_t> File::seek(int64_t offset, int whence) {
    sched::MutexLocker position(m_position_lock);
    int64_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = int64_t(m_position); break;
    case SEEK_END: base = int64_t(TRY(m_vnode->getattr()).size); break;
    case SEEK_DATA:
    case SEEK_HOLE: {
        // Files are reported as one data extent followed by the implicit hole at the end.
        if (m_vnode->is_directory()) return error(EINVAL);
        uint64_t size = TRY(m_vnode->getattr()).size;
        if (offset < 0 || uint64_t(offset) >= size) return error(ENXIO);
        m_position = whence == SEEK_DATA ? uint64_t(offset) : size;
        return m_position;
    }
    default: return error(EINVAL);
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return error(EINVAL);
    m_position = uint64_t(base + offset);
    return m_position;
}

ErrorOr<void> File::read_entries(DirSink& sink, const bool& faulted) {
    sched::MutexLocker position(m_position_lock);
    uint64_t cookie = m_position;
    TRY(m_vnode->readdir_open(cookie, sink, m_listing));
    if (!faulted) m_position = cookie;
    return {};
}

ErrorOr<void> File::sync() {
    if (m_vnode->m_file_cache && g_file_cache_hooks.sync) g_file_cache_hooks.sync(*m_vnode);
    return m_vnode->sync();
}

ErrorOr<long> File::ioctl(unsigned long, uintptr_t) { return error(ENOTTY); }

ErrorOr<size_t> File::bytes_readable() {
    if (!m_vnode->is_regular()) return error(ENOTTY);
    sched::MutexLocker position(m_position_lock);
    uint64_t size = TRY(m_vnode->getattr()).size;
    return size > m_position ? size_t(size - m_position) : 0;
}

}  // namespace xos::vfs
