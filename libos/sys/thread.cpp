// Thread syscalls: clone (through musl's __clone), exit, futex, scheduling, thread identity.
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>

#include <atomic>

#include "net/stack.h"
#include "sched/futex.h"
#include "sched/thread.h"
#include "sys/handlers.h"
#include "sys/signal.h"
#include "xos/libos.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

// What musl's pthread_create passes, and what we refuse: no new processes (fork-like clones),
// no namespaces.
constexpr unsigned long THREAD_FLAGS_REQUIRED = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
constexpr unsigned long THREAD_FLAGS_ALLOWED = THREAD_FLAGS_REQUIRED | CLONE_SYSVSEM | CLONE_SETTLS |
    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED;

struct CloneStart {
    int (*function)(void*);
    void* argument;
};

// A new thread begins here: run the function musl gave __clone, then exit with its result.
void thread_entry(uintptr_t function, uintptr_t argument) {
    int status = reinterpret_cast<int (*)(void*)>(function)(reinterpret_cast<void*>(argument));
    xos_syscall(SYS_exit, status, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

// A new thread made by a `syscall`-instruction clone (glibc's) begins here, below the copy
// of its parent's registers (xos_syscall_clone), and leaves for the parent's code.
void raw_clone_entry(uintptr_t frame, uintptr_t stack_pointer) {
    platform::resume_cloned_thread(reinterpret_cast<const uint64_t*>(frame), stack_pointer);
}

// The thread for clone(flags, ...): entry(arg0, arg1) on `entry_stack`.
ErrorOr<long> create_clone(unsigned long flags, void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1,
                           uintptr_t entry_stack, UserPtr<int> parent_tid, uintptr_t tls, UserPtr<int> child_tid) {
    if ((flags & THREAD_FLAGS_REQUIRED) != THREAD_FLAGS_REQUIRED) return error(EINVAL);
    if (flags & ~THREAD_FLAGS_ALLOWED & ~0xffUL) return error(EINVAL);
    if (flags & 0xff) return error(EINVAL);  // an exit signal only makes sense for processes
    // Validate the tid pointers before creating anything, without writing to them: musl's
    // child_tid is its thread-list lock, held by the caller during clone (writing 0 there
    // released the lock, and a new thread could exit through pthread_exit's list unlink before
    // pthread_create had linked it in: a null-pointer write in pthread_exit).
    if ((flags & CLONE_PARENT_SETTID) && !user_range_writable(parent_tid.address(), sizeof(int))) return error(EFAULT);
    if ((flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) && !user_range_writable(child_tid.address(), sizeof(int)))
        return error(EFAULT);
    uintptr_t thread_pointer = (flags & CLONE_SETTLS) ? tls : platform::thread_pointer();
    sched::Thread* thread = TRY(sched::create_thread(entry, arg0, arg1, entry_stack, thread_pointer));
    if (flags & CLONE_CHILD_CLEARTID) thread->clear_child_tid = child_tid.address();
    if (flags & CLONE_PARENT_SETTID) (void)write_user(parent_tid, thread->tid);
    if (flags & CLONE_CHILD_SETTID) (void)write_user(child_tid, thread->tid);
    return thread->tid;
}

ErrorOr<long> clone_thread(int (*function)(void*), uintptr_t stack, unsigned long flags, void* argument,
                           UserPtr<int> parent_tid, uintptr_t tls, UserPtr<int> child_tid) {
    if (!function || !stack) return error(EINVAL);
    return create_clone(flags, thread_entry, reinterpret_cast<uintptr_t>(function),
                        reinterpret_cast<uintptr_t>(argument), stack, parent_tid, tls, child_tid);
}

// clone(2) through the `syscall` instruction: the child resumes the caller's code on `stack`
// with the caller's registers. The registers are copied just below `stack` (the child's own
// stack; its code overwrites the copy only after resume_cloned_thread() has loaded it), and the
// child's first libos frame runs below that.
ErrorOr<long> clone_from_trap(const uint64_t* frame) {
    enum { RBX = 5, RDX = 9, RSI = 10, RDI = 11, R10 = 8, R8 = 7, FRAME_WORDS = 14 };
    unsigned long flags = frame[RDI];
    uintptr_t stack = frame[RSI];
    if (!stack) return error(EINVAL);  // a fork-like clone shares no stack: not supported
    uintptr_t copy = (stack - 256) & ~uintptr_t(15);
    TRY(copy_to_user(UserPtr<void>(copy), frame, FRAME_WORDS * sizeof(uint64_t)));
    return create_clone(flags, raw_clone_entry, copy, stack, copy, UserPtr<int>(frame[RDX]), frame[R8],
                        UserPtr<int>(frame[R10]));
}

ErrorOr<sched::Deadline> relative_deadline(UserPtr<const struct timespec> timeout) {
    if (timeout.is_null()) return sched::Deadline::never();
    timespec t = TRY(read_user(timeout));
    if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000) return error(EINVAL);
    uint64_t ns = uint64_t(t.tv_sec) > UINT64_MAX / 1000000000 - 1
        ? UINT64_MAX
        : uint64_t(t.tv_sec) * 1000000000 + uint64_t(t.tv_nsec);
    return sched::Deadline::after_ns(ns);
}

ErrorOr<sched::Deadline> absolute_deadline(UserPtr<const struct timespec> timeout, bool realtime) {
    if (timeout.is_null()) return sched::Deadline::never();
    timespec t = TRY(read_user(timeout));
    if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000) return error(EINVAL);
    int64_t ns = t.tv_sec > INT64_MAX / 1000000000 - 1 ? INT64_MAX : t.tv_sec * 1000000000 + t.tv_nsec;
    int64_t now = realtime ? platform::realtime_ns() : int64_t(platform::monotonic_ns());
    int64_t remaining = ns - now;
    return sched::Deadline::after_ns(remaining < 0 ? 0 : uint64_t(remaining));
}

