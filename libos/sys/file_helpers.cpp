#include "sys/file_helpers.h"

#include <fcntl.h>

#include <climits>

#include "mm/heap.h"

namespace xos::sys {

ErrorOr<std::string_view> copy_path(UserPtr<const char> path, PathBuffer& buffer, bool allow_empty) {
    size_t length = TRY(copy_string_from_user(buffer.text, path, sizeof buffer.text));
    if (length == 0 && !allow_empty) return error(ENOENT);
    return std::string_view(buffer.text, length);
}

ErrorOr<StartDir> start_at(int dirfd, std::string_view path) {
    vfs::Process& process = vfs::process();
    // Path syscalls may run without the big lock, while chdir/chroot on another CPU replace
    // the root or cwd: both are held for the walk, copied under the process's paths_lock.
    RefPtr<vfs::Vnode> root, cwd;
    {
        SpinLockGuard guard(process.paths_lock);
        root = process.root;
        cwd = process.cwd;
    }
    if (!path.empty() && path[0] == '/') return StartDir{root, root, {root.get(), root.get()}};
    if (dirfd == AT_FDCWD) return StartDir{cwd, root, {root.get(), cwd.get()}};
    RefPtr<vfs::File> file = TRY(process.fds.get(dirfd));
    RefPtr<vfs::Vnode> vnode(file->vnode());
    if (!path.empty() && !vnode->is_directory()) return error(ENOTDIR);
    return StartDir{vnode, root, {root.get(), vnode.get()}};
}

ErrorOr<RefPtr<vfs::File>> file_for(int fd, bool allow_path_only) {
    RefPtr<vfs::File> file = TRY(vfs::process().fds.get(fd));
    if (file->is_path_only() && !allow_path_only) return error(EBADF);
    return file;
}

ErrorOr<RefPtr<vfs::Vnode>> resolve_at(int dirfd, UserPtr<const char> path, int at_flags) {
    PathBuffer buffer;
    std::string_view text = TRY(copy_path(path, buffer, at_flags & AT_EMPTY_PATH));
    StartDir start = TRY(start_at(dirfd, text));
    if (text.empty()) return start.held;
    vfs::Follow follow = (at_flags & AT_SYMLINK_NOFOLLOW) ? vfs::Follow::No : vfs::Follow::Yes;
    return vfs::resolve(start.context, text, follow);
}

IovecArray::~IovecArray() {
    if (m_entries != m_inline) mm::kfree(m_entries);
}

ErrorOr<void> IovecArray::copy_in(UserPtr<const iovec> iov, int count) {
    if (count < 0 || count > IOV_MAX) return error(EINVAL);
    if (size_t(count) > INLINE_ENTRIES) {
        m_entries = static_cast<iovec*>(mm::kmalloc(size_t(count) * sizeof(iovec)));
        if (!m_entries) {
            m_entries = m_inline;
            return error(ENOMEM);
        }
    }
    TRY(copy_from_user(m_entries, UserPtr<const void>(iov.address()), size_t(count) * sizeof(iovec)));
    m_count = size_t(count);
    size_t total = 0;
    for (size_t i = 0; i < m_count; ++i) {
        if (m_entries[i].iov_len > size_t(SSIZE_MAX) - total) return error(EINVAL);
        total += m_entries[i].iov_len;
    }
    return {};
}

}  // namespace xos::sys
