// Timestamps for the VFS from the platform's coarse wall clock (like Linux's current_time()).
#include "vfs/vnode.h"
#include "xos/platform.h"

namespace xos::vfs {

Timestamp now() {
    int64_t ns = platform::realtime_coarse_ns();
    return {ns / 1000000000, ns % 1000000000};
}

}  // namespace xos::vfs
