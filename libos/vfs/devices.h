// Character and block devices by number: a device node (any file system's) opens through the
// driver registered for its st_rdev; unknown numbers are ENXIO, as on Linux. (One number space:
// the block majors in use, 254 for /dev/vdX, are not character majors here.)
#pragma once

#include <sys/types.h>

#include "vfs/file.h"

namespace xos::vfs {

using DeviceOpen = ErrorOr<RefPtr<File>> (*)(RefPtr<Vnode> vnode, int flags);

// False when the registry is full.
bool register_device(dev_t device, DeviceOpen open);

}  // namespace xos::vfs
