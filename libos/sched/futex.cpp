#include "sched/futex.h"

#include "base/user_ptr.h"
#include "mm/memory.h"
#include "mm/vm.h"

namespace xos::sched {

namespace {

// Waiters hash by address into a few queues; a waiter's own key says which futex it waits on.
constexpr size_t BUCKETS = 64;
WaitQueue g_buckets[BUCKETS];

WaitQueue& bucket_for(uintptr_t address) { return g_buckets[(address >> 2) % BUCKETS]; }

// Which address space a futex word at `address` belongs to: the caller's, unless the word is in
// shared memory (MAP_SHARED), where processes that inherited the mapping at the same address
// must meet (nullptr). Without this, a forked parent and child, whose private locks sit at the
// same addresses, would wake each other's waiters and lose wake-ups.
const void* space_for(uintptr_t address) {
    mm::VirtualMemory& memory = mm::app_memory();
    const mm::Vma* vma = memory.find(address);
    return vma && vma->shared ? nullptr : &memory;
}

}  // namespace

ErrorOr<void> futex_wait(uintptr_t address, uint32_t expected, uint32_t bitset, Deadline deadline) {
    if (address & 3) return error(EINVAL);
    if (bitset == 0) return error(EINVAL);
    Thread& self = current();
    WaitQueue& queue = bucket_for(address);
    platform::InterruptGuard guard;
    // Check-and-block is atomic: libos is not preempted and the guard keeps the timer out. The
    // word is read with the fault-safe copy (one CPU: a plain load is as atomic as it gets).
    uint32_t value = TRY(read_user(UserPtr<const uint32_t>(address)));
    if (value != expected) return error(EAGAIN);
    self.futex_key = address;
    self.futex_space = space_for(address);
    self.futex_bitset = bitset;
    self.futex_woken = false;
    auto result = wait_event(queue, [&] { return self.futex_woken; }, deadline);
    self.futex_key = 0;
    return result;
}

int futex_wake(uintptr_t address, int count, uint32_t bitset) {
    if (count <= 0) return 0;
    platform::InterruptGuard guard;
    int woken = 0;
    const void* space = space_for(address);
    bucket_for(address).for_each_waiter([&](Thread& t) {
        if (woken >= count || t.futex_key != address || t.futex_space != space || !(t.futex_bitset & bitset)) return;
        t.futex_woken = true;
        wake(t, WakeReason::Woken);
        ++woken;
    });
    return woken;
}

int futex_requeue(uintptr_t from, uintptr_t to, int wake_count, int requeue_count, bool count_requeued) {
    platform::InterruptGuard guard;
    int woken = futex_wake(from, wake_count);
    int moved = 0;
    const void* from_space = space_for(from);
    const void* to_space = space_for(to);
    WaitQueue& source = bucket_for(from);
    WaitQueue& target = bucket_for(to);
    source.for_each_waiter([&](Thread& t) {
        if (moved >= requeue_count || t.futex_key != from || t.futex_space != from_space) return;
        t.futex_key = to;
        t.futex_space = to_space;
        if (&source != &target) {
            // Move the waiter between queues: wake it from the old one and park it on the new
            // one without letting it run (it stays Blocked).
            requeue_waiter(t, target);
        }
        ++moved;
    });
    return woken + (count_requeued ? moved : 0);
}

}  // namespace xos::sched
