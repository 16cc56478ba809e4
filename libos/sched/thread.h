// Threads and the scheduler.
//
// Concurrency model: a thread runs app code preemptibly (the timer may switch threads at any
// instruction), but libos code is not preempted: while a thread is inside a syscall
// (in_kernel > 0) a timer tick only marks a reschedule as needed, and the switch happens when
// the syscall returns or blocks. Scheduler structures are also touched by the timer interrupt,
// so they are changed with interrupts disabled.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "base/intrusive_list.h"

namespace xos::sched {

class WaitQueue;
struct Process;

enum class ThreadState { Runnable, Running, Blocked, Dead };
enum class WakeReason { None, Woken, Timeout, Interrupted };

struct Thread {
    int tid = 0;
    ThreadState state = ThreadState::Runnable;
    void* cpu_context = nullptr;  // platform-defined, 64-byte aligned inside context_memory
    void* context_memory = nullptr;
    // libos code of app threads runs here (KERNEL_STACK_PAGES pages): the syscall entry moves
    // to it, with the app's registers at its top (user_frame()).
    void* kernel_stack = nullptr;
    // The app's registers while the thread is in libos (user_frame(), set by the syscall
    // entry), and its FPU/SIMD state in Linux's signal-frame format (platform::user_fpu_size()
    // bytes, 64-byte aligned) when user_fpu_saved: the interrupt path saved it there, or a
    // signal frame or rt_sigreturn set it; the return to app code loads it.
    uint64_t* user_regs = nullptr;
    uint8_t* user_fpu = nullptr;
    bool user_fpu_saved = false;
    Process* process = nullptr;  // null for the idle thread and kernel threads

    IntrusiveListNode queue_node;  // run queue or a wait queue
    IntrusiveListNode sleep_node;  // timed waits, sorted by deadline
    IntrusiveListNode all_node;  // every live thread
    WaitQueue* waiting_on = nullptr;
    bool device_wait = false;  // blocked on a WakeSource::Device queue (counted by the deadlock check)
    uint64_t deadline_ns = UINT64_MAX;
    WakeReason wake_reason = WakeReason::None;
    bool interruptible = false;

    int in_kernel = 0;  // depth of libos calls on this thread
    bool kernel_thread = false;  // runs libos code only (create_kernel_thread); not an app thread
    uint64_t cpu_time_ns = 0;  // time spent running, excluding the current slice
    uint64_t switched_in_ns = 0;
    uint32_t slice_ticks = 0;

    // Linux thread attributes.
    uintptr_t clear_child_tid = 0;  // CLONE_CHILD_CLEARTID / set_tid_address
    uintptr_t robust_list = 0;
    uint64_t signal_mask = 0;
    uint64_t signal_pending = 0;
    // sigsuspend, ppoll, pselect, epoll_pwait: the mask to restore once a handler's frame holds
    // it (or when the syscall returns without one), as Linux's saved_sigmask.
    uint64_t saved_signal_mask = 0;
    bool restore_signal_mask = false;
    // siginfo of each pending signal (1..64): si_code and si_pid (kill, tgkill, a fault).
    struct PendingInfo {
        int code;
        int pid;
    } signal_info[65] = {};
    // A CPU exception in app code (sched::on_app_fault): si_addr, Linux's trapno and err.
    uintptr_t fault_address = 0;
    uint64_t fault_trapno = 0, fault_error = 0;
    char name[16] = {};  // prctl(PR_SET_NAME), NUL-terminated
    uintptr_t altstack_base = 0;  // sigaltstack(2); size 0: none (SS_DISABLE), as after clone(CLONE_VM)
    size_t altstack_size = 0;

    // A thread made by a `syscall`-instruction clone or fork resumes with these registers
    // (clone_from_syscall's frame) on `resume_stack`.
    uint64_t resume_frame[14] = {};
    uintptr_t resume_stack = 0;

    // Futex wait state (futex.cpp).
    uintptr_t futex_key = 0;
    const void* futex_space = nullptr;  // the waiter's address space (futex.cpp), nullptr for shared memory
    uint32_t futex_bitset = 0;
    bool futex_woken = false;
    // CPU affinity (sched_setaffinity): bit i set = may run on CPU i. Inherited at clone and fork.
    uint64_t affinity = ~uint64_t(0);
    unsigned last_cpu = 0;  // the CPU it last ran on (a woken thread goes back there if it may)
    int queued_cpu = -1;  // the CPU whose run queue holds it, -1 when on none

