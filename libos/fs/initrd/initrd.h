// Unpacks a cpio archive into the VFS (directories, files, symlinks, FIFOs and device nodes
// with their modes, owners and mtimes), and the default /etc an image gets when its rootfs
// does not bring one.
#pragma once

#include <cstddef>
#include <span>

#include "base/error.h"
#include "vfs/path_walk.h"

namespace xos::fs {

ErrorOr<void> unpack_cpio(const vfs::WalkContext& at, std::span<const std::byte> archive);
// Writes /etc/{hostname,hosts,resolv.conf,passwd,group} where they do not exist yet.
ErrorOr<void> create_default_etc(const vfs::WalkContext& at);

}  // namespace xos::fs
