// The file operations behind the path-based syscalls, on libos strings (the syscall layer has
// already copied the path in and picked the starting directory). Portable: the unit tests drive
// them over ramfs. Errors follow Linux's choice and order of errno values.
#pragma once

#include <sys/types.h>

#include <string_view>

#include "base/error.h"
#include "base/kstring.h"
#include "base/ref_ptr.h"
#include "vfs/file.h"
#include "vfs/path_walk.h"
#include "vfs/vnode.h"

namespace xos::vfs {

// Where a path starts: a directory vnode (cwd or a dirfd's) plus the root.
using Start = WalkContext;

ErrorOr<RefPtr<File>> open(const Start& start, std::string_view path, int flags, mode_t mode);
// An open file description for a vnode already found (O_PATH, devices, FIFOs, plain files).
ErrorOr<RefPtr<File>> open_vnode(RefPtr<Vnode> vnode, int flags);

ErrorOr<void> make_node(const Start& start, std::string_view path, mode_t mode, dev_t device);
ErrorOr<void> make_directory(const Start& start, std::string_view path, mode_t mode);
// mkdir -p: every missing directory along `path` (mode 0755), e.g. a mount point.
ErrorOr<void> make_directories(const Start& start, std::string_view path);
ErrorOr<void> make_symlink(std::string_view target, const Start& start, std::string_view path);
ErrorOr<void> remove(const Start& start, std::string_view path, RemoveKind kind);
ErrorOr<void> rename(const Start& old_start, std::string_view old_path, const Start& new_start,
                     std::string_view new_path, unsigned flags);
ErrorOr<void> make_link(const Start& old_start, std::string_view old_path, const Start& new_start,
                        std::string_view new_path, Follow follow);
ErrorOr<KString> read_link(const Start& start, std::string_view path);

// Hooks implemented by the kernel build (vfs/fifo.cpp, vfs/devices.cpp); the unit tests stub them.
ErrorOr<RefPtr<File>> open_fifo(RefPtr<Vnode> vnode, int flags);
ErrorOr<RefPtr<File>> open_device(RefPtr<Vnode> vnode, int flags);

}  // namespace xos::vfs
