// Frame-pointer backtraces (the image is built with -fno-omit-frame-pointer). Addresses can be
// turned into file:line on the host with `llvm-symbolizer -e app.xos` (they are return
// addresses: ask for address - 1 to get the line of the call).
#include "xos/log.h"
#include "xos/platform.h"

namespace xos::platform {

namespace {

// A frame record (saved frame pointer, return address) that can be read without faulting: in
// libos's memory (the direct map), or on a mapped page of the app region (app threads' stacks,
// where libos code also runs: a panic in a syscall walks the app thread's stack).
bool readable_frame(uintptr_t frame) {
    if (frame & 7) return false;
    MemoryRange kernel = addressable_memory();
    if (frame >= kernel.base && frame + 16 <= kernel.end()) return true;
    MemoryRange app = app_region();
    if (frame < app.base || frame + 16 > app.end()) return false;
    return mapped_page(frame & ~uintptr_t(4095)) != 0 && mapped_page((frame + 15) & ~uintptr_t(4095)) != 0;
}

}  // namespace

void print_backtrace(uintptr_t frame, int max_frames) {
    if (!frame) frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    for (int depth = 1; depth <= max_frames && frame; ++depth) {
        if (!readable_frame(frame)) {
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
