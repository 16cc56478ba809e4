// Character devices by number: a device node (any file system's) opens through the driver
// registered for its st_rdev; unknown numbers are ENXIO, as on Linux.
#pragma once

#include <sys/types.h>

#include "vfs/file.h"

namespace xos::vfs {

using DeviceOpen = ErrorOr<RefPtr<File>> (*)(RefPtr<Vnode> vnode, int flags);

// False when the registry is full.
bool register_device(dev_t device, DeviceOpen open);

}  // namespace xos::vfs
