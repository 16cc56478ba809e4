// What the file syscalls share: copying paths in, choosing the directory a path starts from
// (AT_FDCWD or a dirfd), looking descriptors up, and validating I/O vectors.
#pragma once

#include <sys/uio.h>

#include <string_view>

#include "base/error.h"
#include "base/user_ptr.h"
#include "vfs/file.h"
#include "vfs/path_walk.h"
#include "vfs/process.h"

namespace xos::sys {

struct PathBuffer {
    char text[vfs::PATH_MAX_BYTES];
};

// Copies a NUL-terminated path from the app. EFAULT for a bad pointer, ENAMETOOLONG past
// PATH_MAX, ENOENT for an empty path unless `allow_empty`.
ErrorOr<std::string_view> copy_path(UserPtr<const char> path, PathBuffer& buffer, bool allow_empty = false);

// The walk context for `path` relative to `dirfd` (holding the directory while it is used).
struct StartDir {
    RefPtr<vfs::Vnode> held;
    vfs::WalkContext context;
};
ErrorOr<StartDir> start_at(int dirfd, std::string_view path);

// The file behind `fd`; O_PATH descriptors only where `allow_path_only`.
ErrorOr<RefPtr<vfs::File>> file_for(int fd, bool allow_path_only = false);

// Resolves `path` at `dirfd` with AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH semantics.
ErrorOr<RefPtr<vfs::Vnode>> resolve_at(int dirfd, UserPtr<const char> path, int at_flags);

// Validates an iovec array; returns the total length (EINVAL past SSIZE_MAX or IOV_MAX).
ErrorOr<size_t> iovec_total(UserPtr<const iovec> iov, int count);

}  // namespace xos::sys
