// devfs: a ramfs mounted on /dev holding the device nodes and the stdin/stdout/stderr and fd
// links, with the drivers registered by device number.
#pragma once

#include "base/error.h"

namespace xos::fs {

ErrorOr<void> mount_devfs();

}  // namespace xos::fs
