// Extended attributes: the getxattr, listxattr, setxattr and removexattr families. No xos file
// system stores extended attributes for the app (hostfs keeps its own mapped-xattr records
// private), so every file has none: get and remove say ENODATA and list returns an empty list,
// as Linux does for a file without attributes (GNU ls asks for ACLs and SELinux labels this
// way, and takes ENODATA as "none"); set says EOPNOTSUPP. The file is looked up first, so a
// missing path or a bad descriptor fails as on Linux.
#include <fcntl.h>

#include "sys/file_helpers.h"
#include "sys/handlers.h"

namespace xos::sys {

namespace {

constexpr size_t XATTR_NAME_MAX_BYTES = 255;
constexpr int XATTR_CREATE_FLAG = 1;
constexpr int XATTR_REPLACE_FLAG = 2;

// An attribute name as Linux checks it: ERANGE for an empty or too long name.
ErrorOr<void> check_name(UserPtr<const char> name) {
    char buffer[XATTR_NAME_MAX_BYTES + 1];
    auto length = copy_string_from_user(buffer, name, sizeof buffer);
    if (!length && length.error().code == ENAMETOOLONG) return error(ERANGE);
    if (TRY(length) == 0) return error(ERANGE);
    return {};
}

ErrorOr<long> get_none(UserPtr<const char> name) {
    TRY(check_name(name));
    return error(ENODATA);
}

// setxattr on `vnode` (EROFS on a read-only mount, as Linux checks before the name).
ErrorOr<long> set_none(const vfs::Vnode& vnode, UserPtr<const char> name, int flags) {
    if (flags & ~(XATTR_CREATE_FLAG | XATTR_REPLACE_FLAG)) return error(EINVAL);
    TRY(check_name(name));
    TRY(vfs::check_writable(vnode));
    return error(EOPNOTSUPP);
}

// removexattr on `vnode`.
ErrorOr<long> remove_none(const vfs::Vnode& vnode, UserPtr<const char> name) {
    TRY(check_name(name));
    TRY(vfs::check_writable(vnode));
    return error(ENODATA);
}

}  // namespace

// Implements getxattr(2).
ErrorOr<long> sys_getxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<void>, size_t) {
    TRY(resolve_at(AT_FDCWD, path, 0));
    return get_none(name);
}

// Implements lgetxattr(2).
ErrorOr<long> sys_lgetxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<void>, size_t) {
    TRY(resolve_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW));
    return get_none(name);
}

// Implements fgetxattr(2).
ErrorOr<long> sys_fgetxattr(int fd, UserPtr<const char> name, UserPtr<void>, size_t) {
    TRY(file_for(fd));
    return get_none(name);
}

// Implements listxattr(2).
ErrorOr<long> sys_listxattr(UserPtr<const char> path, UserPtr<char>, size_t) {
    TRY(resolve_at(AT_FDCWD, path, 0));
    return 0;
}

// Implements llistxattr(2).
ErrorOr<long> sys_llistxattr(UserPtr<const char> path, UserPtr<char>, size_t) {
    TRY(resolve_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW));
    return 0;
}

// Implements flistxattr(2).
ErrorOr<long> sys_flistxattr(int fd, UserPtr<char>, size_t) {
    TRY(file_for(fd));
    return 0;
}

// Implements setxattr(2).
ErrorOr<long> sys_setxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<const void>, size_t, int flags) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return set_none(*vnode, name, flags);
}

// Implements lsetxattr(2).
ErrorOr<long> sys_lsetxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<const void>, size_t,
                            int flags) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW));
    return set_none(*vnode, name, flags);
}

// Implements fsetxattr(2).
ErrorOr<long> sys_fsetxattr(int fd, UserPtr<const char> name, UserPtr<const void>, size_t, int flags) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    return set_none(*file->vnode(), name, flags);
}

// Implements removexattr(2).
ErrorOr<long> sys_removexattr(UserPtr<const char> path, UserPtr<const char> name) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return remove_none(*vnode, name);
}

// Implements lremovexattr(2).
ErrorOr<long> sys_lremovexattr(UserPtr<const char> path, UserPtr<const char> name) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW));
    return remove_none(*vnode, name);
}

// Implements fremovexattr(2).
ErrorOr<long> sys_fremovexattr(int fd, UserPtr<const char> name) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    return remove_none(*file->vnode(), name);
}

}  // namespace xos::sys
