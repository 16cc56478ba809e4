#include "vfs/fd_table.h"

namespace xos::vfs {

RefPtr<File> FdTable::lookup(int fd) const {
    if (fd < 0 || fd >= MAX_FDS) return nullptr;
    SpinLockGuard guard(m_lock);
    return m_entries[fd].file;
}

bool FdTable::is_open(int fd) const { return bool(lookup(fd)); }

ErrorOr<RefPtr<File>> FdTable::get(int fd) const {
    RefPtr<File> file = lookup(fd);
    if (!file) return error(EBADF);
    return file;
}

ErrorOr<int> FdTable::allocate(RefPtr<File> file, bool cloexec, int minimum) {
    SpinLockGuard guard(m_lock);
    if (minimum < 0 || minimum >= limit()) return error(EINVAL);
    int start = minimum > m_lowest_free_hint ? minimum : m_lowest_free_hint;
    for (int fd = start; fd < limit(); ++fd) {
        if (m_entries[fd].file) continue;
        m_entries[fd] = {static_cast<RefPtr<File>&&>(file), cloexec};
        __atomic_store_n(&m_open, m_open + 1, __ATOMIC_RELAXED);
        if (minimum <= m_lowest_free_hint) m_lowest_free_hint = fd + 1;
        return fd;
    }
    return error(EMFILE);  // `file` is dropped after the guard: the caller still holds it
}

ErrorOr<void> FdTable::install(int fd, RefPtr<File> file, bool cloexec) {
    // The old file is dropped after the lock is let go (declared first, destroyed last): its
    // destructor may run code that takes other locks.
    RefPtr<File> old;
    SpinLockGuard guard(m_lock);
    if (fd < 0 || fd >= limit()) return error(EBADF);
    old = static_cast<RefPtr<File>&&>(m_entries[fd].file);
    if (!old) __atomic_store_n(&m_open, m_open + 1, __ATOMIC_RELAXED);
    m_entries[fd] = {static_cast<RefPtr<File>&&>(file), cloexec};
    return {};
}

ErrorOr<void> FdTable::close(int fd) {
    RefPtr<File> old;  // dropped after the guard, as in install()
    SpinLockGuard guard(m_lock);
    if (fd < 0 || fd >= MAX_FDS || !m_entries[fd].file) return error(EBADF);
    old = static_cast<RefPtr<File>&&>(m_entries[fd].file);
    m_entries[fd].cloexec = false;
    __atomic_store_n(&m_open, m_open - 1, __ATOMIC_RELAXED);
    if (fd < m_lowest_free_hint) m_lowest_free_hint = fd;
    return {};
}

void FdTable::close_all() {
    for (int fd = 0; fd < MAX_FDS; ++fd) (void)close(fd);
}

ErrorOr<bool> FdTable::cloexec(int fd) const {
    SpinLockGuard guard(m_lock);
    if (fd < 0 || fd >= MAX_FDS || !m_entries[fd].file) return error(EBADF);
    return m_entries[fd].cloexec;
}

ErrorOr<void> FdTable::set_cloexec(int fd, bool cloexec) {
    SpinLockGuard guard(m_lock);
    if (fd < 0 || fd >= MAX_FDS || !m_entries[fd].file) return error(EBADF);
    m_entries[fd].cloexec = cloexec;
    return {};
}

}  // namespace xos::vfs
