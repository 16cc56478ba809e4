// Process address spaces over mm::VirtualMemory (sched/process.h).
#include "mm/heap.h"
#include "mm/memory.h"
#include "sched/process.h"
#include "sched/process_stats.h"
#include "sched/thread.h"
#include "xos/platform.h"

namespace xos::sched {

namespace {
mm::VirtualMemory* g_boot;  // the boot program's, on the boot page tables: never destroyed
}

mm::VirtualMemory& boot_memory() {
    if (!g_boot) g_boot = &mm::app_memory();  // first called at boot, while it is the current one
    return *g_boot;
}

ErrorOr<mm::VirtualMemory*> create_memory() { return mm::VirtualMemory::create(); }

// On the kernel stack: fork_copy makes the caller's stack pages read-only as it goes, and a
// write to one of them before it is shared would make it writable again (and shared).
ErrorOr<mm::VirtualMemory*> fork_memory(mm::VirtualMemory& from) {
    struct Job {
        mm::VirtualMemory* from;
        ErrorOr<mm::VirtualMemory*> result;
    };
    static Job job{nullptr, nullptr};  // libos is not preempted, and fork_copy does not block
    job = {&from, nullptr};
    run_on_kernel_stack(
        [](void* raw) {
            auto& j = *static_cast<Job*>(raw);
            j.result = j.from->fork_copy();
        },
        &job);
    return job.result;
}

void activate_memory(mm::VirtualMemory* memory) { mm::set_current(memory); }

void destroy_memory(mm::VirtualMemory* memory) {
    // The boot space keeps what the boot program left (the image's loader: its stack) when PID 1
    // execs: its page tables are the kernel's own.
    if (memory && memory != g_boot) {
        uint64_t start = platform::monotonic_ns();
        mm::kdestroy(memory);
        ++g_process_stats.memory_destroyed;
        g_process_stats.memory_destroy_ns += platform::monotonic_ns() - start;
    }
}

}  // namespace xos::sched
