// lwIP's OS layer (NO_SYS=0) on libos primitives: threads are kernel threads
// (sched::create_kernel_thread on a kernel-heap stack), semaphores, mutexes and mailboxes wait
// on sched::WaitQueues, time is platform::monotonic_ns, and sys_arch_protect disables
// interrupts. Mutexes (the core lock, LOCK_TCPIP_CORE: net::CoreLock) are sched::Mutexes, with
// a lock of their own. Semaphores and mailboxes have a SpinLock each (docs/locking.md) guarding
// their count or slots and their wait queues' lists: a waiter checks and queues itself under it
// (block_current_unlocking), a poster changes the state and wakes under it, so no post on
// another CPU is slept through (the socket layer posts to the tcpip thread's mailbox without
// the big lock: loopback output's tcpip_try_callback).
#include <cstdarg>
#include <cstdio>

extern "C" {
#include "lwip/sys.h"
#include "lwip/tcpip.h"
}

#include "base/klog.h"
#include "base/verify.h"
#include "base/thread_safety.h"
#include "mm/heap.h"
#include "net/stack.h"
#include "sched/mutex.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "xos/platform.h"

struct xos_lwip_sem {
    xos::SpinLock lock;
    uint32_t count GUARDED_BY(lock) = 0;
    xos::sched::WaitQueue waiters;
};

struct xos_lwip_mutex {
    xos::sched::Mutex mutex;
};

struct xos_lwip_mbox {
    xos::SpinLock lock;
    void** slots = nullptr;  // set at creation; the slots' contents under `lock`
    uint32_t size = 0;  // set at creation
    uint32_t head GUARDED_BY(lock) = 0;  // next to fetch
    uint32_t count GUARDED_BY(lock) = 0;
    xos::sched::WaitQueue not_empty;
    xos::sched::WaitQueue not_full;
};

using namespace xos;

namespace {

// Deadline for an lwIP timeout in ms (0: forever).
sched::Deadline deadline_ms(u32_t timeout) {
    return timeout == 0 ? sched::Deadline::never() : sched::Deadline::after_ns(uint64_t(timeout) * 1'000'000);
}

// Blocks under `lock` (held, interrupts off) until ready() holds (true, lock held) or the
// deadline passes (false, lock held): the check and the queueing are one step under the lock.
template <typename Ready>
bool wait_locked(SpinLock& lock, sched::WaitQueue& queue, Ready&& ready, sched::Deadline deadline) REQUIRES(lock) {
    for (;;) {
        if (ready()) return true;
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return false;
        (void)sched::block_current_unlocking(&queue, lock, deadline, sched::Interruptible::No);
        lock.lock();
    }
}

u32_t elapsed_ms(uint64_t start_ns) {
    uint64_t ms = (platform::monotonic_ns() - start_ns) / 1'000'000;
    return ms >= SYS_ARCH_TIMEOUT ? SYS_ARCH_TIMEOUT - 1 : u32_t(ms);
}

struct ThreadStart {
    lwip_thread_fn function;
    void* argument;
};

constexpr size_t KERNEL_STACK_PAGES = DEFAULT_THREAD_STACKSIZE / 4096;

// lwIP's threads (the tcpip thread) run without the big lock (docs/locking.md, "Network RX and
// TX"): lwIP's state is the core lock's, its waits are on the mailboxes' and semaphores' own
// locks, and what its callbacks reach (sockets, the address configuration) has locks of its own.
[[noreturn]] void thread_entry(uintptr_t start_pointer, uintptr_t) {
    sched::big_lock_leave();  // thread_start took it for libos functions: these need none
    auto* start = reinterpret_cast<ThreadStart*>(start_pointer);
    ThreadStart copy = *start;
    mm::kdestroy(start);
    copy.function(copy.argument);
    sched::exit_current();  // lwIP's threads never return; the stack is not reclaimed
}

}  // namespace

