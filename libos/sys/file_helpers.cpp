#include "sys/file_helpers.h"

#include <fcntl.h>

#include <climits>

namespace xos::sys {

ErrorOr<std::string_view> copy_path(UserPtr<const char> path, PathBuffer& buffer, bool allow_empty) {
    const char* source = path.unchecked();
    // Validate a page at a time (a check is a mapping lookup), not every byte.
    uintptr_t checked_end = path.address();
    for (size_t i = 0; i < sizeof buffer.text; ++i) {
        if (path.address() + i >= checked_end) {
            uintptr_t page_end = ((path.address() + i) | 4095) + 1;
            if (!user_range_ok(path.address() + i, page_end - (path.address() + i))) return error(EFAULT);
            checked_end = page_end;
        }
        char c = source[i];
        buffer.text[i] = c;
        if (c == '\0') {
            if (i == 0 && !allow_empty) return error(ENOENT);
            return std::string_view(buffer.text, i);
        }
    }
    return error(ENAMETOOLONG);
}

ErrorOr<StartDir> start_at(int dirfd, std::string_view path) {
    vfs::Process& process = vfs::process();
    if (!path.empty() && path[0] == '/') return StartDir{process.root, process.context(process.root.get())};
    if (dirfd == AT_FDCWD) return StartDir{process.cwd, process.context()};
    RefPtr<vfs::File> file = TRY(process.fds.get(dirfd));
    RefPtr<vfs::Vnode> vnode(file->vnode());
    if (!path.empty() && !vnode->is_directory()) return error(ENOTDIR);
    return StartDir{vnode, process.context(vnode.get())};
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

ErrorOr<size_t> iovec_total(UserPtr<const iovec> iov, int count) {
    if (count < 0 || count > IOV_MAX) return error(EINVAL);
    if (!user_range_ok(iov.address(), size_t(count) * sizeof(iovec))) return error(EFAULT);
    size_t total = 0;
    for (int i = 0; i < count; ++i) {
        size_t length = iov.unchecked()[i].iov_len;
        if (length > size_t(SSIZE_MAX) - total) return error(EINVAL);
        total += length;
    }
    return total;
}

}  // namespace xos::sys
