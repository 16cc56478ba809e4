// Process address spaces over mm::VirtualMemory (sched/process.h).
#include "base/klog.h"
#include "mm/memory.h"
#include "sched/process.h"

namespace xos::sched {

mm::VirtualMemory& boot_memory() { return mm::app_memory(); }

ErrorOr<mm::VirtualMemory*> create_memory() { return error(ENOSYS); }

ErrorOr<mm::VirtualMemory*> fork_memory(mm::VirtualMemory&) {
    klog("xos: fork: this build has one address space (no copy-on-write yet)");
    return error(ENOSYS);
}

void activate_memory(mm::VirtualMemory*) {}

void destroy_memory(mm::VirtualMemory*) {}

}  // namespace xos::sched
