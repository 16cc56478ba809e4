// Resource limits enforced outside rlimit.cpp: the memory syscalls and fork ask here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"

namespace xos::sched {
struct Process;
}
namespace xos::mm {
struct MapLimits;  // mm/vm.h
}

namespace xos::sys {

// RLIMIT_AS and RLIMIT_DATA of the current process, for mmap and brk: the address space checks
// them in the same step as the mapping (mm::VirtualMemory::map, set_break).
mm::MapLimits map_limits();
// RLIMIT_NPROC for fork: the processes of the parent's real user, root exempt (as Linux).
bool may_create_process(const sched::Process& parent);

}  // namespace xos::sys