extern "C" {

void sys_init(void) {}

u32_t sys_now(void) { return u32_t(platform::monotonic_ns() / 1'000'000); }

sys_prot_t sys_arch_protect(void) {
    sys_prot_t were_enabled = platform::interrupts_enabled();
    platform::interrupts_disable();
    return were_enabled;
}

void sys_arch_unprotect(sys_prot_t were_enabled) {
    if (were_enabled) platform::interrupts_enable();
}

sys_thread_t sys_thread_new(const char* name, lwip_thread_fn function, void* argument, int stack_size, int) {
    size_t pages = stack_size > 0 ? (size_t(stack_size) + 4095) / 4096 : KERNEL_STACK_PAGES;
    if (pages < KERNEL_STACK_PAGES) pages = KERNEL_STACK_PAGES;
    void* stack = mm::alloc_pages(pages);
    auto* start = mm::kcreate<ThreadStart>(ThreadStart{function, argument});
    if (!stack || !start) panic("lwip: no memory for thread %s", name);
    auto thread = sched::create_kernel_thread(thread_entry, reinterpret_cast<uintptr_t>(start), 0,
                                              reinterpret_cast<uintptr_t>(stack) + pages * 4096);
    if (!thread) panic("lwip: cannot create thread %s", name);
    return *thread;
}

// --- Semaphores ---------------------------------------------------------------------------

err_t sys_sem_new(sys_sem_t* sem, u8_t count) {
    auto* created = mm::kcreate<xos_lwip_sem>();
    if (!created) return ERR_MEM;
    SpinLockGuard guard(created->lock);
    created->count = count;
    *sem = created;
    return ERR_OK;
}

void sys_sem_free(sys_sem_t* sem) {
    mm::kdestroy(*sem);
    *sem = nullptr;
}

void sys_sem_signal(sys_sem_t* sem) {
    xos_lwip_sem& s = **sem;
    SpinLockGuard guard(s.lock);
    ++s.count;
    sched::wake_one(s.waiters);
}

u32_t sys_arch_sem_wait(sys_sem_t* sem, u32_t timeout) {
    xos_lwip_sem& s = **sem;
    uint64_t start = platform::monotonic_ns();
    SpinLockGuard guard(s.lock);
    if (!wait_locked(
            s.lock, s.waiters,
            [&]() NO_THREAD_SAFETY_ANALYSIS {  // under s.lock (wait_locked)
                return s.count > 0;
            },
            deadline_ms(timeout)))
        return SYS_ARCH_TIMEOUT;
    --s.count;
    return elapsed_ms(start);
}

// --- Mutexes (the core lock is one) ---------------------------------------------------------

err_t sys_mutex_new(sys_mutex_t* mutex) {
    *mutex = mm::kcreate<xos_lwip_mutex>();
    return *mutex ? ERR_OK : ERR_MEM;
}

void sys_mutex_free(sys_mutex_t* mutex) {
    mm::kdestroy(*mutex);
    *mutex = nullptr;
}

// lwIP's C interface takes and gives back the mutex in separate calls: outside the analysis.
void sys_mutex_lock(sys_mutex_t* mutex) NO_THREAD_SAFETY_ANALYSIS {
    xos_lwip_mutex& m = **mutex;
    if (m.mutex.is_held())
        panic("lwip: mutex %p locked twice by thread %d (the core lock is not recursive)", *mutex,
              sched::current().tid);
    m.mutex.lock();
}

void sys_mutex_unlock(sys_mutex_t* mutex) NO_THREAD_SAFETY_ANALYSIS {
    xos_lwip_mutex& m = **mutex;
    VERIFY(m.mutex.is_held());  // unlocked by the thread that holds it
    m.mutex.unlock();
}

// --- Mailboxes ------------------------------------------------------------------------------

err_t sys_mbox_new(sys_mbox_t* mbox, int size) {
    if (size <= 0) size = 64;
    auto* box = mm::kcreate<xos_lwip_mbox>();
    void** slots = static_cast<void**>(mm::kmalloc(sizeof(void*) * size_t(size)));
    if (!box || !slots) {
        mm::kfree(slots);
        mm::kdestroy(box);
        return ERR_MEM;
    }
    box->slots = slots;
    box->size = uint32_t(size);
    *mbox = box;
    return ERR_OK;
}

void sys_mbox_free(sys_mbox_t* mbox) {
    if (!*mbox) return;
    mm::kfree((*mbox)->slots);
    mm::kdestroy(*mbox);
    *mbox = nullptr;
}

err_t sys_mbox_trypost(sys_mbox_t* mbox, void* message) {
    xos_lwip_mbox& b = **mbox;
    SpinLockGuard guard(b.lock);
    if (b.count == b.size) return ERR_MEM;
    b.slots[(b.head + b.count) % b.size] = message;
    ++b.count;
    sched::wake_one(b.not_empty);
    return ERR_OK;
}

err_t sys_mbox_trypost_fromisr(sys_mbox_t* mbox, void* message) { return sys_mbox_trypost(mbox, message); }

void sys_mbox_post(sys_mbox_t* mbox, void* message) {
    xos_lwip_mbox& b = **mbox;
    SpinLockGuard guard(b.lock);
    (void)wait_locked(
        b.lock, b.not_full,
        [&]() NO_THREAD_SAFETY_ANALYSIS {  // under b.lock (wait_locked)
            return b.count < b.size;
        },
        sched::Deadline::never());
    b.slots[(b.head + b.count) % b.size] = message;
    ++b.count;
    sched::wake_one(b.not_empty);
}

namespace {
// Under the mailbox's lock: takes the oldest message (there is one).
void take_message(xos_lwip_mbox& b, void** message) REQUIRES(b.lock) {
    void* value = b.slots[b.head];
    b.head = (b.head + 1) % b.size;
    --b.count;
    if (message) *message = value;
    sched::wake_one(b.not_full);
}
}  // namespace

u32_t sys_arch_mbox_tryfetch(sys_mbox_t* mbox, void** message) {
    xos_lwip_mbox& b = **mbox;
    SpinLockGuard guard(b.lock);
    if (b.count == 0) return SYS_MBOX_EMPTY;
    take_message(b, message);
    return 0;
}

u32_t sys_arch_mbox_fetch(sys_mbox_t* mbox, void** message, u32_t timeout) {
    xos_lwip_mbox& b = **mbox;
    uint64_t start = platform::monotonic_ns();
    SpinLockGuard guard(b.lock);
    if (!wait_locked(
            b.lock, b.not_empty,
            [&]() NO_THREAD_SAFETY_ANALYSIS {  // under b.lock (wait_locked)
                return b.count > 0;
            },
            deadline_ms(timeout)))
        return SYS_ARCH_TIMEOUT;
    take_message(b, message);
    return elapsed_ms(start);
}

// --- Memory, randomness, diagnostics ----------------------------------------------------------

void* xos_lwip_malloc(size_t size) { return mm::kmalloc(size); }
void xos_lwip_free(void* pointer) { mm::kfree(pointer); }
void* xos_lwip_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return nullptr;
    return mm::kmalloc(count * size);  // kmalloc memory is zeroed
}

uint32_t xos_lwip_rand(void) {
    uint32_t value;
    platform::entropy(&value, sizeof value);
    return value;
}

void xos_lwip_diag(const char* format, ...) {
    char line[256];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    // lwIP's messages carry their own newlines; klog adds one.
    size_t n = 0;
    while (line[n]) ++n;
    while (n && line[n - 1] == '\n') line[--n] = '\0';
    klog("lwip: %s", line);
}

void xos_lwip_assert_failed(const char* message, const char* file, int line) {
    panic("lwip: assertion failed: %s (%s:%d)", message, file, line);
}

void xos_lwip_assert_core_locked(void) {
    if (!lock_tcpip_core) return;  // tcpip_init() itself, before the lock exists
    if (!lock_tcpip_core->mutex.is_held())
        panic("lwip: called without the core lock (take net::CoreLock; see libos/net/README.md)");
}

}  // extern "C"

namespace xos::net {

sched::Mutex& core_mutex() { return lock_tcpip_core->mutex; }

}  // namespace xos::net
