// Interrupts on the hosted platform are host signals, handled on the vCPU's alternate signal
// stack (one per vCPU thread, vcpu.cpp; with one vCPU, the process's only thread):
//   SIGALRM  the periodic timer (setitimer ITIMER_REAL; vCPU 0 only)
//   SIGUSR1  yield(): raised synchronously with tgkill
//   SIGUSR2  an IPI to this vCPU (vcpu.cpp: a Tick, a Reschedule or a space request in
//            Vcpu::ipi_pending)
//   SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP  CPU exceptions: demand paging, else the fixup of a
//            user copy (x86_64/user_copy.S: EFAULT), else a crash report
//   SIGSYS   a `syscall` instruction outside the platform (seccomp.cpp): run by libos
//   SIGIO    the host NIC's fd or the console input became readable/writable (nic.cpp,
//            console.cpp, O_ASYNC): a device interrupt
//   SIGWINCH the host terminal's size changed: a console input interrupt (console.cpp)
//   40       (SIGNAL_FORWARD, with XOS_FORWARD_SIGNALS) a signal xos-run forwards to the app's first
//            process, its number in the sigqueue value: a console input interrupt too
// The interrupt flag is a variable per vCPU: while it is clear a timer signal is only remembered
// and taken when interrupts are enabled again (no host syscall to block signals); so is an IPI,
// and a SIGIO, whose handler also runs at the next entry into the scheduler (yield) if that comes
// first. With several vCPUs the same holds while a vCPU takes or gives back the big lock in the
// entry code (held_back). The scheduler runs without the big lock, as on the VM; page faults,
// app faults and the devices' handlers take it as the VM's trap path does. After the scheduler
// the vCPU takes up the space of the thread it resumes (vcpu.cpp, settle_space).
//
// Context switch: the handler copies the interrupted registers and FPU/SIMD state (the signal
// frame's ucontext and fpstate) into the current thread's CPU context, asks libos for the next
// one, writes that context into the signal frame and returns: rt_sigreturn resumes it.
#include <cstdio>
#include <cstring>

#include "xos/log.h"
#include "hosted/host.h"
#include "hosted/vcpu.h"
#include "x86_64/user_copy.h"
#include "x86_64/user_state.h"
#include "xos/libos.h"
#include "xos/platform.h"

extern "C" void xos_syscall_trap_entry();  // x86_64/syscall_trap.S: the rewriter, then xos_syscall_entry
extern "C" char xos_user_entry_begin[], xos_user_entry_end[];  // x86_64/entry64.S: between app code and libos
extern "C" char xos_hosted_lock_code_begin[], xos_hosted_lock_code_end[];  // big_lock.S: waits with a ticket

