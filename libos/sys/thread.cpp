// Thread syscalls: clone (through musl's __clone), exit, futex, scheduling, thread identity.
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>

#include <atomic>

#include <cstring>

#include "base/klog.h"
#include "sched/futex.h"
#include "sched/futex_pi.h"
#include "sched/process.h"
#include "sched/process_stats.h"
#include "sched/thread.h"
#include "sys/handlers.h"
#include "sys/rlimit.h"
#include "sys/signal.h"
#include "xos/libos.h"
#include "vfs/process.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

// Threads: what musl's pthread_create and glibc's pass.
constexpr unsigned long THREAD_FLAGS_REQUIRED = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
constexpr unsigned long THREAD_FLAGS_ALLOWED = THREAD_FLAGS_REQUIRED | CLONE_SYSVSEM | CLONE_SETTLS |
    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED;
// Processes: fork (glibc: SIGCHLD|CHILD_SETTID|CHILD_CLEARTID; musl: SIGCHLD), posix_spawn and
// Go's exec (CLONE_VM|CLONE_VFORK|SIGCHLD), vfork. No sharing of descriptor tables, file-system
// state or signal actions between processes, no namespaces.
constexpr unsigned long CSIGNAL_MASK = 0xff;
constexpr unsigned long PROCESS_FLAGS_ALLOWED = CSIGNAL_MASK | CLONE_VM | CLONE_VFORK | CLONE_SYSVSEM | CLONE_SETTLS |
    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED;