// FUTEX_WAKE_OP: the operation applied to *uaddr2, and the comparison of its old value.
ErrorOr<bool> futex_wake_op_apply(uintptr_t address, uint32_t encoded) {
    if (address & 3) return error(EINVAL);
    if (!user_range_writable(address, 4)) return error(EFAULT);
    uint32_t op = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
    uint32_t oparg = (encoded >> 12) & 0xfff, cmparg = encoded & 0xfff;
    if ((encoded >> 28) & 8) oparg = 1u << (oparg & 31);  // FUTEX_OP_OPARG_SHIFT
    // Read-modify-write with the fault-safe copy: one CPU, and libos is not preempted.
    uint32_t old = TRY(read_user(UserPtr<const uint32_t>(address)));
    uint32_t value;
    switch (op) {
    case FUTEX_OP_SET: value = oparg; break;
    case FUTEX_OP_ADD: value = old + oparg; break;
    case FUTEX_OP_OR: value = old | oparg; break;
    case FUTEX_OP_ANDN: value = old & ~oparg; break;
    case FUTEX_OP_XOR: value = old ^ oparg; break;
    default: return error(ENOSYS);
    }
    TRY(write_user(UserPtr<uint32_t>(address), value));
    int32_t o = int32_t(old), a = int32_t(cmparg << 20) >> 20;  // cmparg is a signed 12-bit value
    switch (cmp) {
    case FUTEX_OP_CMP_EQ: return o == a;
    case FUTEX_OP_CMP_NE: return o != a;
    case FUTEX_OP_CMP_LT: return o < a;
    case FUTEX_OP_CMP_LE: return o <= a;
    case FUTEX_OP_CMP_GT: return o > a;
    case FUTEX_OP_CMP_GE: return o >= a;
    default: return error(ENOSYS);
    }
}

}  // namespace

// Implements exit(2): ends the calling thread; the last one ends the image.
ErrorOr<long> sys_exit(int status) {
    sched::Thread& self = sched::current();
    if (self.clear_child_tid) {
        // CLONE_CHILD_CLEARTID: pthread_join and musl's thread-list lock wait for this.
        if (write_user(UserPtr<int>(self.clear_child_tid), 0)) sched::futex_wake(self.clear_child_tid, 1);
    }
    if (sched::thread_count() == 1) {
        net::drain_before_exit();
        platform::shutdown(platform::ExitKind::Exit, status & 0xff, nullptr);
    }
    sched::exit_current();
}

// Implements exit_group(2).
ErrorOr<long> sys_exit_group(int status) {
    net::drain_before_exit();
    platform::shutdown(platform::ExitKind::Exit, status & 0xff, nullptr);
}

// Implements gettid(2).
ErrorOr<long> sys_gettid() { return sched::current().tid; }

// Implements set_tid_address(2).
ErrorOr<long> sys_set_tid_address(UserPtr<int> tidptr) {
    sched::current().clear_child_tid = tidptr.address();
    return sched::current().tid;
}

// Implements set_robust_list(2). Recorded; robust futexes are released by musl itself for
// threads that exit normally, and the image has no other processes.
ErrorOr<long> sys_set_robust_list(uintptr_t head, size_t length) {
    if (length != 3 * sizeof(long)) return error(EINVAL);  // sizeof(struct robust_list_head)
    sched::current().robust_list = head;
    return 0;
}

// Implements sched_yield(2).
ErrorOr<long> sys_sched_yield() {
    sched::yield_now();
    return 0;
}

