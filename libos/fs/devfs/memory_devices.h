// Drivers of the memory character devices (major 1).
#pragma once

#include "vfs/devices.h"

namespace xos::fs {

enum class MemoryDevice { Null, Zero, Full, Random };
vfs::DeviceOpen memory_device_open(MemoryDevice device);

}  // namespace xos::fs