// A new thread begins here: run the function musl gave __clone, then exit with its result.
void thread_entry(uintptr_t function, uintptr_t argument) {
    sched::drop_big_lock_for_app();  // app code from here (docs/locking.md)
    int status = reinterpret_cast<int (*)(void*)>(function)(reinterpret_cast<void*>(argument));
    xos_syscall(SYS_exit, status, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

// A thread or process made by a `syscall`-instruction clone or fork begins here, on its kernel
// stack and in its own address space: CLONE_CHILD_SETTID (the child's memory), then the
// parent's registers (kept in the thread) on its stack.
void raw_clone_entry(uintptr_t child_tid, uintptr_t) {
    sched::Thread& self = sched::current();
    if (child_tid) (void)write_user(UserPtr<int>(child_tid), self.tid);
    platform::resume_cloned_thread(self.resume_frame, self.resume_stack);
}

// Where clone's new thread starts: entry(arg0, arg1) on `stack` (0: its kernel stack), and the
// registers a raw clone resumes with.
struct CloneStart {
    void (*entry)(uintptr_t, uintptr_t);
    uintptr_t arg0, arg1, stack;
    const uint64_t* frame;  // raw clones
    uintptr_t resume_stack;
};

ErrorOr<void> check_tid_pointers(unsigned long flags, UserPtr<int> parent_tid, UserPtr<int> child_tid) {
    // Validate the tid pointers before creating anything, without writing to them: musl's
    // child_tid is its thread-list lock, held by the caller during clone (writing 0 there
    // released the lock, and a new thread could exit through pthread_exit's list unlink before
    // pthread_create had linked it in: a null-pointer write in pthread_exit).
    if ((flags & CLONE_PARENT_SETTID) && !user_range_writable(parent_tid.address(), sizeof(int))) return error(EFAULT);
    if ((flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) && !user_range_writable(child_tid.address(), sizeof(int)))
        return error(EFAULT);
    return {};
}

void prepare_thread(sched::Thread& thread, const CloneStart& start) {
    if (start.frame) {
        memcpy(thread.resume_frame, start.frame, sizeof thread.resume_frame);
        thread.resume_stack = start.resume_stack;
    }
}

ErrorOr<long> create_thread_clone(unsigned long flags, const CloneStart& start, UserPtr<int> parent_tid, uintptr_t tls,
                                  UserPtr<int> child_tid) {
    if ((flags & THREAD_FLAGS_REQUIRED) != THREAD_FLAGS_REQUIRED || (flags & ~THREAD_FLAGS_ALLOWED & ~CSIGNAL_MASK) ||
        (flags & CSIGNAL_MASK)) {
        klog("xos: clone: thread flags %#lx are not supported", flags);
        return error(EINVAL);
    }
    TRY(check_tid_pointers(flags, parent_tid, child_tid));
    uintptr_t thread_pointer = (flags & CLONE_SETTLS) ? tls : platform::thread_pointer();
    sched::Thread* thread = TRY(sched::create_thread(start.entry, start.arg0, start.arg1, start.stack, thread_pointer));
    prepare_thread(*thread, start);
    if (flags & CLONE_CHILD_CLEARTID) thread->clear_child_tid = child_tid.address();
    if (flags & CLONE_PARENT_SETTID) (void)write_user(parent_tid, thread->tid);
    if (flags & CLONE_CHILD_SETTID) (void)write_user(child_tid, thread->tid);
    return thread->tid;
}

[[noreturn]] void terminate_current_thread() {
    sched::Thread& self = sched::current();
    sched::Process& process = *self.process;
    if (process.exiting) end_current_thread(process.wait_status);
    deliver_pending_signals();  // a fatal signal: does not return
    end_current_thread(SIGKILL);
}

// A vfork parent that ends (its process exits or execs) while the child still runs: the child
// must not go on in memory that the parent's exit or exec may free. A child sharing the
// parent's memory (CLONE_VM with a stack of its own: posix_spawn) gets a copy-on-write copy of
// it, at the same addresses, so it runs on unchanged (its writes are no longer seen by the
// parent, which is ending or replacing its memory); without memory for the copy it is killed.
// A child already in its own memory (vfork's copy; or mid-exec) needs nothing.
void detach_vfork_child(sched::Process& parent, sched::Process& child) {
    child.vfork_pending = false;
    if (child.owns_memory || child.memory != parent.memory || child.state != sched::ProcessState::Alive) return;
    auto copy = sched::fork_memory(*parent.memory);
    if (!copy) {
        klog("xos: vfork: no memory to detach pid %d from its ending parent: killed", child.pid);
        send_signal_to_process(child, SIGKILL);
        return;
    }
    child.memory = *copy;
    child.owns_memory = true;
}

// fork, vfork, posix_spawn: a new process. `start.stack` is the child's own stack for a clone
// with CLONE_VM; without one (fork, a raw vfork or Go's CLONE_VM|CLONE_VFORK on the caller's
// stack) the child gets a copy-on-write copy of the memory: it would otherwise run on the
// stack the blocked parent's libos frames are on. The child shares the parent's open file
// descriptions in a copy of its descriptor table. With CLONE_VFORK the parent waits until the
// child execs or exits.
ErrorOr<long> create_process_clone(unsigned long flags, const CloneStart& start, bool own_stack,
                                   UserPtr<int> parent_tid, uintptr_t tls, UserPtr<int> child_tid) {
    if (flags & ~PROCESS_FLAGS_ALLOWED) {
        klog("xos: clone: flags %#lx are not supported for a new process (supported: fork, vfork, "
             "CLONE_VM|CLONE_VFORK, SETTLS, PARENT_SETTID, CHILD_SETTID, CHILD_CLEARTID)",
             flags);
        return error(EINVAL);
    }
    sched::Process& parent = sched::current_process();
    if (!may_create_process(parent)) return error(EAGAIN);
    TRY(check_tid_pointers(flags, parent_tid, child_tid));
    sched::set_termination_hook(terminate_current_thread);

    sched::ProcessStats& stats = sched::g_process_stats;
    uint64_t started = platform::monotonic_ns();
    bool share_memory = (flags & CLONE_VM) && own_stack;
    mm::VirtualMemory* memory = share_memory ? parent.memory : TRY(sched::fork_memory(*parent.memory));
    uint64_t memory_done = platform::monotonic_ns();
    stats.fork_memory_ns += memory_done - started;
    auto files = vfs::copy_process(*parent.files);
    auto child = files ? sched::create_process(parent, 0) : ErrorOr<sched::Process*>(std::unexpected(files.error()));
    uint64_t files_done = platform::monotonic_ns();
    stats.fork_files_ns += files_done - memory_done;
    if (!child) {
        if (files) vfs::release_process(*files);
        if (!share_memory) sched::destroy_memory(memory);
        return error(EAGAIN);
    }
    sched::Process& process = **child;
    process.files = *files;
    process.memory = memory;
    process.owns_memory = !share_memory;
    process.exit_signal = int(flags & CSIGNAL_MASK);
    uintptr_t thread_pointer = (flags & CLONE_SETTLS) ? tls : platform::thread_pointer();
    auto thread = sched::create_thread(start.entry, start.arg0, start.arg1, start.stack, thread_pointer, &process);
    if (!thread) {
        vfs::release_process(process.files);
        process.files = nullptr;
        process.state = sched::ProcessState::Reaped;
        sched::release_process(process);  // frees its memory
        return error(EAGAIN);
    }
    sched::Thread& child_thread = **thread;
    prepare_thread(child_thread, start);
    stats.fork_thread_ns += platform::monotonic_ns() - files_done;
    if (!(flags & CLONE_VM) || (flags & CLONE_VFORK)) {  // as Linux: the sigaltstack is inherited
        child_thread.altstack_base = sched::current().altstack_base;
        child_thread.altstack_size = sched::current().altstack_size;
    }
    process.pid = child_thread.tid;
    if (flags & CLONE_CHILD_CLEARTID) child_thread.clear_child_tid = child_tid.address();
    if (flags & CLONE_PARENT_SETTID) (void)write_user(parent_tid, process.pid);
    // CLONE_CHILD_SETTID in shared memory now; in a copy, the child writes it (raw_clone_entry).
    if ((flags & CLONE_CHILD_SETTID) && share_memory) (void)write_user(child_tid, process.pid);
    int pid = process.pid;
    ++stats.forks;
    stats.fork_ns += platform::monotonic_ns() - started;
    if (flags & CLONE_VFORK) {
        process.vfork_pending = true;
        ++process.references;  // it may exit and be reaped automatically while we wait
        // Not interrupted by signals, but ended when the parent process ends (exit_group, a
        // fatal signal, an exec in another thread: release_vfork_waiters), as Linux's killable
        // vfork wait: the child then runs on by itself.
        (void)sched::wait_event(
            process.vfork_done, [&] { return !process.vfork_pending || parent.exiting; }, sched::Deadline::never(),
            sched::Interruptible::No);
        if (process.vfork_pending) detach_vfork_child(parent, process);
        sched::release_process(process);
    }
    return pid;
}

ErrorOr<long> clone_thread(int (*function)(void*), uintptr_t stack, unsigned long flags, void* argument,
                           UserPtr<int> parent_tid, uintptr_t tls, UserPtr<int> child_tid) {
    if (!function || !stack) return error(EINVAL);
    CloneStart start{
        thread_entry, reinterpret_cast<uintptr_t>(function), reinterpret_cast<uintptr_t>(argument), stack, nullptr, 0};
    if (flags & CLONE_THREAD) return create_thread_clone(flags, start, parent_tid, tls, child_tid);
    // Without CLONE_VM the child runs `function` on `stack` in a copy-on-write copy of the memory
    // (a linked image's data and bss included: docs/processes.md, "Linked images").
    return create_process_clone(flags, start, true, parent_tid, tls, child_tid);
}

// clone(2), fork(2) and vfork(2) through the `syscall` instruction: the child resumes the
// caller's code with the caller's registers, on `stack` (clone) or where the caller's stack
// pointer was. It starts on its kernel stack (raw_clone_entry).
ErrorOr<long> clone_from_trap(const uint64_t* frame, long number, uintptr_t caller_stack) {
    enum { RDX = 9, RSI = 10, RDI = 11, R10 = 8, R8 = 7 };
    unsigned long flags = SIGCHLD;
    uintptr_t stack = 0;
    if (number == SYS_vfork) flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    if (number == SYS_clone) flags = frame[RDI], stack = frame[RSI];
    auto parent_tid = UserPtr<int>(number == SYS_clone ? frame[RDX] : 0);
    auto child_tid = UserPtr<int>(number == SYS_clone ? frame[R10] : 0);
    uintptr_t tls = number == SYS_clone ? frame[R8] : 0;
    CloneStart start{raw_clone_entry,
                     (flags & CLONE_CHILD_SETTID) ? child_tid.address() : 0,
                     0,
                     0,
                     frame,
                     stack ? stack : caller_stack};
    if (flags & CLONE_THREAD) {
        if (!stack) return error(EINVAL);  // a thread needs a stack of its own
        start.arg0 = 0;  // create_thread_clone writes CHILD_SETTID (same memory)
        return create_thread_clone(flags, start, parent_tid, tls, child_tid);
    }
    return create_process_clone(flags, start, stack != 0, parent_tid, tls, child_tid);
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
    // An atomic read-modify-write, as Linux's arch_futex_atomic_op_inuser: app code on other
    // CPUs changes the word too.
    if (op > FUTEX_OP_XOR) return error(ENOSYS);
    uint32_t old = TRY(read_user(UserPtr<const uint32_t>(address)));
    for (;;) {
        uint32_t value = 0;
        switch (op) {
        case FUTEX_OP_SET: value = oparg; break;
        case FUTEX_OP_ADD: value = old + oparg; break;
        case FUTEX_OP_OR: value = old | oparg; break;
        case FUTEX_OP_ANDN: value = old & ~oparg; break;
        case FUTEX_OP_XOR: value = old ^ oparg; break;
        }
        if (TRY(cmpxchg_user(UserPtr<uint32_t>(address), old, value))) break;  // else `old` is the new word
    }
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

ErrorOr<long> clone_from_syscall(const uint64_t* frame, long number, uintptr_t caller_stack) {
    return clone_from_trap(frame, number, caller_stack);
}

// clone(2), fork(2) and vfork(2) never come through the table: xos_syscall_frame sends them,
// from a `syscall` instruction or a function call (musl's fork() in a linked program), to
// clone_from_syscall above. musl's posix_spawn and pthread_create use __clone (xos_clone below).
ErrorOr<long> sys_clone(unsigned long flags, uintptr_t, UserPtr<int>, UserPtr<int>, uintptr_t) {
    klog("xos: clone(%#lx) reached the syscall table (it has entries of its own)", flags);
    return error(ENOSYS);
}
ErrorOr<long> sys_fork() { return sys_clone(SIGCHLD, 0, {}, {}, 0); }
ErrorOr<long> sys_vfork() { return sys_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, 0, {}, {}, 0); }

// Implements gettid(2).
ErrorOr<long> sys_gettid() { return sched::current().tid; }

// Implements set_tid_address(2).
ErrorOr<long> sys_set_tid_address(UserPtr<int> tidptr) {
    sched::current().clear_child_tid = tidptr.address();
    return sched::current().tid;
}

// Implements set_robust_list(2). The list is walked when the thread ends
// (sched::exit_robust_list): musl releases its robust mutexes itself on pthread_exit, but not
// when the process exits or is killed.
ErrorOr<long> sys_set_robust_list(uintptr_t head, size_t length) {
    if (length != 3 * sizeof(long)) return error(EINVAL);  // sizeof(struct robust_list_head)
    sched::current().robust_list = head;
    return 0;
}

// Implements get_robust_list(2): any thread (0: the caller).
ErrorOr<long> sys_get_robust_list(int tid, UserPtr<uintptr_t> head, UserPtr<size_t> length) {
    sched::Thread* thread = tid == 0 ? &sched::current() : sched::find_thread(tid);
    if (!thread) return error(ESRCH);
    TRY(write_user(head, thread->robust_list));
    TRY(write_user(length, size_t(3 * sizeof(long))));
    return 0;
}

// Implements sched_yield(2).
ErrorOr<long> sys_sched_yield() {
    sched::yield_now();
    return 0;
}

// Implements futex(2). Dispatched without the big lock (sys/lock_free_syscalls.h): wait, wake
// and requeue work under the futex buckets' locks; the PI operations take it.
ErrorOr<long> sys_futex(uintptr_t address, int operation, uint32_t value, uintptr_t timeout_or_value2,
                        uintptr_t address2, uint32_t value3) {
    int command = operation & FUTEX_CMD_MASK;
    bool is_private = operation & FUTEX_PRIVATE_FLAG;
    bool realtime = operation & FUTEX_CLOCK_REALTIME;
    constexpr int LOCK_PI2 = 13;  // FUTEX_LOCK_PI2 (Linux 5.14)
    if (realtime && command != FUTEX_WAIT_BITSET && command != FUTEX_WAIT && command != LOCK_PI2) return error(ENOSYS);
    auto timeout = UserPtr<const struct timespec>(timeout_or_value2);
    switch (command) {
    case FUTEX_WAIT:
        TRY(sched::futex_wait(address, value, sched::MATCH_ANY_BITSET,
                              realtime ? TRY(absolute_deadline(timeout, true)) : TRY(relative_deadline(timeout)),
                              is_private));
        return 0;
    case FUTEX_WAIT_BITSET:
        TRY(sched::futex_wait(address, value, value3, TRY(absolute_deadline(timeout, realtime)), is_private));
        return 0;
    case FUTEX_WAKE:
        return sched::futex_wake(address, int(value > INT32_MAX ? INT32_MAX : value), sched::MATCH_ANY_BITSET,
                                 is_private);
    case FUTEX_WAKE_BITSET:
        if (value3 == 0) return error(EINVAL);
        return sched::futex_wake(address, int(value > INT32_MAX ? INT32_MAX : value), value3, is_private);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
        if ((address & 3) || (address2 & 3)) return error(EINVAL);
        if (command == FUTEX_CMP_REQUEUE) {
            if (TRY(read_user(UserPtr<const uint32_t>(address))) != value3) return error(EAGAIN);
        }
        int requeue = int(timeout_or_value2 > INT32_MAX ? INT32_MAX : timeout_or_value2);
        return sched::futex_requeue(address, address2, int(value), requeue, command == FUTEX_CMP_REQUEUE, is_private);
    }
    case FUTEX_WAKE_OP: {
        bool wake_second = TRY(futex_wake_op_apply(address2, value3));
        int woken = sched::futex_wake(address, int(value), sched::MATCH_ANY_BITSET, is_private);
        if (wake_second)
            woken += sched::futex_wake(address2, int(timeout_or_value2 > INT32_MAX ? INT32_MAX : timeout_or_value2),
                                       sched::MATCH_ANY_BITSET, is_private);
        return woken;
    }
    // Priority-inheritance futexes (sched/futex_pi.h): LOCK_PI's timeout is absolute on
    // CLOCK_REALTIME, LOCK_PI2's on CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME.
    default: break;
    }
    sched::BigLockScope big_lock;  // PI futexes (futex_pi.cpp) have no lock of their own
    switch (command) {
    case FUTEX_LOCK_PI: TRY(sched::futex_lock_pi(address, TRY(absolute_deadline(timeout, true)), false)); return 0;
    case LOCK_PI2: TRY(sched::futex_lock_pi(address, TRY(absolute_deadline(timeout, realtime)), false)); return 0;
    case FUTEX_TRYLOCK_PI: TRY(sched::futex_lock_pi(address, sched::Deadline::never(), true)); return 0;
    case FUTEX_UNLOCK_PI: TRY(sched::futex_unlock_pi(address)); return 0;
    default: return error(ENOSYS);  // FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI
    }
}

// The CPU mask size sched_{get,set}affinity use, as Linux's cpumask_size(): whole longs for
// XOS_MAX_CPUS bits.
constexpr size_t CPU_MASK_BYTES = sizeof(unsigned long);
static_assert(XOS_MAX_CPUS <= 8 * CPU_MASK_BYTES);

// Implements sched_setaffinity(2) per thread: `pid` is a thread id (0: the caller) or a
// process's pid; inherited at clone and fork. Linux's order of errors: EFAULT (the mask is
// read first), ESRCH, then EINVAL for a mask with no online CPU. A shorter mask is zero-extended,
// a longer one's extra bytes are ignored.
ErrorOr<long> sys_sched_setaffinity(pid_t pid, size_t size, UserPtr<const void> mask) {
    unsigned long bits = 0;
    TRY(copy_from_user(&bits, mask, size < CPU_MASK_BYTES ? size : CPU_MASK_BYTES));
    sched::Thread* thread = sched::find_affinity_target(pid);
    if (!thread) return error(ESRCH);
    TRY(sched::set_affinity(*thread, bits));
    return 0;
}

// Implements sched_getaffinity(2): the thread's mask and the online CPUs. EINVAL for a size
// that is not whole longs or too small for the CPUs, ESRCH, EFAULT; returns the bytes written.
// Without the big lock for the caller itself (pid 0 or its tid: musl's sysconf and
// pthread_getaffinity_np): its own mask, one word that set_affinity stores whole; another
// thread or process is looked up under the big lock (the process and thread tables).
ErrorOr<long> sys_sched_getaffinity(pid_t pid, size_t size, UserPtr<void> mask) {
    if (size * 8 < sched::cpus_online() || (size % sizeof(unsigned long))) return error(EINVAL);
    unsigned long bits = 0;
    sched::Thread& self = sched::current();
    if (pid == 0 || pid == self.tid) {
        bits = sched::affinity(self);
    } else {
        sched::BigLockScope big_lock;
        sched::Thread* thread = sched::find_affinity_target(pid);
        if (!thread) return error(ESRCH);
        bits = sched::affinity(*thread);
    }
    size_t length = size < CPU_MASK_BYTES ? size : CPU_MASK_BYTES;
    TRY(copy_to_user(mask, &bits, length));
    return long(length);
}

// Implements getcpu(2): the CPU running the caller (it may move right after), NUMA node 0.
ErrorOr<long> sys_getcpu(UserPtr<unsigned> cpu, UserPtr<unsigned> node, UserPtr<void>) {
    // A thread whose mask another thread just changed may not have been moved yet (the
    // reschedule IPI is on its way): it moves now, so the answer is a CPU its mask allows.
    if (!((sched::affinity(sched::current()) >> sched::current_cpu()) & 1)) sched::yield_now();
    unsigned index = sched::current_cpu(), zero = 0;
    if (!cpu.is_null()) TRY(write_user(cpu, index));
    if (!node.is_null()) TRY(write_user(node, zero));
    return 0;
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
// the trap path handles (clone_from_syscall below).
ErrorOr<long> sys_clone3(uintptr_t, size_t) { return error(ENOSYS); }

}  // namespace xos::sys

// musl's __clone (pthread_create) jumps here, with __clone's C ABI. Returns the new thread's id
// or -errno, like the raw syscall.
extern "C" int xos_clone(int (*function)(void*), void* stack, int flags, void* argument, int* parent_tid, void* tls,
                         int* child_tid) {
    using namespace xos;
    sched::BigLockScope lock;  // a function call from app code: not the syscall entry
    sched::enter_kernel();
    auto result =
        sys::clone_thread(function, reinterpret_cast<uintptr_t>(stack), unsigned(flags), argument,
                          UserPtr<int>(reinterpret_cast<uintptr_t>(parent_tid)), reinterpret_cast<uintptr_t>(tls),
                          UserPtr<int>(reinterpret_cast<uintptr_t>(child_tid)));
    sched::leave_kernel();
    return result ? int(*result) : -result.error().code;
}