// Implements futex(2).
ErrorOr<long> sys_futex(uintptr_t address, int operation, uint32_t value, uintptr_t timeout_or_value2,
                        uintptr_t address2, uint32_t value3) {
    int command = operation & FUTEX_CMD_MASK;
    bool realtime = operation & FUTEX_CLOCK_REALTIME;
    if (realtime && command != FUTEX_WAIT_BITSET && command != FUTEX_WAIT) return error(ENOSYS);
    auto timeout = UserPtr<const struct timespec>(timeout_or_value2);
    switch (command) {
    case FUTEX_WAIT:
        TRY(sched::futex_wait(address, value, sched::MATCH_ANY_BITSET,
                              realtime ? TRY(absolute_deadline(timeout, true)) : TRY(relative_deadline(timeout))));
        return 0;
    case FUTEX_WAIT_BITSET:
        TRY(sched::futex_wait(address, value, value3, TRY(absolute_deadline(timeout, realtime))));
        return 0;
    case FUTEX_WAKE: return sched::futex_wake(address, int(value > INT32_MAX ? INT32_MAX : value));
    case FUTEX_WAKE_BITSET:
        if (value3 == 0) return error(EINVAL);
        return sched::futex_wake(address, int(value > INT32_MAX ? INT32_MAX : value), value3);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
        if ((address & 3) || (address2 & 3)) return error(EINVAL);
        if (command == FUTEX_CMP_REQUEUE) {
            if (TRY(read_user(UserPtr<const uint32_t>(address))) != value3) return error(EAGAIN);
        }
        int requeue = int(timeout_or_value2 > INT32_MAX ? INT32_MAX : timeout_or_value2);
        return sched::futex_requeue(address, address2, int(value), requeue, command == FUTEX_CMP_REQUEUE);
    }
    case FUTEX_WAKE_OP: {
        bool wake_second = TRY(futex_wake_op_apply(address2, value3));
        int woken = sched::futex_wake(address, int(value));
        if (wake_second)
            woken += sched::futex_wake(address2, int(timeout_or_value2 > INT32_MAX ? INT32_MAX : timeout_or_value2));
        return woken;
    }
    default: return error(ENOSYS);  // priority-inheritance futexes
    }
}

// Implements sched_getaffinity(2): one CPU.
ErrorOr<long> sys_sched_getaffinity(pid_t pid, size_t size, UserPtr<void> mask) {
    if (pid != 0 && pid != 1 && !sched::find_thread(pid)) return error(ESRCH);
    if (size < sizeof(unsigned long) || (size % sizeof(unsigned long))) return error(EINVAL);
    unsigned long bits = 1;
    TRY(copy_to_user(mask, &bits, sizeof bits));
    return long(sizeof bits);
}

// Implements membarrier(2). One CPU runs every thread, so a barrier has nothing to wait for.
ErrorOr<long> sys_membarrier(int command, unsigned flags, int) {
    constexpr int SUPPORTED = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED |
        MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_CMD_PRIVATE_EXPEDITED |
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
    if (flags) return error(EINVAL);
    if (command == MEMBARRIER_CMD_QUERY) return SUPPORTED;
    if (command < 0 || (command & (command - 1)) || !(command & SUPPORTED)) return error(EINVAL);
    return 0;
}

// Implements rseq(2) as "not available": glibc registers restartable sequences at start-up
// when it can and runs without them when it gets ENOSYS (a Linux before 4.18).
ErrorOr<long> sys_rseq(uintptr_t, uint32_t, int, uint32_t) { return error(ENOSYS); }

// Implements clone3(2) as "not available": glibc's pthread_create then calls clone, which
// the trap path handles (xos_syscall_clone below).
ErrorOr<long> sys_clone3(uintptr_t, size_t) { return error(ENOSYS); }

}  // namespace xos::sys

extern "C" long xos_syscall_clone(const uint64_t* frame) {
    using namespace xos;
    sched::enter_kernel();
    auto result = sys::clone_from_trap(frame);
    sched::leave_kernel();
    sys::deliver_pending_signals();
    return result ? *result : -long(result.error().code);
}

// musl's __clone (pthread_create) jumps here, with __clone's C ABI. Returns the new thread's id
// or -errno, like the raw syscall.
extern "C" int xos_clone(int (*function)(void*), void* stack, int flags, void* argument, int* parent_tid, void* tls,
                         int* child_tid) {
    using namespace xos;
    sched::enter_kernel();
    auto result =
        sys::clone_thread(function, reinterpret_cast<uintptr_t>(stack), unsigned(flags), argument,
                          UserPtr<int>(reinterpret_cast<uintptr_t>(parent_tid)), reinterpret_cast<uintptr_t>(tls),
                          UserPtr<int>(reinterpret_cast<uintptr_t>(child_tid)));
    sched::leave_kernel();
    return result ? int(*result) : -result.error().code;
}