    // With several CPUs (docs/locking.md): true while a CPU runs this thread or has not yet
    // switched away from it (set by the CPU that switches to it, cleared by the switch away
    // once its registers are saved). A thread woken on another CPU is not resumed before it
    // is clear: whoever resumes it waits for that (on_interrupt).
    bool on_cpu = false;
    // Where a thread made by create_thread/create_kernel_thread starts (thread_start takes the
    // big lock first: libos functions expect it).
    void (*start_entry)(uintptr_t, uintptr_t) = nullptr;
};

// CPUs running the scheduler, and the index of the one running this code (0: the boot CPU).
unsigned cpus_online();
unsigned current_cpu();
// Bit i set: CPU i is online (runs the scheduler).
uint64_t online_cpu_mask();

// CPU affinity (sched_setaffinity(2)): the CPUs `thread` may run on, as Linux reports them (its
// mask and the online CPUs), and setting it. EINVAL if `mask` has no online CPU. A thread
// running or queued on a CPU it may no longer use moves (the current thread before this returns).
uint64_t affinity(Thread& thread);
ErrorOr<void> set_affinity(Thread& thread, uint64_t mask);
// The thread a pid in sched_{get,set}affinity names: 0 the caller, else the thread with that
// id, or a live thread of the process with that pid; null if none.
Thread* find_affinity_target(int pid);

// The big libos lock (docs/locking.md), taken on demand: by the syscall dispatcher for a
// syscall not in sys/lock_free_syscalls.h, by the fault and device interrupt paths, and by the
// entries into libos that are plain function calls from app code (musl's __clone calling
// xos_clone, test hooks). Taken one level deeper if this CPU holds it already. Never with a
// spinlock held (a spinlock holder may not wait for the big lock's holder).
class BigLockScope {
public:
    BigLockScope();
    ~BigLockScope();
    BigLockScope(const BigLockScope&) = delete;
    BigLockScope& operator=(const BigLockScope&) = delete;
};
// The same without a scope: big_lock_enter() is true if it took the lock afresh (this CPU did
// not hold it); each is paired with a big_lock_leave() on the same CPU.
bool big_lock_enter();
void big_lock_leave();
// True if this CPU holds the big lock (false with one CPU, where there is none).
bool big_lock_held();
// A libos function that is about to run app code itself, not through the platform's return to
// app code (a linked image's new thread calling its start function): gives the lock back.
void drop_big_lock_for_app();

// Creates the main thread from the boot flow and the idle thread, and starts the timer.
void init();

Thread& current();
Thread* current_or_null();  // null before init()
// The address space of `process` was made current outside a switch (exec).
void note_active_process(Process* process);

// True while libos runs on the platform's interrupt path: in on_interrupt() (xos/libos.h) or in
// a device's interrupt handler, which marks itself with an InterruptScope. Such code must not
// block, allocate from the kernel heap or take the lwIP core lock.
bool in_interrupt();
class InterruptScope {
public:
    InterruptScope();
    ~InterruptScope();
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;
};
int thread_count();  // live app threads

constexpr size_t KERNEL_STACK_PAGES = 16;
uintptr_t kernel_stack_top(Thread& thread);
// Where the app's registers are kept while `thread` is in libos: the top of its kernel stack
// (xos/libos.h, USER_FRAME_WORDS words).
uint64_t* user_frame(Thread& thread);
// The function a thread interrupted in app code with a signal to take is started in, on its
// kernel stack, with its registers in user_frame() and its FPU state in user_fpu (ENTRY_INTERRUPT):
// it delivers the signal and returns to the app. Set by libos/sys at boot.
void set_signal_entry(void (*entry)(uint64_t* regs));
// True if `thread`, not running, was interrupted in app code (not in libos, not on its kernel stack).
bool in_app_code(Thread& thread);
// Makes a thread that was interrupted in app code (the current one, from a fault) start in the
// signal entry when it is resumed. False if it was not in app code.
bool redirect_to_signal_entry(Thread& thread);
// Runs fn(argument) on the current thread's kernel stack and returns to the caller's stack:
// for libos work during which the app's stack is not usable (exec switches address spaces;
// fork makes the stack's pages copy-on-write while it copies them).
void run_on_kernel_stack(void (*fn)(void*), void* argument);

// Creates a runnable thread of `process` (the current thread's when null) that calls
// entry(arg0, arg1) on `stack_top` (its own kernel stack when 0) with `thread_pointer`.
ErrorOr<Thread*> create_thread(void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1, uintptr_t stack_top,
                               uintptr_t thread_pointer, Process* process = nullptr);

// What libos runs in a thread that must end before it runs app code again (its process is
// exiting, or a signal that terminates it is pending): the scheduler starts it there, on its
// kernel stack, instead of resuming it. Set once by libos/sys.
void set_termination_hook(void (*hook)());
// True if `thread` has to go to the termination hook instead of running app code.
bool must_terminate(Thread& thread);

// Creates a runnable libos-internal thread (e.g. lwIP's tcpip thread) on a kernel stack: it is
// never preempted (it runs libos code, so it is always "in the kernel"; it runs until it
// blocks), and it does not count as an app thread (the last app thread's exit still ends the image).
ErrorOr<Thread*> create_kernel_thread(void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1,
                                      uintptr_t stack_top);

// Ends the current thread (it is freed once another thread runs). Never returns.
[[noreturn]] void exit_current();

// Gives the CPU to another runnable thread, if any.
void yield_now();

// Makes `thread` runnable with the given reason, removing it from whatever it waits on.
void wake(Thread& thread, WakeReason reason);

Thread* find_thread(int tid);

// CPU time of the current thread / of all threads, in ns.
uint64_t thread_cpu_time_ns();
uint64_t process_cpu_time_ns();

// libos entry/exit bookkeeping (xos_syscall and other entry points from app code). Paired, on
// the same thread, never in interrupt context (checked with VERIFY).
void enter_kernel();
void leave_kernel();  // may switch threads if a reschedule was requested meanwhile

}  // namespace xos::sched
