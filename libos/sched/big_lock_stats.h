// How often each way into libos took the big lock (docs/locking.md), with several CPUs: counted
// when it is taken afresh (this CPU did not hold it), not when libos, already holding it, takes
// it again. Read in /proc/xos/big_lock. Written under the big lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sys/syscall_table.h"

namespace xos::sched {

struct BigLockStats {
    uint64_t syscalls[sys::SYSCALL_COUNT];  // by syscall number (the syscall entry, the rewriter's trap)
    uint64_t page_faults;  // a page fault in app code
    uint64_t interrupts;  // device interrupts (the timer, IPIs and yields take nothing)
    uint64_t function_entries;  // BigLockScope: musl's __clone calling xos_clone, test hooks
};
extern BigLockStats g_big_lock_stats;

// True if this CPU's big-lock depth says the current entry has just taken it.
bool big_lock_fresh();

}  // namespace xos::sched
