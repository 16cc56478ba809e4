#include "sched/futex.h"

#include "base/spinlock.h"
#include "base/user_ptr.h"
#include "mm/memory.h"
#include "mm/vm.h"

namespace xos::sched {

namespace {

// Waiters hash by address into buckets, each with its own lock (docs/locking.md); a waiter's own
// key says which futex it waits on. A bucket's lock makes a wait's check of the word and its
// queueing one step against a wake that changed the word and then takes the lock; wake and
// requeue change the queue under it. (A waiter that a timeout or a signal wakes leaves the queue
// through the scheduler's wake(), which relies on the big lock for now.)
constexpr size_t BUCKETS = 64;
struct Bucket {
    SpinLock lock;
    WaitQueue queue;
};
Bucket g_buckets[BUCKETS];

Bucket& bucket_for(uintptr_t address) { return g_buckets[(address >> 2) % BUCKETS]; }

// Which address space a futex word at `address` belongs to: the caller's, unless the word is in
// shared memory (MAP_SHARED), where processes that inherited the mapping at the same address
// must meet (nullptr). Without this, a forked parent and child, whose private locks sit at the
// same addresses, would wake each other's waiters and lose wake-ups.
const void* space_for(uintptr_t address) {
    mm::VirtualMemory& memory = mm::app_memory();
    const mm::Vma* vma = memory.find(address);
    return vma && vma->shared ? nullptr : &memory;
}

// Wakes up to `count` waiters of (address, space) in `bucket`, whose lock the caller holds.
int wake_locked(Bucket& bucket, uintptr_t address, const void* space, int count, uint32_t bitset)
    REQUIRES(bucket.lock) {
    int woken = 0;
    bucket.queue.for_each_waiter([&](Thread& t) {
        if (woken >= count || t.futex_key != address || t.futex_space != space || !(t.futex_bitset & bitset)) return;
        t.futex_woken = true;
        wake(t, WakeReason::Woken);
        ++woken;
    });
    return woken;
}

}  // namespace

ErrorOr<void> futex_wait(uintptr_t address, uint32_t expected, uint32_t bitset, Deadline deadline) {
    if (address & 3) return error(EINVAL);
    if (bitset == 0) return error(EINVAL);
    ASSERT(!in_interrupt());
    Thread& self = current();
    Bucket& bucket = bucket_for(address);
    const void* space = space_for(address);
    platform::InterruptGuard guard;
    // The word is read once before the lock: that read may fault the page in, which may sleep
    // (a file's page), and nothing may sleep holding a spinlock. The read under the lock finds
    // the page present.
    TRY(read_user(UserPtr<const uint32_t>(address)));
    bucket.lock.lock();
    auto value = read_user(UserPtr<const uint32_t>(address));
    if (!value || *value != expected) {
        bucket.lock.unlock();
        if (!value) return std::unexpected(value.error());
        return error(EAGAIN);
    }
    self.futex_key = address;
    self.futex_space = space;
    self.futex_bitset = bitset;
    self.futex_woken = false;
    ErrorOr<void> result{};
    for (;;) {
        if (self.futex_woken) break;  // a wake wins over a signal or a timeout that came with it
        if (signal_interrupts_current()) {
            result = error(EINTR);
            break;
        }
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) {
            result = error(ETIMEDOUT);
            break;
        }
        auto blocked = block_current_unlocking(&bucket.queue, bucket.lock, deadline, Interruptible::Yes);
        bucket.lock.lock();
        if (!blocked && blocked.error().code == EINTR && !self.futex_woken) {
            result = blocked;
            break;
        }
    }
    self.futex_key = 0;
    bucket.lock.unlock();
    return result;
}

int futex_wake(uintptr_t address, int count, uint32_t bitset) {
    if (count <= 0) return 0;
    const void* space = space_for(address);
    Bucket& bucket = bucket_for(address);
    SpinLockGuard guard(bucket.lock);
    return wake_locked(bucket, address, space, count, bitset);
}

// Outside the thread-safety analysis: it takes one or two bucket locks depending on whether
// the buckets differ, which the analysis cannot follow.
int futex_requeue(uintptr_t from, uintptr_t to, int wake_count, int requeue_count,
                  bool count_requeued) NO_THREAD_SAFETY_ANALYSIS {
    const void* from_space = space_for(from);
    const void* to_space = space_for(to);
    Bucket& source = bucket_for(from);
    Bucket& target = bucket_for(to);
    // Two buckets: the lower one's lock first (the lock order of docs/locking.md).
    Bucket& first = &source < &target ? source : target;
    Bucket& second = &source < &target ? target : source;
    platform::InterruptGuard guard;
    first.lock.lock();
    if (&second != &first) second.lock.lock();
    int woken = wake_count > 0 ? wake_locked(source, from, from_space, wake_count, MATCH_ANY_BITSET) : 0;
    int moved = 0;
    source.queue.for_each_waiter([&](Thread& t) {
        if (moved >= requeue_count || t.futex_key != from || t.futex_space != from_space) return;
        t.futex_key = to;
        t.futex_space = to_space;
        // Moved between queues without running: it stays Blocked, now on the target's queue.
        if (&source != &target) requeue_waiter(t, target.queue);
        ++moved;
    });
    if (&second != &first) second.lock.unlock();
    first.lock.unlock();
    return woken + (count_requeued ? moved : 0);
}

}  // namespace xos::sched
