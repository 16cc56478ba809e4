// Futexes: threads wait on a 32-bit word in app memory and are woken by address. A private
// futex (FUTEX_PRIVATE_FLAG) meets within the caller's address space; a shared one looks the word
// up: in a MAP_SHARED mapping it meets across address spaces, else within the caller's. Run
// without the big lock (docs/locking.md) but for the shared lookup.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "sched/wait_queue.h"

namespace xos::sched {

constexpr uint32_t MATCH_ANY_BITSET = 0xffffffff;

// Blocks if *address == expected (EAGAIN otherwise) until woken (0), the deadline (ETIMEDOUT)
// or a signal (EINTR).
ErrorOr<void> futex_wait(uintptr_t address, uint32_t expected, uint32_t bitset, Deadline deadline,
                         bool is_private = false);
// Wakes up to `count` waiters on `address` whose bitset intersects `bitset`. Returns how many.
int futex_wake(uintptr_t address, int count, uint32_t bitset = MATCH_ANY_BITSET, bool is_private = false);
// Wakes up to `wake_count` waiters on `from` and moves up to `requeue_count` others to `to`.
// Returns the number woken plus (if `count_requeued`) the number moved.
int futex_requeue(uintptr_t from, uintptr_t to, int wake_count, int requeue_count, bool count_requeued,
                  bool is_private = false);

}  // namespace xos::sched
