// A test-only entry into fork's copy on write, for tests/image/aspace.c until processes exist
// (libos/sys's fork). Nothing in libos refers to it, so only an image whose program calls
// xos_test_fork_space links it in.
#include "base/error.h"
#include "mm/frames.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "mm/vm.h"
#include "sched/thread.h"

namespace xos::mm {

namespace {

// The switches happen on this stack, not on the app's: the app's stack is copied on write like
// any private memory, so a frame pushed in one space is not there in the other.
alignas(16) char g_stack[64 * 1024];

struct Run {
    long (*body)(int step, void* arg);
    void* arg;
    int steps;
    uintptr_t poke_address;  // written into the child before the steps (VirtualMemory::write)
    const void* poke_data;
    size_t poke_size;
    long result;
};

void run(void* opaque) {
    auto& run = *static_cast<Run*>(opaque);
    VirtualMemory& parent = app_memory();
    auto child = parent.fork_copy();
    if (!child) {
        run.result = -child.error().code;
        return;
    }
    if (run.poke_size) {
        if (auto written = (*child)->write(run.poke_address, run.poke_data, run.poke_size); !written) {
            kdestroy(*child);
            run.result = -written.error().code;
            return;
        }
    }
    long failures = 0;
    for (int step = 0; step < run.steps; ++step) {
        (step % 2 == 0 ? *child : &parent)->activate();
        failures += run.body(step, run.arg);
    }
    parent.activate();
    kdestroy(*child);
    run.result = failures;
}

[[gnu::noinline]] void run_on_stack(void* top, void (*fn)(void*), void* arg) {
    asm volatile("mov %%rsp, %%rbx\n\t"
                 "mov %0, %%rsp\n\t"
                 "mov %2, %%rdi\n\t"
                 "call *%1\n\t"
                 "mov %%rbx, %%rsp"
                 :
                 : "r"(top), "r"(fn), "r"(arg)
                 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0", "xmm1",
                   "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
                   "xmm14", "xmm15");
}

}  // namespace

}  // namespace xos::mm

// Forks the current memory copy on write, then calls body(step, arg) for step 0..steps-1, in the
// child's address space for even steps and in the parent's for odd ones, and destroys the child.
// Returns the sum of what body returned, or -errno if the copy failed.
// Before the first step, `size` bytes from `data` are written at `address` of the child while it
// is not current (as a loader fills a new image), if `size` is not 0.
extern "C" long xos_test_fork_space_write(long (*body)(int step, void* arg), void* arg, int steps, uintptr_t address,
                                          const void* data, size_t size) {
    xos::sched::BigLockScope lock;  // a function call from app code (docs/locking.md)
    xos::mm::Run run{body, arg, steps, address, data, size, 0};
    xos::mm::run_on_stack(xos::mm::g_stack + sizeof xos::mm::g_stack, xos::mm::run, &run);
    return run.result;
}

extern "C" long xos_test_fork_space(long (*body)(int step, void* arg), void* arg, int steps) {
    xos::sched::BigLockScope lock;
    xos::mm::Run run{body, arg, steps, 0, nullptr, 0, 0};
    xos::mm::run_on_stack(xos::mm::g_stack + sizeof xos::mm::g_stack, xos::mm::run, &run);
    return run.result;
}

// Frames that more than one address space maps now.
extern "C" long xos_test_shared_frames() {
    xos::sched::BigLockScope lock;
    return long(xos::mm::shared_frame_count());
}