namespace xos::hosted {

namespace {

enum Reg {
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
    RDI,
    RSI,
    RBP,
    RBX,
    RDX,
    RAX,
    RCX,
    RSP,
    RIP,
    EFL,
    CSGSFS,
    ERR,
    TRAPNO,
    OLDMASK,
    CR2,
    GREG_COUNT
};

// The kernel's struct ucontext on x86_64.
struct Ucontext {
    uint64_t flags;
    void* link;
    struct {
        void* sp;
        int flags;
        size_t size;
    } stack;
    uint64_t gregs[GREG_COUNT];
    uint8_t* fpstate;
    uint64_t reserved[8];
    uint64_t sigmask;
};

// The kernel's siginfo, the fields we read.
struct Siginfo {
    int signo, error, code, pad;
    void* address;  // SIGSEGV/SIGBUS: fault address; SIGSYS: address after the syscall instruction
    int syscall;  // SIGSYS
    unsigned arch;
};

struct KernelSigaction {
    void (*handler)(int, Siginfo*, void*);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
};
constexpr unsigned long SA_SIGINFO = 4, SA_ONSTACK = 0x08000000, SA_RESTORER = 0x04000000;

struct alignas(64) CpuContext {
    uint64_t gregs[GREG_COUNT];
    uint64_t fs_base;
    uint32_t fpu_bytes;  // 0: not saved yet (a new thread starts with the initial FPU state)
    bool interrupts_enabled;
    alignas(64) uint8_t fpu[];
};

// One signal stack per vCPU: a handler knows its vCPU from where it runs (handler_vcpu).
constexpr size_t ALT_STACK_SIZE = 256 * 1024;
alignas(64) uint8_t g_alt_stacks[XOS_MAX_CPUS][ALT_STACK_SIZE];
size_t g_fpu_capacity = 512;
volatile uint64_t g_forwarded_signals;  // bit n-1: signal n forwarded by xos-run, not yet taken
volatile bool g_io_pending;
volatile bool g_winch_pending;  // read by console.cpp
// The devices SIGIO may be for (the host NIC, console input): each one's handler runs on every
// SIGIO, as handlers of a shared interrupt line do.
// The NIC's (OwnLocks) runs without the big lock, the console's under it.
struct IoHandler {
    void (*handler)(void*);
    void* context;
    platform::InterruptLocking locking;
};
constexpr size_t MAX_IO_HANDLERS = 4;
IoHandler g_io_handlers[MAX_IO_HANDLERS];
size_t g_io_handler_count;

// Runs the handlers registered with `locking`.
void run_io_handlers(platform::InterruptLocking locking) {
    for (size_t i = 0; i < g_io_handler_count; ++i)
        if (g_io_handlers[i].locking == locking) g_io_handlers[i].handler(g_io_handlers[i].context);
}

bool has_io_handlers(platform::InterruptLocking locking) {
    for (size_t i = 0; i < g_io_handler_count; ++i)
        if (g_io_handlers[i].locking == locking) return true;
    return false;
}

void barrier() { asm volatile("" ::: "memory"); }

// The vCPU a signal handler runs for: its signal stack says (GS would too, but app code could
// have changed it).
unsigned handler_vcpu() {
    auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    auto base = reinterpret_cast<uintptr_t>(g_alt_stacks);
    if (sp >= base && sp < base + sizeof g_alt_stacks) return unsigned((sp - base) / ALT_STACK_SIZE);
    return this_vcpu_index();
}

CpuContext* current_of(Vcpu& v) { return static_cast<CpuContext*>(v.current); }

bool in_range(uintptr_t at, const char* begin, const char* end) {
    return at >= reinterpret_cast<uintptr_t>(begin) && at < reinterpret_cast<uintptr_t>(end);
}

// The ways into and out of libos, and the big lock's waits (big_lock.S: the first instruction
// of a wait runs before it marks itself waiting, its `ret` after).
bool in_entry_code(uintptr_t at) {
    return in_range(at, xos_user_entry_begin, xos_user_entry_end) ||
        in_range(at, xos_hosted_lock_code_begin, xos_hosted_lock_code_end);
}

// An interrupt (timer, IPI, SIGIO) that must wait: interrupts are off on this vCPU, or (with
// several vCPUs) it is taking or giving back the big lock, which the VM does with interrupts
// off: waiting for it, holding it at depth 0 (between the ticket and the count, or the count and
// the release), or in the entry code without it (x86_64/entry64.S, where `cli` cannot run in
// ring 3). Such an interrupt stays pending; interrupts_enable() or the next one takes it.
bool held_back(Vcpu& v, unsigned index, const uint64_t* gregs);

constexpr uint32_t FP_XSTATE_MAGIC1 = 0x46505853;

size_t frame_fpu_bytes(const uint8_t* fpstate) {
    uint32_t magic, size;
    memcpy(&magic, fpstate + 464, 4);  // fxsave's software-reserved bytes: struct _fpx_sw_bytes
    if (magic != FP_XSTATE_MAGIC1) return 512;
    memcpy(&size, fpstate + 468, 4);  // extended_size: the XSAVE area plus FP_XSTATE_MAGIC2
    return size;
}

// The initial FPU state in place, keeping the frame's format (software bytes, XSAVE header).
void reset_fpu(uint8_t* fpstate) {
    uint16_t fcw = 0x37f;
    uint32_t mxcsr = 0x1f80;
    memset(fpstate, 0, 24);
    memcpy(fpstate + 0, &fcw, 2);
    memcpy(fpstate + 24, &mxcsr, 4);
    memset(fpstate + 32, 0, 416 - 32);  // ST0-7, XMM0-15
    if (frame_fpu_bytes(fpstate) > 512) {
        uint64_t xstate_bv = 3;  // x87 and SSE from the legacy area; AVX and up in their initial state
        memcpy(fpstate + 512, &xstate_bv, 8);
    }
}

void set_fs(Vcpu& v, uint64_t value) {
    host::call(host::ARCH_PRCTL, host::ARCH_SET_FS, long(value));
    v.fs_base = value;
}

void save(Vcpu& v, Ucontext& uc, bool interrupts_were_enabled) {
    CpuContext* current = current_of(v);
    memcpy(current->gregs, uc.gregs, sizeof uc.gregs);
    current->fs_base = v.fs_base;
    current->interrupts_enabled = interrupts_were_enabled;
    size_t bytes = frame_fpu_bytes(uc.fpstate);
    if (bytes > g_fpu_capacity) {
        klog("xos: fatal: the host's signal FPU state (%zu bytes) exceeds the %zu bytes reserved", bytes,
             g_fpu_capacity);
        platform::shutdown(platform::ExitKind::Crash, 134, "FPU state too large");
    }
    memcpy(current->fpu, uc.fpstate, bytes);
    current->fpu_bytes = uint32_t(bytes);
}

void resume(Vcpu& v, CpuContext* next, Ucontext& uc) {
    uint64_t segments = uc.gregs[CSGSFS];
    memcpy(uc.gregs, next->gregs, sizeof uc.gregs);
    uc.gregs[CSGSFS] = segments;
    if (next->fpu_bytes)
        memcpy(uc.fpstate, next->fpu, next->fpu_bytes);
    else
        reset_fpu(uc.fpstate);
    uc.sigmask = v.signal_mask;
    if (next->fs_base != v.fs_base) set_fs(v, next->fs_base);
    v.current = next;
}

bool held_back(Vcpu& v, unsigned index, const uint64_t* gregs) {
    if (!v.interrupts_enabled) return true;
    if (!xos_smp_active) return false;
    if (__atomic_load_n(&xos_cpus[index].lock_halted, __ATOMIC_RELAXED)) return true;
    if (xos_big_lock_owner == index + 1) return xos_big_lock_depth == 0;
    return in_entry_code(gregs[RIP]);
}

// Libos's scheduler for this vCPU (without the big lock, as the VM's timer and IPIs; the
// devices' handlers take it), then the space of the thread it resumes (vcpu.cpp).
void interrupt(Vcpu& v, unsigned index, Ucontext& uc, sched::InterruptKind kind) {
    bool were_enabled = v.interrupts_enabled;
    if (!v.current) return;  // the scheduler is not up yet
    v.interrupts_enabled = false;
    if (index == 0 && g_io_pending && g_io_handler_count) {  // a SIGIO held back, or this one
        g_io_pending = false;
        run_io_handlers(platform::InterruptLocking::OwnLocks);
        if (has_io_handlers(platform::InterruptLocking::BigLock)) {
            if (sched::big_lock_enter()) sched::count_interrupt_big_lock();  // a device's handler
            run_io_handlers(platform::InterruptLocking::BigLock);
            sched::big_lock_leave();
        }
    }
    save(v, uc, were_enabled);
    v.in_handler = true;
    auto* next = static_cast<CpuContext*>(sched::on_interrupt(kind));
    v.in_handler = false;
    if (next) {
        // Another thread, or this one set to enter a signal handler: load it either way.
        resume(v, next, uc);
        were_enabled = next->interrupts_enabled;
    }
    settle_space();
    v.interrupts_enabled = were_enabled;
}

void on_timer(int, Siginfo*, void* context) {
    auto& uc = *static_cast<Ucontext*>(context);
    unsigned index = handler_vcpu();
    Vcpu& v = g_vcpus[index];
    if (held_back(v, index, uc.gregs)) {
        v.timer_pending = true;
        return;
    }
    v.timer_pending = false;
    interrupt(v, index, uc, sched::InterruptKind::Timer);
}

void on_yield(int, Siginfo*, void* context) {
    unsigned index = handler_vcpu();
    interrupt(g_vcpus[index], index, *static_cast<Ucontext*>(context), sched::InterruptKind::Yield);
}

void on_io(int, Siginfo*, void* context) {
    auto& uc = *static_cast<Ucontext*>(context);
    unsigned index = handler_vcpu();
    g_io_pending = true;
    if (index != 0 || held_back(g_vcpus[index], index, uc.gregs)) return;  // taken later (interrupts_enable, a tick)
    interrupt(g_vcpus[index], index, uc, sched::InterruptKind::Device);
}

// An IPI (vcpu.cpp): a Tick from the boot vCPU's timer, a Reschedule, or a space request.
void on_ipi(int, Siginfo*, void* context) {
    auto& uc = *static_cast<Ucontext*>(context);
    unsigned index = handler_vcpu();
    Vcpu& v = g_vcpus[index];
    if (held_back(v, index, uc.gregs)) return;  // the bits stay set for later
    uint32_t kinds = __atomic_exchange_n(&v.ipi_pending, 0, __ATOMIC_ACQ_REL);
    if (kinds & (IPI_TICK | IPI_RESCHEDULE)) {
        interrupt(v, index, uc, (kinds & IPI_TICK) ? sched::InterruptKind::Timer : sched::InterruptKind::Device);
    } else if (kinds & IPI_SPACE) {  // another vCPU waits for a different space: give it up if due
        bool were_enabled = v.interrupts_enabled;
        v.interrupts_enabled = false;
        settle_space();
        v.interrupts_enabled = were_enabled;
    }
}

void on_winch(int, Siginfo*, void* context) {
    g_winch_pending = true;
    on_io(host::SIGIO, nullptr, context);
}

// A sigqueue'd signal's value (si_value.sival_int: the int at offset 24 of siginfo_t).
int queued_value(const Siginfo& info) {
    int value;
    memcpy(&value, reinterpret_cast<const char*>(&info) + 24, sizeof value);
    return value;
}

void on_forwarded(int, Siginfo* info, void* context) {
    int signal = queued_value(*info);
    if (signal >= 1 && signal <= 64) g_forwarded_signals = g_forwarded_signals | (uint64_t(1) << (signal - 1));
    on_io(host::SIGIO, nullptr, context);
}

const char* signal_description(int signal, int code) {
    switch (signal) {
    case host::SIGILL: return "invalid opcode (SIGILL)";
    case host::SIGFPE: return code == 1 || code == 2 ? "divide error (SIGFPE)" : "floating-point exception (SIGFPE)";
    case host::SIGTRAP: return "breakpoint (SIGTRAP)";
    case host::SIGBUS: return "bus error (SIGBUS)";
    default: return "general protection fault (SIGSEGV)";
    }
}

[[noreturn]] void fatal(int signal, const Siginfo& info, const Ucontext& uc) {
    const uint64_t* g = uc.gregs;
    char reason[256];
    bool page_fault = signal == host::SIGSEGV && (info.code == 1 || info.code == 2);  // SEGV_MAPERR, SEGV_ACCERR
    if (page_fault) {
        auto address = reinterpret_cast<uintptr_t>(info.address);
        uint64_t e = g[ERR];
        auto access = (e & 0x10) ? mm::FaultAccess::Execute : (e & 2) ? mm::FaultAccess::Write : mm::FaultAccess::Read;
        const char* what = (e & 0x10) ? "instruction fetch" : (e & 2) ? "write" : "read";
        snprintf(reason, sizeof reason,
                 "page fault (SIGSEGV) in thread %d: %s at address 0x%lx (%s), rip=0x%lx, error code 0x%lx",
                 sched::current_thread_id(), what, address, mm::describe_fault(address, access), g[RIP], e);
    } else {
        snprintf(reason, sizeof reason, "%s in thread %d at rip=0x%lx, address 0x%lx",
                 signal_description(signal, info.code), sched::current_thread_id(), g[RIP],
                 reinterpret_cast<uintptr_t>(info.address));
    }
    klog("xos: fatal: %s", reason);
    klog("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx", g[RAX], g[RBX], g[RCX], g[RDX]);
    klog("  rsi=%016lx rdi=%016lx rbp=%016lx rsp=%016lx", g[RSI], g[RDI], g[RBP], g[RSP]);
    klog("  r8 =%016lx r9 =%016lx r10=%016lx r11=%016lx", g[R8], g[R9], g[R10], g[R11]);
    klog("  r12=%016lx r13=%016lx r14=%016lx r15=%016lx", g[R12], g[R13], g[R14], g[R15]);
    klog("  rip=%016lx rflags=%08lx", g[RIP], g[EFL]);
    klog("backtrace:");
    klog("  #0 0x%lx", g[RIP]);
    platform::print_backtrace(g[RBP]);
    platform::shutdown(platform::ExitKind::Crash, 128 + signal, reason);
}

bool in_platform_entry(uintptr_t at) {
    return at >= reinterpret_cast<uintptr_t>(xos_host_syscall_begin) &&
        at <= reinterpret_cast<uintptr_t>(xos_host_syscall_end);
}

// Continues in xos_syscall_trap_entry, which offers the site to libos's rewriter and runs syscall
// `number` through libos on the caller's stack exactly as the VM's LSTAR entry does (%rcx =
// return address, %r11 = flags).
void run_in_libos(Ucontext& uc, long number) {
    uc.gregs[RCX] = uc.gregs[RIP];
    uc.gregs[R11] = uc.gregs[EFL];
    uc.gregs[RAX] = uint64_t(number);
    uc.gregs[RIP] = reinterpret_cast<uint64_t>(&xos_syscall_trap_entry);
}

constexpr int SI_KERNEL = 0x80;
constexpr long SYS_URETPROBE = 335;

void on_fault(int signal, Siginfo* info, void* context) {
    auto& uc = *static_cast<Ucontext*>(context);
    unsigned index = handler_vcpu();
    Vcpu& v = g_vcpus[index];
    // uretprobe (335) passes seccomp and raises SIGILL when not called from a uprobe trampoline
    // (without syscall user dispatch, which stops it first): the kernel's SIGILL right after a
    // `syscall` instruction of the app's. Run it through libos like any unknown number (ENOSYS).
    if (signal == host::SIGILL && info->code == SI_KERNEL) {
        auto* after = reinterpret_cast<const uint8_t*>(uc.gregs[RIP]);
        if (!in_platform_entry(uintptr_t(after)) && after[-2] == 0x0f && after[-1] == 0x05) {
            run_in_libos(uc, SYS_URETPROBE);
            return;
        }
    }
    if (signal == host::SIGTRAP && info->code == SI_KERNEL) {  // int3: the rewriter's patch steps?
        if (uintptr_t resume = rewrite::on_breakpoint(uc.gregs[RIP] - 1)) {
            uc.gregs[RIP] = resume;
            return;
        }
    }
    if (signal == host::SIGSEGV && (info->code == 1 || info->code == 2)) {
        uint64_t e = uc.gregs[ERR];
        auto access = (e & 0x10) ? mm::FaultAccess::Execute : (e & 2) ? mm::FaultAccess::Write : mm::FaultAccess::Read;
        bool were_enabled = v.interrupts_enabled;
        v.interrupts_enabled = false;
        auto source = x86::user_copy_fixup(uc.gregs[RIP]) ? mm::FaultSource::UserCopy : mm::FaultSource::App;
        // Page faults take the big lock, as the VM's: the VMA tree and the page tables are its.
        (void)sched::big_lock_enter();
        bool resolved = mm::handle_page_fault(reinterpret_cast<uintptr_t>(info->address), access, source);
        sched::big_lock_leave();
        v.interrupts_enabled = were_enabled;
        if (resolved) return;  // demand paging: the access is retried
    }
    if (signal == host::SIGSEGV || signal == host::SIGBUS) {
        if (uintptr_t fixup = x86::user_copy_fixup(uc.gregs[RIP])) {
            uc.gregs[RIP] = fixup;  // a fault inside a user copy: the copy returns EFAULT
            return;
        }
    }
    if (v.current && v.interrupts_enabled) {
        // A fault in app code: the app's signal, if libos says so.
        constexpr int SI_KERNEL_CODE = 0x80;
        uint64_t trapno = uc.gregs[TRAPNO], error = uc.gregs[ERR];  // the host's, as Linux reports them
        bool with_address = signal == host::SIGSEGV || signal == host::SIGBUS || info->code != SI_KERNEL_CODE;
        sched::AppFault fault{signal, info->code, with_address ? reinterpret_cast<uintptr_t>(info->address) : 0, trapno,
                              error};
        v.interrupts_enabled = false;
        (void)sched::big_lock_enter();  // signal state, as the VM's trap path
        save(v, uc, true);
        v.in_handler = true;
        auto* next = static_cast<CpuContext*>(sched::on_app_fault(fault));
        v.in_handler = false;
        sched::big_lock_leave();
        if (next) {
            resume(v, next, uc);
            settle_space();
            v.interrupts_enabled = next->interrupts_enabled;
            return;
        }
        v.interrupts_enabled = true;
    }
    (void)sched::big_lock_enter();  // a fatal report
    fatal(signal, *info, uc);
}

// A `syscall` instruction outside the platform's own entry (syscall user dispatch, or the
// seccomp filter where that is missing). From the platform: a host syscall the sandbox does not
// allow (a platform bug, or hostile app code calling the platform's entry). From the vDSO under
// syscall user dispatch: its clock_gettime fallback, made here. From anywhere else (the app, a
// prebuilt library): run by libos.
void on_sigsys(int, Siginfo* info, void* context) {
    auto& uc = *static_cast<Ucontext*>(context);
    auto at = reinterpret_cast<uintptr_t>(info->address);
    if (uintptr_t vdso_begin, vdso_end;
        info->syscall == host::CLOCK_GETTIME && vdso_text(vdso_begin, vdso_end) && at >= vdso_begin && at < vdso_end) {
        uc.gregs[RAX] = uint64_t(host::call(host::CLOCK_GETTIME, long(uc.gregs[RDI]), long(uc.gregs[RSI])));
        return;
    }
    if (in_platform_entry(at)) {
        char reason[128];
        snprintf(reason, sizeof reason, "host syscall %d is not allowed by the hosted platform's seccomp filter",
                 info->syscall);
        klog("xos: fatal: %s", reason);
        platform::print_backtrace(uc.gregs[RBP]);
        platform::shutdown(platform::ExitKind::Crash, 128 + host::SIGSYS, reason);
    }
    run_in_libos(uc, info->syscall);
}

uint64_t bit(int signal) { return uint64_t(1) << (signal - 1); }

void handle(int signal, void (*handler)(int, Siginfo*, void*)) {
    // Every handler runs with the timer and yield signals blocked: no nesting on the one stack.
    KernelSigaction action{handler, SA_SIGINFO | SA_ONSTACK | SA_RESTORER, &xos_host_sigreturn,
                           bit(host::SIGALRM) | bit(host::SIGUSR1) | bit(host::SIGIO) | bit(host::SIGWINCH) |
                               bit(host::SIGNAL_FORWARD) | bit(SIGNAL_IPI)};
    long r = host::call(host::RT_SIGACTION, signal, long(&action), 0, 8);
    if (r < 0) setup_failed("rt_sigaction failed", r);
}

size_t xsave_size() {
    uint32_t a = 1, b, c = 0, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if (!(c & (1u << 27))) return 512;  // no OSXSAVE: the signal frame holds an FXSAVE image
    a = 0xd, c = 0;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return b + 4;  // the XSAVE area for the features enabled in XCR0, plus FP_XSTATE_MAGIC2
}

}  // namespace

long g_pid;

// vCPU `index`'s signal stack, set by its own thread (sigaltstack is per thread).
void init_signal_stack(unsigned index) {
    struct {
        void* sp;
        int flags;
        size_t size;
    } alt{g_alt_stacks[index], 0, ALT_STACK_SIZE};
    long r = host::call(host::SIGALTSTACK, long(&alt), 0);
    if (r < 0) setup_failed("sigaltstack failed", r);
}

bool take_resize() {
    bool resized = g_winch_pending;
    g_winch_pending = false;
    return resized;
}

void init_signal_forwarding() { handle(host::SIGNAL_FORWARD, on_forwarded); }

// A directly run image that put the terminal in raw mode, told to end by the host (kill, the
// terminal hanging up): the terminal as it was, then the exit status a shell reports for the
// signal (128 + signal; the image cannot re-raise it under its seccomp filter).
void on_terminate(int signal, Siginfo*, void*) {
    restore_terminal();
    host::exit_group(128 + signal);
}

void restore_terminal_on_termination() {
    handle(host::SIGTERM, on_terminate);
    handle(host::SIGHUP, on_terminate);
}

int take_forwarded_signal() {
    platform::InterruptGuard guard;
    uint64_t pending = g_forwarded_signals;
    if (!pending) return 0;
    int signal = __builtin_ctzll(pending) + 1;
    g_forwarded_signals = pending & (pending - 1);
    return signal;
}

void set_io_interrupt_handler(void (*handler)(void*), void* context, platform::InterruptLocking locking) {
    platform::InterruptGuard guard;
    if (g_io_handler_count == MAX_IO_HANDLERS) setup_failed("too many SIGIO handlers", 0);
    g_io_handlers[g_io_handler_count++] = {handler, context, locking};
}

void init_signals() {
    g_pid = host::call(host::GETPID);
    g_vcpus[0].tid = g_pid;  // the start thread is vCPU 0
    g_fpu_capacity = (xsave_size() + 63) & ~size_t(63);
    init_signal_stack(0);
    for (int signal : {host::SIGSEGV, host::SIGBUS, host::SIGILL, host::SIGFPE, host::SIGTRAP})
        handle(signal, on_fault);
    handle(host::SIGALRM, on_timer);
    handle(host::SIGUSR1, on_yield);
    handle(SIGNAL_IPI, on_ipi);
    handle(host::SIGSYS, on_sigsys);
    handle(host::SIGIO, on_io);
    // The host terminal's size changed (console.cpp reads the new one): an input interrupt too.
    handle(host::SIGWINCH, on_winch);
    // A closed stdout is an EPIPE for the console, not the end of the image.
    KernelSigaction ignore{reinterpret_cast<void (*)(int, Siginfo*, void*)>(1), SA_RESTORER, &xos_host_sigreturn, 0};
    host::call(host::RT_SIGACTION, host::SIGPIPE, long(&ignore), 0, 8);
}

}  // namespace xos::hosted

