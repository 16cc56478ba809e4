// Resource limits enforced outside rlimit.cpp: the memory syscalls and fork ask here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"

namespace xos::sched {
struct Process;
}

namespace xos::sys {

// ENOMEM if a new mapping of `length` bytes would take the current process past RLIMIT_AS, or a
// private writable one past RLIMIT_DATA (`fixed`: it replaces what lies at `address`).
ErrorOr<void> check_map_limits(uintptr_t address, size_t length, int prot, bool shared, bool fixed);
// False if moving the program break from `current` to `requested` would pass RLIMIT_AS or RLIMIT_DATA.
bool break_allowed(uintptr_t current, uintptr_t requested);
// RLIMIT_NPROC for fork: the processes of the parent's real user, root exempt (as Linux).
bool may_create_process(const sched::Process& parent);

}  // namespace xos::sys
