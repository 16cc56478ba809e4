// Robust futex lists and priority-inheritance futexes (futex_pi.h). With one CPU and one
// priority for every thread, "priority inheritance" has nothing to boost: a PI futex is a lock
// whose word says its owner (tid) and whether others wait (FUTEX_WAITERS), handed over in FIFO
// order by FUTEX_UNLOCK_PI. PI waiters wait here, apart from futex.cpp's plain waiters (Linux
// also keeps them apart: a FUTEX_WAKE does not wake a LOCK_PI waiter).
#include "sched/futex_pi.h"

#include "base/user_ptr.h"
#include "mm/memory.h"
#include "mm/vm.h"
#include "sched/futex.h"
#include "sched/thread.h"

namespace xos::sched {

namespace {

constexpr uint32_t WAITERS = 0x80000000u;  // FUTEX_WAITERS
constexpr uint32_t OWNER_DIED = 0x40000000u;  // FUTEX_OWNER_DIED
constexpr uint32_t TID_MASK = 0x3fffffffu;  // FUTEX_TID_MASK
constexpr int ROBUST_LIST_LIMIT = 2048;  // Linux's ROBUST_LIST_LIMIT

constexpr size_t BUCKETS = 16;
WaitQueue g_pi_buckets[BUCKETS];
WaitQueue& bucket_for(uintptr_t address) { return g_pi_buckets[(address >> 2) % BUCKETS]; }

// As futex.cpp: private words meet within one address space, shared ones across them.
const void* space_for(uintptr_t address) {
    mm::VirtualMemory& memory = mm::app_memory();
    std::optional<mm::Vma> vma = memory.vma_at(address);
    return vma && vma->shared ? nullptr : &memory;
}

// The PI waiters of (address, space), in arrival order; calls fn(Thread&) until it returns true.
template <typename Fn>
Thread* first_waiter(uintptr_t address, const void* space, Fn&& skip) {
    Thread* found = nullptr;
    bucket_for(address).for_each_waiter([&](Thread& t) {
        if (!found && t.futex_key == address && t.futex_space == space && !skip(t)) found = &t;
    });
    return found;
}

ErrorOr<uint32_t> read_word(uintptr_t address) { return read_user(UserPtr<const uint32_t>(address)); }
// Replaces the word with `desired` if it still holds `seen`: app code on other CPUs changes it
// without libos (a free lock taken, an unlock with no waiters), so every change is one atomic
// step against the value it was decided on (Linux's futex_cmpxchg_value_locked). False: it
// changed meanwhile, decide again.
ErrorOr<bool> exchange_word(uintptr_t address, uint32_t seen, uint32_t desired) {
    return cmpxchg_user(UserPtr<uint32_t>(address), seen, desired);
}

}  // namespace

ErrorOr<void> futex_lock_pi(uintptr_t address, Deadline deadline, bool try_only) {
    if (address & 3) return error(EINVAL);
    Thread& self = current();
    platform::InterruptGuard guard;
    const void* space = space_for(address);
    for (;;) {
        uint32_t word = TRY(read_word(address));
        uint32_t owner = word & TID_MASK;
        if (owner == 0) {
            // Free, or its owner died (robust walk): taken, the waiters bit kept for those still queued.
            bool others = first_waiter(address, space, [&](Thread& t) { return &t == &self; }) != nullptr;
            if (!TRY(exchange_word(address, word, uint32_t(self.tid) | (word & OWNER_DIED) | (others ? WAITERS : 0))))
                continue;  // app code on another CPU took or changed it: look again
            return {};
        }
        if (owner == uint32_t(self.tid)) return error(EDEADLK);
        if (!find_thread(int(owner))) return error(ESRCH);
        if (try_only) return error(EAGAIN);
        // Atomically: the owner may be unlocking in app code on another CPU right now, and
        // would not come to FUTEX_UNLOCK_PI if the bit were set after its unlock.
        if (!(word & WAITERS) && !TRY(exchange_word(address, word, word | WAITERS))) continue;
        self.futex_key = address;
        self.futex_space = space;
        self.futex_woken = false;
        auto result = wait_event(bucket_for(address), [&] { return self.futex_woken; }, deadline);
        self.futex_key = 0;
        if (self.futex_woken) {
            // Handed over by futex_unlock_pi (the word names this thread), or woken by the
            // robust walk to take a dead owner's word: look again.
            uint32_t now = TRY(read_word(address));
            if ((now & TID_MASK) == uint32_t(self.tid)) return {};
            continue;
        }
        TRY(result);
    }
}

ErrorOr<void> futex_unlock_pi(uintptr_t address) {
    if (address & 3) return error(EINVAL);
    Thread& self = current();
    platform::InterruptGuard guard;
    const void* space = space_for(address);
    for (;;) {
        uint32_t word = TRY(read_word(address));
        if ((word & TID_MASK) != uint32_t(self.tid)) return error(EPERM);
        Thread* next = first_waiter(address, space, [](Thread& t) { return t.futex_woken; });
        if (!next) {
            if (!TRY(exchange_word(address, word, 0))) continue;
            return {};
        }
        bool others = first_waiter(address, space, [&](Thread& t) { return &t == next || t.futex_woken; }) != nullptr;
        if (!TRY(exchange_word(address, word, uint32_t(next->tid) | (others ? WAITERS : 0)))) continue;
        next->futex_woken = true;
        wake(*next, WakeReason::Woken);
        return {};
    }
}

namespace {

// Linux's handle_futex_death for one word.
void futex_died(uintptr_t address, Thread& thread, bool pi, bool pending) {
    if (address & 3) return;
    auto word = read_word(address);
    if (!word) return;
    if (pending && !pi && *word == 0) {
        futex_wake(address, 1);  // it was being taken: let a waiter retry
        return;
    }
    uint32_t seen = *word;
    for (;;) {  // atomically: app code on another CPU may set or clear bits meanwhile
        if ((seen & TID_MASK) != uint32_t(thread.tid)) return;
        auto exchanged = cmpxchg_user(UserPtr<uint32_t>(address), seen, (seen & WAITERS) | OWNER_DIED);
        if (!exchanged) return;
        if (*exchanged) break;  // else `seen` holds the changed word: decide again
    }
    if (!(seen & WAITERS)) return;
    if (!pi) {
        futex_wake(address, 1);
        return;
    }
    const void* space = space_for(address);
    if (Thread* waiter = first_waiter(address, space, [](Thread& t) { return t.futex_woken; })) {
        waiter->futex_woken = true;
        wake(*waiter, WakeReason::Woken);
    }
}

}  // namespace

void exit_robust_list(Thread& thread) {
    uintptr_t head = thread.robust_list;
    if (!head) return;
    thread.robust_list = 0;
    struct Head {
        uintptr_t next;
        long futex_offset;
        uintptr_t pending;
    };
    auto read_head = read_user(UserPtr<const Head>(head));
    if (!read_head) return;
    long offset = read_head->futex_offset;
    // The low bit of each pointer marks a PI futex.
    uintptr_t entry = read_head->next, pending = read_head->pending;
    platform::InterruptGuard guard;
    for (int i = 0; entry != head && i < ROBUST_LIST_LIMIT; ++i) {
        auto next = read_user(UserPtr<const uintptr_t>(entry & ~uintptr_t(1)));
        if (!next) return;
        if ((entry & ~uintptr_t(1)) != (pending & ~uintptr_t(1)))
            futex_died((entry & ~uintptr_t(1)) + uintptr_t(offset), thread, entry & 1, false);
        entry = *next;
    }
    if (pending) futex_died((pending & ~uintptr_t(1)) + uintptr_t(offset), thread, pending & 1, true);
}

}  // namespace xos::sched
