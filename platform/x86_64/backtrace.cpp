// Frame-pointer backtraces (the image is built with -fno-omit-frame-pointer). Addresses can be
// turned into file:line on the host with `llvm-symbolizer -e app.xos`.
#include "base/klog.h"
#include "xos/platform.h"

namespace xos::platform {

void print_backtrace(uintptr_t frame, int max_frames) {
    if (!frame) frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    MemoryRange valid = addressable_memory();
    for (int depth = 1; depth <= max_frames && frame; ++depth) {
        if ((frame & 7) || frame < valid.base || frame + 16 > valid.end()) {
            klog("  (frame pointer 0x%lx is not valid; stopping)", frame);
            return;
        }
        auto* words = reinterpret_cast<const uintptr_t*>(frame);
        uintptr_t return_address = words[1];
        if (!return_address) return;
        klog("  #%d 0x%lx", depth, return_address);
        if (words[0] <= frame) return;  // the chain must go up the stack
        frame = words[0];
    }
}

}  // namespace xos::platform
