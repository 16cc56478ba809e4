// Robust futex lists and priority-inheritance futexes (futex_pi.cpp), beside the plain futexes
// of futex.h.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "sched/wait_queue.h"

namespace xos::sched {

struct Thread;

// FUTEX_LOCK_PI / LOCK_PI2 / TRYLOCK_PI on the word at `address`: takes it when its owner tid
// is 0 (keeping FUTEX_OWNER_DIED), else sets FUTEX_WAITERS and waits until an unlock hands it
// over (0), the deadline (ETIMEDOUT) or a signal (EINTR). EDEADLK if the caller owns it, ESRCH
// if the owner does not exist, EAGAIN for a trylock of a held word.
ErrorOr<void> futex_lock_pi(uintptr_t address, Deadline deadline, bool try_only);
// FUTEX_UNLOCK_PI: EPERM unless the caller owns the word; hands it to the first waiter (its
// tid, with FUTEX_WAITERS while others wait) or sets it to 0.
ErrorOr<void> futex_unlock_pi(uintptr_t address);

// A thread ends: walks its robust list (set_robust_list) as Linux's exit_robust_list does: each
// word it owns gets FUTEX_OWNER_DIED with the tid cleared (FUTEX_WAITERS kept) and one waiter
// woken (a PI waiter then takes it). Bounded, and a bad pointer ends the walk.
void exit_robust_list(Thread& thread);

}  // namespace xos::sched
