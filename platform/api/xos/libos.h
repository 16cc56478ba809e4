// What a platform calls in libos.
#pragma once

#include <cstdint>

namespace xos {

// Brings up the library OS (memory, arguments) and starts the app. Never returns.
[[noreturn]] void kernel_main();

namespace mm {

// A zeroed 4 KiB page for a page table (physical; platform::phys_to_virt reaches it), or 0
// when memory is exhausted.
uintptr_t allocate_page_table_page();
// Gives back a page that allocate_page_table_page() handed out (a freed address space's).
void free_page_table_page(uintptr_t page);

enum class FaultAccess { Read, Write, Execute };
// Who touched the page: the app itself, or libos copying to/from app memory for a syscall
// (platform::copy_user, or a host call made on behalf of an app buffer). A fault libos cannot
// resolve ends the image for the app (SIGSEGV, or SIGBUS past the end of a mapped file) but is
// EFAULT for a copy, as on Linux.
enum class FaultSource { App, UserCopy };
// Called by the platform on a page fault at `address` (interrupts disabled). True if libos
// resolved it (demand paging); false if it is a real fault, which the platform then reports,
// using describe_fault() for the details, or turns into EFAULT when it hit a user copy.
bool handle_page_fault(uintptr_t address, FaultAccess access, FaultSource source = FaultSource::App);
// A short explanation of why `address` faulted ("guard page", "not mapped", ...).
const char* describe_fault(uintptr_t address, FaultAccess access);

}  // namespace mm

// The app's registers while it is in libos: Linux's mcontext gregs (struct sigcontext's order,
// what a signal handler's ucontext holds), then the kind of entry. The syscall entry
// (platform/x86_64/entry64.S) saves them at the top of the thread's kernel stack; so does the
// interrupt path for a thread interrupted in app code that has a signal to take.
enum UserRegister {
    UR_R8,
    UR_R9,
    UR_R10,
    UR_R11,
    UR_R12,
    UR_R13,
    UR_R14,
    UR_R15,
    UR_RDI,
    UR_RSI,
    UR_RBP,
    UR_RBX,
    UR_RDX,
    UR_RAX,
    UR_RCX,
    UR_RSP,
    UR_RIP,
    UR_EFL,
    UR_CSGSFS,
    UR_ERR,
    UR_TRAPNO,
    UR_OLDMASK,
    UR_CR2,
    USER_GREGS,  // the gregs end here
    UR_ENTRY = USER_GREGS,  // UserEntry
    USER_FRAME_WORDS
};
enum UserEntry : uint64_t {
    ENTRY_SYSCALL = 0,  // the syscall ABI: a `syscall` instruction, a trampoline, the vDSO
    ENTRY_FUNCTION_CALL = 1,  // xos_syscall() called as a function (a linked program's musl)
    ENTRY_INTERRUPT = 2,  // an interrupt or fault in app code
};

namespace sched {

// Timer: a tick (time slices, sleepers). Yield: the current thread blocks or yields.
// Device: a device interrupt that may have woken a thread.
enum class InterruptKind { Timer, Yield, Device };

// What this CPU needs its timer for next, asked by a tickless platform after each pass through
// the scheduler (on_interrupt), interrupts off: `tick` while it runs a thread (time slices),
// and `deadline_ns`, the nearest sleeper's deadline (monotonic; UINT64_MAX: none).
struct TimerNeed {
    bool tick;
    uint64_t deadline_ns;
};
TimerNeed timer_need();

// The running thread's id, for crash reports (0 before threads exist).
int current_thread_id();

// Called by the platform, interrupts disabled, after it saved the running thread's state into
// its CPU context. Returns the CPU context to resume (the same one, or another thread's; a
// thread interrupted in app code with a signal to take resumes in libos's signal delivery).
void* on_interrupt(InterruptKind kind);

// A CPU exception that demand paging and the user-copy fixup did not resolve: `signal`
// (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) with si_code `code` and si_addr `address`, and
// Linux's sigcontext trapno and err.
struct AppFault {
    int signal;
    int code;
    uintptr_t address;
    uint64_t trapno;
    uint64_t error;
};
// Called by the platform like on_interrupt (the running thread's state saved into its CPU
// context). If the fault hit app code, the signal is forced on the thread (Linux's
// force_sig_fault: a blocked or ignored one takes its default action) and its CPU context is
// returned, set to deliver it; else null, and the platform reports the fault as fatal.
void* on_app_fault(const AppFault& fault);

// The big libos lock (docs/locking.md) for the platform's trap paths, which no longer take it
// at entry: taken on demand around what needs it (a page fault, a device's interrupt handler,
// a fault that becomes a signal), never with a spinlock held and never across the switch to
// another thread. big_lock_enter() is true if it took the lock afresh; paired with
// big_lock_leave() on the same CPU. No-ops with one CPU.
bool big_lock_enter();
void big_lock_leave();
// Counts a device interrupt that took the big lock afresh (/proc/xos/big_lock).
void count_interrupt_big_lock();

}  // namespace sched

namespace rewrite {

// A breakpoint (`int3`) trapped in app code at `address` (the int3's own address): the syscall
// rewriter's, if it is patching a site there (its first byte is an int3 meanwhile) or was (the
// int3 is gone: what is there now runs). Returns where the thread resumes, or 0: not the
// rewriter's (the app's own breakpoint: SIGTRAP). Called by the platform with interrupts off,
// without the big lock (the patching CPU holds it and waits for this one in
// platform::sync_cores).
uintptr_t on_breakpoint(uintptr_t address);

}  // namespace rewrite

}  // namespace xos

