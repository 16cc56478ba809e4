// What the portable VFS code needs from the kernel build, provided on the host for the unit
// tests: the kernel heap (over calloc/aligned_alloc), the user copy (memcpy), the clock, the
// FIFO and device open hooks (not exercised by the host tests), and the sleeping mutex
// (sched/mutex.h) the I/O objects use: one thread, so it is never found taken and nothing waits.
#include <cstdlib>
#include <cstring>

#include "base/user_ptr.h"
#include "mm/heap.h"
#include "sched/mutex.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "vfs/operations.h"
#include "vfs/vnode.h"

namespace xos::mm {

void* kmalloc(size_t size) { return calloc(1, size ? size : 1); }
void kfree(void* pointer) { free(pointer); }

void* alloc_pages(size_t count) {
    void* pages = aligned_alloc(4096, count * 4096);
    if (pages) memset(pages, 0, count * 4096);
    return pages;
}
void free_pages(void* pages, size_t) { free(pages); }

}  // namespace xos::mm

namespace xos::platform {

size_t copy_user(void* to, const void* from, size_t size) {  // no faults to recover from here
    memcpy(to, from, size);
    return 0;
}

// The host has no direct map: physical = virtual, as on the hosted platform.
void* phys_to_virt(uintptr_t phys) { return reinterpret_cast<void*>(phys); }
uintptr_t virt_to_phys(const void* virt) { return reinterpret_cast<uintptr_t>(virt); }

// interrupts_enabled/disable/enable, cpu_relax, spin_wait, spin_wake and cpu_index_unlocked:
// spinlock_test.cpp's.
uint64_t monotonic_ns() { return 0; }

}  // namespace xos::platform

namespace xos::sched {

// One thread and no scheduler: a lock is never found taken, so nothing blocks or is woken.
Thread* current_or_null() { return nullptr; }
bool in_interrupt() { return false; }
bool signal_interrupts_current() { return false; }
ErrorOr<void> block_current(WaitQueue*, Deadline, Interruptible) { abort(); }
ErrorOr<void> block_current_unlocking(WaitQueue*, SpinLock&, Deadline, Interruptible) { abort(); }

// One thread: the mutex records that it is held (its checks still catch taking it twice or
// giving back one not held) and never waits.
namespace {
Thread* const HOST_THREAD = reinterpret_cast<Thread*>(uintptr_t(1));
}
void Mutex::lock() {
    SpinLockGuard guard(m_lock);
    VERIFY(!m_owner);
    m_owner = HOST_THREAD;
}
bool Mutex::try_lock() {
    SpinLockGuard guard(m_lock);
    if (m_owner) return false;
    m_owner = HOST_THREAD;
    return true;
}
void Mutex::unlock() {
    SpinLockGuard guard(m_lock);
    VERIFY(m_owner == HOST_THREAD);
    m_owner = nullptr;
}
bool Mutex::is_held() const NO_THREAD_SAFETY_ANALYSIS { return m_owner == HOST_THREAD; }
ErrorOr<void> Mutex::unlock_and_block(WaitQueue&, Deadline, Interruptible) { abort(); }
DeferredWakeIpis::DeferredWakeIpis() : m_were_enabled(false) {}
DeferredWakeIpis::~DeferredWakeIpis() {}
int wake_all(WaitQueue&) { return 0; }
int wake_one(WaitQueue&) { return 0; }
BigLockScope::BigLockScope() {}
BigLockScope::~BigLockScope() {}

}  // namespace xos::sched

namespace xos::vfs {

Timestamp now() { return {1700000000, 0}; }
ErrorOr<RefPtr<File>> open_fifo(RefPtr<Vnode>, int) { return error(ENXIO); }
ErrorOr<RefPtr<File>> open_device(RefPtr<Vnode>, int) { return error(ENXIO); }

}  // namespace xos::vfs
