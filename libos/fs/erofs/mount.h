// Mounting an EROFS image from a block device file in the kernel (fs/boot.cpp's
// xos.root=erofs:DEVICE). Not portable: it reads through devfs.
#pragma once

#include <string_view>

#include "base/error.h"
#include "vfs/vnode.h"

namespace xos::erofs {

// Opens `device_path` (a block device file such as /dev/vda) read-only and mounts the EROFS
// image on it. The file system lives for the rest of the run. EINVAL/EIO as
// ErofsFs::initialize (logged), ENOTBLK if the path is not a block device.
ErrorOr<vfs::Filesystem*> mount_device(std::string_view device_path);

}  // namespace xos::erofs