// Per-CPU data the entry code reads (platform/x86_64/entry64.S, trap_entry.S; the offsets are
// fixed there: XOS_CPU_*), one per CPU, kept by the scheduler and the platform. docs/locking.md.
constexpr unsigned XOS_MAX_CPUS = 16;
struct XosCpu {
    uintptr_t kernel_stack_top;  // 0: the kernel stack of the thread this CPU runs (entry64.S moves there)
    uintptr_t kernel_stack_size;  // 8
    uint8_t* fpu_area;  // 16: where the trap entry saves the interrupted flow's FPU state (VM)
    uint32_t index;  // 24: this CPU's index (0 = the boot CPU)
    uint32_t flush_request;  // 28: set by another CPU: reload CR3 (a TLB shootdown), then clear
    uint32_t lock_wait_ticket;  // 32: the big-lock ticket (or spin-wait value) this CPU halted waiting for (VM)
    // 36: 1 while it halts for the big lock, 2 for a spin wait (platform::spin_wait): the releaser
    // kicks it (x86_64/big_lock.S); a TLB shootdown sends it an NMI
    uint8_t lock_halted;
    uint8_t apic_id;  // 37: its local APIC ID (VM), for the kick
    uint8_t reserved_bytes[2];
    uint64_t lock_waits;  // 40: times this CPU's big-lock ticket was not served at once (big_lock.S)
    uint64_t lock_halts;  // 48: hlt executed in those waits (each ended by a kick or a TLB request)
    const uint32_t* spin_wait_word;  // 56: the word of the spin wait this CPU halted in (VM), with lock_halted 2
};
static_assert(sizeof(XosCpu) == 64);
extern "C" XosCpu xos_cpus[XOS_MAX_CPUS];
// What each CPU took and sent (/proc/xos/cpus, bench/http/smp_probe.py), counted by the CPU
// itself (relaxed increments; a reader sees recent values). Zero where a platform has no such
// event (hosted).
struct XosCpuEvents {
    uint64_t timer_interrupts;  // its timer (kvm: the local APIC's; xen: the one-shot upcall)
    uint64_t device_interrupts;  // device vectors (I/O APIC, MSI-X, the PIC's COM1)
    uint64_t reschedule_ipis, tick_ipis, tlb_ipis;  // IPIs received
    uint64_t reschedule_ipis_sent, tlb_ipis_sent, tlb_nmis_sent;
    uint64_t idle_halts;  // hlt in the idle loop
    uint64_t migrations;  // a thread switched in here that last ran on another CPU
    uint64_t spin_rounds;  // rounds of a spin wait (platform::cpu_relax: spinlocks, the on_cpu wait)
    uint64_t on_cpu_waits;  // a thread picked here was still on its old CPU (the scheduler's on_cpu wait)
    uint64_t on_cpu_wait_ns;  // the time spent in those waits
    uint64_t spin_halts;  // spin waits (spinlocks) that gave the host CPU back: halted (VM) or slept (hosted)
    uint64_t reserved[2];
};
static_assert(sizeof(XosCpuEvents) == 128);
extern "C" XosCpuEvents xos_cpu_events[XOS_MAX_CPUS];
inline void xos_count_event(uint64_t& counter) { __atomic_store_n(&counter, counter + 1, __ATOMIC_RELAXED); }
// "This CPU" is xos_cpus[platform::cpu_index_unlocked()] (RDPID, or the local APIC's ID and a
// table: docs/locking.md); the entry code does the same (x86_64/big_lock.h, XOS_CPU_PTR).
// The big libos lock (docs/locking.md), a ticket lock: a CPU takes ticket xos_big_lock_next++
// and holds the lock when xos_big_lock_serving reaches it; xos_big_lock_owner = the holder's
// index + 1 (0: free); xos_big_lock_depth = how many levels (sched::BigLockScope, the
// dispatcher, the fault path) the holder is nested in. Only used once xos_smp_active is set (more than one CPU); until then
// nobody takes it.
extern "C" uint32_t xos_big_lock_next, xos_big_lock_serving, xos_big_lock_owner, xos_big_lock_depth;
extern "C" uint8_t xos_smp_active;

// The syscall entry's C side: runs the syscall whose registers `regs` holds
// (xos::USER_FRAME_WORDS words, xos::UserRegister). Returns (the entry's fast return) only
// when nothing but the result in UR_RAX changed and the live FPU state is the app's; otherwise
// (a signal handler's frame, rt_sigreturn, an FPU state to load) it leaves through
// platform::return_to_user itself.
extern "C" void xos_syscall_frame(uint64_t* regs);

// The syscall entry as a SysV function call (platform/x86_64/entry64.S): musl's syscall macros
// call it. Returns a value or -errno, as the Linux ABI does.
extern "C" long xos_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

// The trap path of a `syscall` instruction (platform/x86_64/entry64.S) calls this first:
// `after` is the address after the instruction, `number` the syscall number. libos may rewrite
// the site into a jump to a trampoline (libos/rewrite/rewrite.h); the syscall itself runs after
// and returns to the address this returns (`after`, or the trampoline's tail when the rewriter
// moved the instructions after the `syscall` into it).
// It runs on the app's stack with interrupts disabled. `saved` is what the trap entry pushed: the
// caller's %r15 %r14 %r13 %r12 %rbx %rbp %r11 %r10 %r9 %r8 %rdi %rsi %rdx %rcx %rax and RFLAGS,
// then its 128-byte red zone, then the caller's stack.
extern "C" uintptr_t xos_rewrite_trap(uintptr_t after, long number, const uint64_t* saved);
