#include "vfs/fd_table.h"

namespace xos::vfs {

ErrorOr<RefPtr<File>> FdTable::get(int fd) const {
    if (fd < 0 || fd >= MAX_FDS || !m_entries[fd].file) return error(EBADF);
    return m_entries[fd].file;
}

ErrorOr<int> FdTable::allocate(RefPtr<File> file, bool cloexec, int minimum) {
    if (minimum < 0 || minimum >= m_limit) return error(EINVAL);
    int start = minimum > m_lowest_free_hint ? minimum : m_lowest_free_hint;
    for (int fd = start; fd < m_limit; ++fd) {
        if (m_entries[fd].file) continue;
        m_entries[fd] = {static_cast<RefPtr<File>&&>(file), cloexec};
        ++m_open;
        if (minimum <= m_lowest_free_hint) m_lowest_free_hint = fd + 1;
        return fd;
    }
    return error(EMFILE);
}

ErrorOr<void> FdTable::install(int fd, RefPtr<File> file, bool cloexec) {
    if (fd < 0 || fd >= m_limit) return error(EBADF);
    // Drop the old file only after the slot holds the new one: its destructor may run code.
    RefPtr<File> old = static_cast<RefPtr<File>&&>(m_entries[fd].file);
    if (!old) ++m_open;
    m_entries[fd] = {static_cast<RefPtr<File>&&>(file), cloexec};
    return {};
}

ErrorOr<void> FdTable::close(int fd) {
    if (fd < 0 || fd >= MAX_FDS || !m_entries[fd].file) return error(EBADF);
    RefPtr<File> old = static_cast<RefPtr<File>&&>(m_entries[fd].file);
    m_entries[fd].cloexec = false;
    --m_open;
    if (fd < m_lowest_free_hint) m_lowest_free_hint = fd;
    return {};
}

void FdTable::close_all() {
    for (int fd = 0; fd < MAX_FDS; ++fd)
        if (m_entries[fd].file) (void)close(fd);
}

ErrorOr<bool> FdTable::cloexec(int fd) const {
    if (fd < 0 || fd >= MAX_FDS || !m_entries[fd].file) return error(EBADF);
    return m_entries[fd].cloexec;
}

ErrorOr<void> FdTable::set_cloexec(int fd, bool cloexec) {
    if (fd < 0 || fd >= MAX_FDS || !m_entries[fd].file) return error(EBADF);
    m_entries[fd].cloexec = cloexec;
    return {};
}

}  // namespace xos::vfs
