#include "sched/futex.h"

#include "base/spinlock.h"
#include "base/user_ptr.h"
#include "mm/memory.h"
#include "mm/vm.h"

namespace xos::sched {

namespace {

// Waiters hash by address into buckets, each with its own lock (docs/locking.md); a waiter's own
// key says which futex it waits on. A bucket's lock makes a wait's check of the word and its
// queueing one step against a wake that changed the word and then takes the lock. The queue's
// list itself is the scheduler's (its lock is taken inside the bucket's): a waiter that a
// timeout or a signal wakes leaves it under that lock, so a wake or requeue that walks it
// (wake_where, requeue_where) never meets a half-removed waiter, and never wakes one that left.
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
// same addresses, would wake each other's waiters and lose wake-ups. A private futex needs no
// lookup (Linux keys it by the address space too); the lookup reads the VMA tree under the
// address space's lock (mm/vm.h).
const void* space_for(uintptr_t address, bool is_private) {
    mm::VirtualMemory& memory = mm::app_memory();  // this thread's: stays while it runs
    if (is_private) return &memory;
    std::optional<mm::Vma> vma = memory.vma_at(address);
    return vma && vma->shared ? nullptr : &memory;
}

struct Match {
    uintptr_t address;
    const void* space;
    uint32_t bitset;
};

bool wake_match(Thread& t, void* context) {
    auto& m = *static_cast<Match*>(context);
    if (t.futex_key != m.address || t.futex_space != m.space || !(t.futex_bitset & m.bitset)) return false;
    t.futex_woken = true;  // read by the waiter once it runs again (after the scheduler's lock)
    return true;
}

// Wakes up to `count` waiters of (address, space) in `bucket`, whose lock the caller holds.
int wake_locked(Bucket& bucket, uintptr_t address, const void* space, int count, uint32_t bitset)
    REQUIRES(bucket.lock) {
    Match match{address, space, bitset};
    return wake_where(bucket.queue, count, wake_match, &match);
}

struct Requeue {
    uintptr_t from, to;
    const void* from_space;
    const void* to_space;
};

bool requeue_match(Thread& t, void* context) {
    auto& r = *static_cast<Requeue*>(context);
    if (t.futex_key != r.from || t.futex_space != r.from_space) return false;
    t.futex_key = r.to;
    t.futex_space = r.to_space;
    return true;
}

}  // namespace

ErrorOr<void> futex_wait(uintptr_t address, uint32_t expected, uint32_t bitset, Deadline deadline, bool is_private) {
    if (address & 3) return error(EINVAL);
    if (bitset == 0) return error(EINVAL);
    ASSERT(!in_interrupt());
    Thread& self = current();
    Bucket& bucket = bucket_for(address);
    const void* space = space_for(address, is_private);
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

int futex_wake(uintptr_t address, int count, uint32_t bitset, bool is_private) {
    if (count <= 0) return 0;
    const void* space = space_for(address, is_private);
    Bucket& bucket = bucket_for(address);
    // The wake under the bucket's lock (its waiters' keys are), the IPIs after it is let go.
    DeferredWakeIpis ipis;
    SpinLockGuard guard(bucket.lock);
    return wake_locked(bucket, address, space, count, bitset);
}

// Outside the thread-safety analysis: it takes one or two bucket locks depending on whether
// the buckets differ, which the analysis cannot follow.
int futex_requeue(uintptr_t from, uintptr_t to, int wake_count, int requeue_count, bool count_requeued,
                  bool is_private) NO_THREAD_SAFETY_ANALYSIS {
    const void* from_space = space_for(from, is_private);
    const void* to_space = space_for(to, is_private);
    Bucket& source = bucket_for(from);
    Bucket& target = bucket_for(to);
    // Two buckets: the lower one's lock first (the lock order of docs/locking.md).
    Bucket& first = &source < &target ? source : target;
    Bucket& second = &source < &target ? target : source;
    DeferredWakeIpis ipis;  // sent once both bucket locks are given back (interrupts off)
    first.lock.lock();
    if (&second != &first) second.lock.lock();
    int woken = wake_count > 0 ? wake_locked(source, from, from_space, wake_count, MATCH_ANY_BITSET) : 0;
    // Moved between queues without running: they stay Blocked, now on the target's queue.
    Requeue requeue{from, to, from_space, to_space};
    int moved =
        requeue_count > 0 ? requeue_where(source.queue, target.queue, requeue_count, requeue_match, &requeue) : 0;
    if (&second != &first) second.lock.unlock();
    first.lock.unlock();
    return woken + (count_requeued ? moved : 0);
}

}  // namespace xos::sched
