// The mount table: a file system mounted on a directory hides it; path walks cross into the
// mounted root (and back out on ".."). The list is kept for /proc/mounts.
#pragma once

#include "vfs/vnode.h"

namespace xos::vfs {

struct Mount {
    Filesystem* fs;
    const char* path;  // static text, for /proc/mounts
};

// Mounts `fs` on the directory `on` (EBUSY if something is mounted there already).
ErrorOr<void> mount(Filesystem& fs, RefPtr<Vnode> on, const char* path);
// Makes `fs` the root file system (its root becomes the root and the working directory).
void mount_root(Filesystem& fs);
// Takes `fs` (not the root) off its mount point and out of the table, so that it can be mounted
// elsewhere (fs/boot.cpp moves devfs and procfs into the program's root this way).
ErrorOr<void> unmount(Filesystem& fs);
// The file system mounted at `path` (as the table names it), or null.
Filesystem* mounted_at(const char* path);

std::span<const Mount> mounts();

// True if every mounted file system says walks_without_big_lock(): the path syscalls
// (open/openat of an existing file, stat, lstat, newfstatat, statx) then walk without the big
// lock; otherwise they hold it for their whole length, so that a vnode of a file system with a
// vnode cache (9p, hostfs, EROFS, the overlay) is never dropped without it (docs/locking.md).
bool path_walks_without_big_lock();

}  // namespace xos::vfs
