// What the file syscalls share: copying paths in, choosing the directory a path starts from
// (AT_FDCWD or a dirfd), looking descriptors up, and copying I/O vectors in.
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
    RefPtr<vfs::Vnode> root_held;  // the process's root, which chroot may replace meanwhile
    vfs::WalkContext context;
};
ErrorOr<StartDir> start_at(int dirfd, std::string_view path);

// The file behind `fd`; O_PATH descriptors only where `allow_path_only`.
ErrorOr<RefPtr<vfs::File>> file_for(int fd, bool allow_path_only = false);

// mmap(MAP_SHARED) of `file`: EPERM for a writable mapping of a write-sealed memfd, a
// read-only view of it for a read-only one; otherwise `file` itself (file_open.cpp).
ErrorOr<RefPtr<vfs::File>> file_for_shared_mapping(RefPtr<vfs::File> file, int prot);
// A memfd's file (its seals: F_ADD_SEALS looks for writable shared mappings under the big lock).
bool is_memfd(vfs::Vnode& vnode);

// Resolves `path` at `dirfd` with AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH semantics.
ErrorOr<RefPtr<vfs::Vnode>> resolve_at(int dirfd, UserPtr<const char> path, int at_flags);

// An iovec array copied in from the app: the entries are libos's copy (the app cannot change
// them under libos's feet), the buffers they name are still app memory.
class IovecArray {
public:
    IovecArray() = default;
    ~IovecArray();
    IovecArray(const IovecArray&) = delete;
    IovecArray& operator=(const IovecArray&) = delete;

    // Copies `count` entries: EINVAL past IOV_MAX or a total past SSIZE_MAX, EFAULT for a bad array.
    ErrorOr<void> copy_in(UserPtr<const iovec> iov, int count);
    const iovec* data() const { return m_entries; }
    size_t size() const { return m_count; }
    const iovec& operator[](size_t i) const { return m_entries[i]; }

private:
    static constexpr size_t INLINE_ENTRIES = 8;
    iovec m_inline[INLINE_ENTRIES];
    iovec* m_entries = m_inline;
    size_t m_count = 0;
};

}  // namespace xos::sys