namespace xos::x86 {

uint64_t enabled_xfeatures() {
    uint32_t a = 1, b, c = 0, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if (!(c & (1u << 27))) return 0;  // no OSXSAVE
    uint32_t low, high;
    asm volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return low | (uint64_t(high) << 32);
}

void cpu_context_pc_sp(const void* storage, uintptr_t& rip, uintptr_t& rsp) {
    const auto* context = static_cast<const hosted::CpuContext*>(storage);
    rip = context->gregs[hosted::RIP];
    rsp = context->gregs[hosted::RSP];
}

}  // namespace xos::x86

namespace xos::platform {

uintptr_t cpu_context_user_state(const void* storage, uint64_t* gregs, uint8_t* fpu) {
    const auto* context = static_cast<const hosted::CpuContext*>(storage);
    static_assert(hosted::CR2 + 1 == USER_GREGS, "the host's gregs are Linux's");
    memcpy(gregs, context->gregs, USER_GREGS * sizeof(uint64_t));
    gregs[UR_CSGSFS] = gregs[UR_ERR] = gregs[UR_TRAPNO] = gregs[UR_OLDMASK] = gregs[UR_CR2] = 0;
    if (context->fpu_bytes) {
        size_t size = user_fpu_size();
        memcpy(fpu, context->fpu, context->fpu_bytes < size ? context->fpu_bytes : size);
        sanitize_user_fpu(fpu);
    } else {
        init_user_fpu(fpu);
    }
    return context->fs_base;
}

size_t cpu_context_size() { return offsetof(hosted::CpuContext, fpu) + hosted::g_fpu_capacity; }

void cpu_context_init(void* storage, void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1,
                      uintptr_t stack_top, uintptr_t thread_pointer) {
    auto* context = static_cast<hosted::CpuContext*>(storage);
    memset(context, 0, offsetof(hosted::CpuContext, fpu));
    context->gregs[hosted::RIP] = reinterpret_cast<uint64_t>(entry);
    context->gregs[hosted::RDI] = arg0;
    context->gregs[hosted::RSI] = arg1;
    context->gregs[hosted::RSP] = (stack_top & ~uint64_t(15)) - 8;  // as if entry had been called
    context->gregs[hosted::EFL] = 0x202;
    context->fs_base = thread_pointer;
    context->interrupts_enabled = true;
}

void cpu_context_adopt_current(void* storage) {
    auto* context = static_cast<hosted::CpuContext*>(storage);
    hosted::Vcpu& v = hosted::this_vcpu();
    context->fs_base = v.fs_base;
    v.current = context;
}

void yield() { hosted::signal_vcpu(hosted::this_vcpu_index(), hosted::host::SIGUSR1); }

void timer_start(uint32_t hz) {
    long period_us = 1000000 / long(hz ? hz : 250);
    struct {
        long interval_s, interval_us, value_s, value_us;
    } timer{0, period_us, 0, period_us};
    long r = hosted::host::call(hosted::host::SETITIMER, 0 /* ITIMER_REAL */, long(&timer), 0);
    if (r < 0) hosted::setup_failed("setitimer failed", r);
}

bool interrupts_enabled() { return hosted::this_vcpu().interrupts_enabled; }

void interrupts_disable() {
    hosted::this_vcpu().interrupts_enabled = false;
    hosted::barrier();
}

void interrupts_enable() {
    unsigned index = hosted::this_vcpu_index();
    hosted::Vcpu& v = hosted::g_vcpus[index];
    hosted::barrier();
    v.interrupts_enabled = true;
    hosted::barrier();
    // What was held back: the tick (vCPU 0), an IPI, a SIGIO (vCPU 0 takes those).
    if (v.timer_pending) hosted::signal_vcpu(index, hosted::host::SIGALRM);
    if (__atomic_load_n(&v.ipi_pending, __ATOMIC_RELAXED)) hosted::signal_vcpu(index, hosted::SIGNAL_IPI);
    if (hosted::g_io_pending && hosted::g_io_handler_count) hosted::signal_vcpu(0, hosted::host::SIGIO);
}

void wait_for_interrupt() {
    hosted::Vcpu& v = hosted::this_vcpu();
    interrupts_enable();
    uint64_t mask = v.signal_mask;  // a directed signal (an IPI; on vCPU 0 also the tick) ends it
    hosted::host::call(hosted::host::RT_SIGSUSPEND, long(&mask), 8);
}

void set_thread_pointer(uintptr_t value) { hosted::set_fs(hosted::this_vcpu(), value); }

uintptr_t thread_pointer() { return hosted::this_vcpu().fs_base; }

}  // namespace xos::platform
