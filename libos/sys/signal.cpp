// Signals. Actions belong to the process (shared by its threads); each thread has its own mask
// and pending set. A signal for a process goes to one of its threads that does not block it
// (the sender itself when it is one). A signal is acted on when its thread is in libos: at the
// end of the syscall that sent it to itself (raise, abort, kill(getpid())), or, for a signal
// from another thread or process, when the target's current or next syscall returns; a target
// blocked in an interruptible wait is woken and its syscall returns EINTR, which is how musl's
// thread cancellation works with function-call syscalls. A target that runs app code is
// reached only for signals that end it (SIGKILL, default actions that terminate): the
// scheduler sends it to the termination path before it runs app code again (sched/thread.h).
// Acting means running the handler, or the default action: ignore, stop until SIGCONT, or
// terminate the process (PID 1: the image, with the status a shell reports, 128 + signal).
#include "sys/signal.h"

#include <sys/syscall.h>

#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "base/klog.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/handlers.h"
#include "xos/libos.h"
#include "xos/platform.h"

extern "C" void xos_syscall_restart();  // platform/x86_64/entry64.S

namespace xos::sys {

namespace {

// Threads in sigsuspend/pause. Kernel memory, not a local: libos runs on the app's stack, and a
// thread of another process that wakes or dequeues a waiter sees its own address space there.
sched::WaitQueue g_signal_waiters;

using sched::MAX_SIGNAL;
using sched::SignalAction;

constexpr uint64_t bit(int signal) { return 1ull << (signal - 1); }
constexpr uint64_t UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP);
constexpr uint64_t STOP_SIGNALS = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);

bool valid_signal(int signal) { return signal >= 1 && signal <= MAX_SIGNAL; }

bool ignored_by_default(int signal) {
    return signal == SIGCHLD || signal == SIGCONT || signal == SIGURG || signal == SIGWINCH;
}

SignalAction* actions() { return sched::current_process().actions; }

const char* signal_name(int signal) {
    static const char* const names[] = {
        "0",         "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
        "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
        "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
        "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS"};
    return signal < int(sizeof names / sizeof names[0]) ? names[signal] : "real-time signal";
}

[[noreturn]] void terminate_by(int signal) {
    sched::enter_kernel();  // exit_current_process runs libos code (ended by exit_current)
    if (&sched::current_process() == sched::first_process()) {
        char reason[64];
        snprintf(reason, sizeof reason, "terminated by signal %d (%s)", signal, signal_name(signal));
        platform::shutdown(platform::ExitKind::Crash, 128 + signal, reason);
    }
    exit_current_process(signal);
}

// A signal whose default action stops the process: every thread of it waits until SIGCONT
// (or SIGKILL); the parent hears of it through wait (WUNTRACED) and SIGCHLD.
void stop_current_process(int signal) {
    sched::Process& self = sched::current_process();
    if (!self.stopped) {
        self.stopped = true;
        self.stop_signal = signal;
        self.stop_to_report = true;
        self.continue_to_report = false;
        if (sched::Process* parent = self.parent) {
            if (wants_stop_notification(*parent)) send_signal_to_process(*parent, SIGCHLD);
            sched::wake_all(parent->child_event);
        }
    }
    sched::enter_kernel();
    (void)sched::wait_event(
        self.continued,
        [&] { return !self.stopped || (sched::current().signal_pending & bit(SIGKILL)) || self.exiting; },
        sched::Deadline::never(), sched::Interruptible::No);
    sched::leave_kernel();
}

bool on_altstack(const sched::Thread& thread, uintptr_t sp) {
    return thread.altstack_size && sp - thread.altstack_base < thread.altstack_size;
}

// The app's stack pointer: where it was when it entered libos.
uintptr_t user_sp() {
    sched::Thread& self = sched::current();
    return self.user_regs ? self.user_regs[UR_RSP] : uintptr_t(__builtin_frame_address(0));
}

// Linux's x86_64 signal frame (arch/x86/include/asm/sigframe.h): the handler's return address
// (the restorer), the ucontext, the siginfo; the FPU state lies above it, 64-byte aligned.
struct KernelUcontext {
    uint64_t flags;
    uint64_t link;
    uint64_t stack_sp;
    int32_t stack_flags;
    int32_t stack_pad;
    uint64_t stack_size;
    uint64_t gregs[USER_GREGS];
    uint64_t fpstate;
    uint64_t reserved[8];
    uint64_t sigmask;
};
static_assert(sizeof(KernelUcontext) == 304);
struct KernelSiginfo {
    int32_t signo, error, code, pad;
    union {
        struct {
            int32_t pid;
            uint32_t uid;
        } kill;
        uint64_t address;
        uint8_t bytes[112];
    };
};
static_assert(sizeof(KernelSiginfo) == 128);
struct RtSigframe {
    uint64_t pretcode;
    KernelUcontext uc;
    KernelSiginfo info;
};
constexpr uint64_t UC_FP_XSTATE = 1, UC_SIGCONTEXT_SS = 2, UC_STRICT_RESTORE_SS = 4;
constexpr uint64_t CSGSFS = 0x002b000000000033;  // cs 0x33, ss 0x2b, as Linux reports them
constexpr uint64_t FLAGS_USER =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x40000;  // CF PF AF ZF SF TF DF OF AC
constexpr uint64_t FLAG_IF = 0x200, FLAG_RESERVED = 0x2, FLAG_TF = 0x100, FLAG_DF = 0x400;

[[noreturn]] void force_segv();

// Sets up the frame of `signal`'s handler on the app's stack (or its sigaltstack) from `regs`,
// and changes `regs` so that the app continues in the handler, as Linux's setup_rt_frame.
// The mask saved in the frame is the one before the handler (sigsuspend's: the one before it).
void setup_frame(uint64_t* regs, int signal, const SignalAction& action, uint64_t mask_during) {
    sched::Thread& thread = sched::current();
    uintptr_t sp = regs[UR_RSP];
    bool was_on_altstack = on_altstack(thread, sp);
    if ((action.flags & SA_ONSTACK) && thread.altstack_size && !was_on_altstack)
        sp = thread.altstack_base + thread.altstack_size;
    else
        sp -= 128;  // the red zone
    size_t fpu_size = platform::user_fpu_size();
    uintptr_t fpstate = (sp - fpu_size) & ~uintptr_t(63);
    uintptr_t frame_at = ((fpstate - sizeof(RtSigframe)) & ~uintptr_t(15)) - 8;
    if (!thread.user_fpu_saved) {
        platform::save_user_fpu(thread.user_fpu);
        thread.user_fpu_saved = true;
    }
    RtSigframe frame{};
    frame.pretcode = (action.flags & SA_RESTORER) ? action.restorer : 0;
    frame.uc.flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (fpu_size > 512 ? UC_FP_XSTATE : 0);
    frame.uc.stack_sp = thread.altstack_base;
    frame.uc.stack_size = thread.altstack_size;
    frame.uc.stack_flags = was_on_altstack ? SS_ONSTACK : (thread.altstack_size ? 0 : SS_DISABLE);
    memcpy(frame.uc.gregs, regs, sizeof frame.uc.gregs);
    frame.uc.gregs[UR_CSGSFS] = CSGSFS;
    uint64_t saved_mask = thread.restore_signal_mask ? thread.saved_signal_mask : thread.signal_mask;
    frame.uc.gregs[UR_OLDMASK] = saved_mask;
    frame.uc.fpstate = fpstate;
    frame.uc.sigmask = saved_mask;
    frame.info.signo = signal;
    frame.info.code = thread.signal_info[signal].code;
    if (bit(signal) & (bit(SIGSEGV) | bit(SIGBUS) | bit(SIGFPE) | bit(SIGILL) | bit(SIGTRAP)) && frame.info.code > 0) {
        frame.info.address = thread.fault_address;
        frame.uc.gregs[UR_TRAPNO] = thread.fault_trapno;
        frame.uc.gregs[UR_ERR] = thread.fault_error;
        frame.uc.gregs[UR_CR2] = thread.fault_address;
    } else {
        frame.info.kill.pid = thread.signal_info[signal].pid;
    }
    if (!copy_to_user(UserPtr<void>(fpstate), thread.user_fpu, fpu_size) ||
        !copy_to_user(UserPtr<void>(frame_at), &frame, sizeof frame)) {
        klog("xos: thread %d: no room for the frame of signal %d at %#lx: SIGSEGV", thread.tid, signal, frame_at);
        force_segv();
    }
    regs[UR_RIP] = action.handler;
    regs[UR_RSP] = frame_at;
    regs[UR_RDI] = uint64_t(signal);
    regs[UR_RSI] = frame_at + offsetof(RtSigframe, info);
    regs[UR_RDX] = frame_at + offsetof(RtSigframe, uc);
    regs[UR_RAX] = 0;
    regs[UR_EFL] &= ~(FLAG_DF | FLAG_TF);
    regs[UR_ENTRY] = ENTRY_SYSCALL;
    platform::init_user_fpu(thread.user_fpu);  // the handler starts with the initial FPU state
    thread.signal_mask = mask_during;
    thread.restore_signal_mask = false;
}

// A frame could not be written, or rt_sigreturn found none: SIGSEGV with its default action,
// as Linux's force_sigsegv.
[[noreturn]] void force_segv() {
    actions()[SIGSEGV].handler = uintptr_t(SIG_DFL);
    terminate_by(SIGSEGV);
}

// Syscalls Linux restarts after a handler installed with SA_RESTART (-ERESTARTSYS there): the
// blocking ones that return EINTR here when a signal interrupts them.
bool restartable(long number) {
    switch (number) {
    case SYS_read:
    case SYS_write:
    case SYS_readv:
    case SYS_writev:
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_ioctl:
    case SYS_open:
    case SYS_openat:
    case SYS_wait4:
    case SYS_waitid:
    case SYS_accept:
    case SYS_accept4:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_flock:
    case SYS_fcntl:
    case SYS_futex:
    case SYS_sendfile: return true;
    default: return false;
    }
}

// Makes `regs` enter syscall `number` again on the way back to the app: at the `syscall`
// instruction if that is what it came from, else through xos_syscall_restart (a trampoline's or a
// function call's syscall), with the arguments still in their registers.
void restart_syscall(uint64_t* regs, long number) {
    uint8_t code[2] = {};
    bool instruction = regs[UR_ENTRY] == ENTRY_SYSCALL &&
        copy_from_user(code, UserPtr<const void>(regs[UR_RIP] - 2), 2) && code[0] == 0x0f && code[1] == 0x05;
    regs[UR_RAX] = uint64_t(number);
    if (instruction) {
        regs[UR_RIP] -= 2;
    } else {
        regs[UR_RCX] = regs[UR_RIP];
        regs[UR_R11] = regs[UR_EFL];
        regs[UR_RIP] = reinterpret_cast<uintptr_t>(&xos_syscall_restart);
    }
    regs[UR_ENTRY] = ENTRY_SYSCALL;
}

// Delivers every pending, unblocked signal the way Linux does on the way back to user space:
// the lowest-numbered one first; its handler's frame goes on the app's stack and `regs` now
// enters it; the next one's frame goes on top of that, so the handler picked last runs first.
// A signal whose default action terminates ends the process as soon as it is picked. With
// `regs` null (the termination path) only default actions are taken. `syscall`: the number
// of the syscall whose return this is, with its result in regs (or -1): an EINTR from a
// restartable one is restarted if nothing or a SA_RESTART handler interrupted it.
void deliver_pending(uint64_t* regs, long syscall) {
    sched::Thread& self = sched::current();
    uint64_t& pending = self.signal_pending;
    bool restart = syscall >= 0 && regs && long(regs[UR_RAX]) == -EINTR && restartable(syscall);
    bool restart_decided = false;
    uint64_t left_pending = 0;  // handlers the termination path cannot run
    while (uint64_t ready = pending & ~self.signal_mask & ~left_pending) {
        int signal = (ready & bit(SIGKILL)) ? SIGKILL : __builtin_ctzll(ready) + 1;
        SignalAction action = actions()[signal];
        bool has_handler = action.handler != uintptr_t(SIG_IGN) && action.handler != uintptr_t(SIG_DFL);
        if (has_handler && !regs) {
            left_pending |= bit(signal);
            continue;
        }
        pending &= ~bit(signal);
        if (action.handler == uintptr_t(SIG_IGN)) continue;
        if (action.handler == uintptr_t(SIG_DFL)) {
            if (ignored_by_default(signal)) continue;
            if (bit(signal) & STOP_SIGNALS) {
                stop_current_process(signal);
                continue;
            }
            terminate_by(signal);
        }
        if (restart && !restart_decided) {
            restart_decided = true;
            // musl's and glibc's cancellation signals (32, 33) must see EINTR: their blocked
            // syscall ends in the cancellation.
            if ((action.flags & SA_RESTART) && signal != 32 && signal != 33) restart_syscall(regs, syscall);
        }
        if (action.flags & SA_RESETHAND) actions()[signal].handler = uintptr_t(SIG_DFL);
        uint64_t mask = self.signal_mask | (action.mask & ~UNBLOCKABLE);
        if (!(action.flags & SA_NODEFER)) mask |= bit(signal);
        setup_frame(regs, signal, action, mask & ~UNBLOCKABLE);
    }
    if (restart && !restart_decided) restart_syscall(regs, syscall);  // no handler ran: as Linux
}

// True when the process would discard `signal` at once (ignored, and not one that must act).
bool discarded(sched::Process& process, int signal) {
    if (signal == SIGKILL || signal == SIGSTOP || signal == SIGCONT) return false;
    uintptr_t handler = process.actions[signal].handler;
    return handler == uintptr_t(SIG_IGN) || (handler == uintptr_t(SIG_DFL) && ignored_by_default(signal));
}

void post(sched::Thread& target, int signal, int code) {
    platform::InterruptGuard guard;
    if (!(target.signal_pending & bit(signal))) {
        sched::Thread* sender = sched::current_or_null();
        target.signal_info[signal] = {code, sender && sender->process ? sender->process->pid : 0};
    }
    target.signal_pending |= bit(signal);
    // Against a lock-free rt_sigprocmask of the target on another CPU (sys_rt_sigprocmask).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    bool unblocked = !(__atomic_load_n(&target.signal_mask, __ATOMIC_RELAXED) & bit(signal)) || signal == SIGKILL;
    if (&target != &sched::current() && target.state == sched::ThreadState::Blocked && target.interruptible &&
        unblocked)
        sched::wake(target, sched::WakeReason::Interrupted);
}

// SIGCONT and SIGKILL resume a stopped process; SIGCONT discards pending stop signals and a
// stop signal discards a pending SIGCONT, as on Linux.
void prepare(sched::Process& process, int signal) {
    if (signal == SIGCONT || signal == SIGKILL) {
        sched::for_each_thread_of(process, [](sched::Thread& t) { t.signal_pending &= ~STOP_SIGNALS; });
        if (process.stopped) {
            process.stopped = false;
            process.stop_to_report = false;
            process.continue_to_report = signal == SIGCONT;
            sched::wake_all(process.continued);
            if (process.parent) {
                if (signal == SIGCONT) send_signal_to_process(*process.parent, SIGCHLD);
                sched::wake_all(process.parent->child_event);
            }
        }
    } else if (bit(signal) & STOP_SIGNALS) {
        sched::for_each_thread_of(process, [](sched::Thread& t) { t.signal_pending &= ~bit(SIGCONT); });
    }
}

}  // namespace

bool reaps_children_automatically(sched::Process& process) {
    const SignalAction& action = process.actions[SIGCHLD];
    return action.handler == uintptr_t(SIG_IGN) || (action.flags & SA_NOCLDWAIT);
}

bool wants_stop_notification(sched::Process& process) {
    const SignalAction& action = process.actions[SIGCHLD];
    return !(action.flags & SA_NOCLDSTOP) && action.handler != uintptr_t(SIG_IGN) &&
        action.handler != uintptr_t(SIG_DFL);
}

void send_signal_to_thread(sched::Thread& thread, int signal, int code) {
    if (signal == 0 || !thread.process) return;
    prepare(*thread.process, signal);
    if (discarded(*thread.process, signal)) return;
    post(thread, signal, code);
}

void send_signal_to_process(sched::Process& process, int signal, int code) {
    if (signal == 0 || process.state != sched::ProcessState::Alive || process.live_threads == 0) return;
    prepare(process, signal);
    if (discarded(process, signal)) return;
    // The sender itself if it belongs to the process and takes it; else the first thread that
    // does not block it; else the first thread (it stays pending there).
    sched::Thread* target = nullptr;
    sched::Thread& self = sched::current();
    // Other threads' masks may change meanwhile (rt_sigprocmask without the big lock): a
    // thread chosen as it blocks the signal keeps it pending, as if it had come first.
    if (self.process == &process && !(self.signal_mask & bit(signal))) target = &self;
    sched::for_each_thread_of(process, [&](sched::Thread& t) {
        if (!target && !(__atomic_load_n(&t.signal_mask, __ATOMIC_RELAXED) & bit(signal))) target = &t;
    });
    if (!target)
        sched::for_each_thread_of(process, [&](sched::Thread& t) {
            if (!target) target = &t;
        });
    if (target) post(*target, signal, code);
}

void reset_signal_handlers_for_exec() {
    for (SignalAction& action : sched::current_process().actions) {
        if (action.handler != uintptr_t(SIG_IGN)) action.handler = uintptr_t(SIG_DFL);
        action.flags = 0, action.restorer = 0, action.mask = 0;
    }
    // The new program starts afresh (platform::enter_app), not through the syscall's return.
    sched::Thread& self = sched::current();
    self.user_regs = nullptr;
    self.user_fpu_saved = false;
    self.restore_signal_mask = false;
}

// Implements rt_sigaction(2).
ErrorOr<long> sys_rt_sigaction(int signal, UserPtr<const void> action, UserPtr<void> old_action, size_t sigset_size) {
    if (sigset_size != sizeof(uint64_t)) return error(EINVAL);
    if (!valid_signal(signal)) return error(EINVAL);
    SignalAction previous = actions()[signal];
    if (!action.is_null()) {
        if (signal == SIGKILL || signal == SIGSTOP) return error(EINVAL);
        SignalAction wanted;
        TRY(copy_from_user(&wanted, action, sizeof wanted));
        actions()[signal] = wanted;
        // Setting SIG_IGN discards what is pending (POSIX), e.g. SIGCHLD before SIG_IGN.
        if (discarded(sched::current_process(), signal))
            sched::for_each_thread_of(sched::current_process(),
                                      [&](sched::Thread& t) { t.signal_pending &= ~bit(signal); });
    }
    if (!old_action.is_null()) TRY(copy_to_user(old_action, &previous, sizeof previous));
    return 0;
}

// Implements rt_sigprocmask(2). Without the big lock (docs/locking.md "Cheap per-process
// syscalls"): the mask is the calling thread's, changed only by itself; other CPUs read it
// (a sender choosing a thread, post() deciding on a wake-up). The new mask is stored, then a
// full barrier, then the way out reads the pending signals (user_return_work); post() stores
// the pending bit, then a full barrier, then reads the mask: so either this thread sees the
// signal on its way out, or the sender sees it unblocked (and acts as for any thread running
// app code). Never both missed.
ErrorOr<long> sys_rt_sigprocmask(int how, UserPtr<const uint64_t> set, UserPtr<uint64_t> old_set, size_t sigset_size) {
    if (sigset_size != sizeof(uint64_t)) return error(EINVAL);
    uint64_t& blocked = sched::current().signal_mask;
    uint64_t previous = blocked;
    if (!set.is_null()) {
        uint64_t value = TRY(read_user(set));
        uint64_t next = previous;
        switch (how) {
        case SIG_BLOCK: next |= value; break;
        case SIG_UNBLOCK: next &= ~value; break;
        case SIG_SETMASK: next = value; break;
        default: return error(EINVAL);
        }
        __atomic_store_n(&blocked, next & ~UNBLOCKABLE, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    if (!old_set.is_null()) TRY(write_user(old_set, previous));
    return 0;  // newly unblocked signals are delivered on the way out
}

// Implements rt_sigpending(2).
ErrorOr<long> sys_rt_sigpending(UserPtr<uint64_t> set, size_t sigset_size) {
    if (sigset_size > sizeof(uint64_t)) return error(EINVAL);
    sched::Thread& self = sched::current();
    TRY(write_user(set, self.signal_pending & self.signal_mask));
    return 0;
}

// Implements rt_sigsuspend(2): waits with `mask` until a signal is delivered; its handler runs
// with `mask` in force, then the old mask comes back. Always EINTR.
ErrorOr<long> sys_rt_sigsuspend(UserPtr<const uint64_t> mask, size_t sigset_size) {
    if (sigset_size != sizeof(uint64_t)) return error(EINVAL);
    uint64_t wanted = TRY(read_user(mask)) & ~UNBLOCKABLE;
    sched::Thread& self = sched::current();
    self.saved_signal_mask = self.signal_mask;
    self.restore_signal_mask = true;  // back once the handler's frame holds it
    self.signal_mask = wanted;
    (void)sched::wait_event(g_signal_waiters, [] { return false; });
    return error(EINTR);
}

// Implements pause(2).
ErrorOr<long> sys_pause() {
    (void)sched::wait_event(g_signal_waiters, [] { return false; });
    return error(EINTR);
}

// Implements sigaltstack(2), per thread: handlers installed with SA_ONSTACK run on it.
ErrorOr<long> sys_sigaltstack(UserPtr<const void> stack, UserPtr<void> old_stack) {
    sched::Thread& thread = sched::current();
    bool on_it = on_altstack(thread, user_sp());
    stack_t previous{.ss_sp = reinterpret_cast<void*>(thread.altstack_base),
                     .ss_flags = on_it ? SS_ONSTACK : (thread.altstack_size ? 0 : SS_DISABLE),
                     .ss_size = thread.altstack_size};
    if (!stack.is_null()) {
        stack_t wanted;
        TRY(copy_from_user(&wanted, stack, sizeof wanted));
        if (on_it) return error(EPERM);
        if (wanted.ss_flags & ~(SS_DISABLE | SS_ONSTACK)) return error(EINVAL);
        if (wanted.ss_flags & SS_DISABLE) {
            thread.altstack_base = 0, thread.altstack_size = 0;
        } else {
            if (wanted.ss_size < MINSIGSTKSZ) return error(ENOMEM);
            thread.altstack_base = uintptr_t(wanted.ss_sp), thread.altstack_size = wanted.ss_size;
        }
    }
    if (!old_stack.is_null()) TRY(copy_to_user(old_stack, &previous, sizeof previous));
    return 0;
}

// Implements kill(2): a process (pid > 0), the caller's group (0), every process but PID 1 and
// the caller (-1), or the group -pid.
ErrorOr<long> sys_kill(pid_t pid, int signal) {
    if (signal < 0 || signal > MAX_SIGNAL) return error(EINVAL);
    sched::Process& self = sched::current_process();
    if (pid > 0) {
        sched::Process* target = sched::find_process(pid);
        if (!target) return error(ESRCH);
        send_signal_to_process(*target, signal);
        return 0;
    }
    if (pid == INT32_MIN) return error(ESRCH);
    int group = pid == 0 ? self.pgid : -pid;
    bool found = false;
    sched::for_each_process([&](sched::Process& p) {
        if (p.state == sched::ProcessState::Reaped) return;
        bool selected = pid == -1 ? (&p != &self && &p != sched::first_process()) : p.pgid == group;
        if (!selected) return;
        found = true;
        send_signal_to_process(p, signal);
    });
    if (!found) return error(ESRCH);
    return 0;
}

// Implements tkill(2).
ErrorOr<long> sys_tkill(pid_t tid, int signal) {
    if (tid <= 0) return error(EINVAL);
    if (!valid_signal(signal) && signal != 0) return error(EINVAL);
    sched::Thread* target = sched::find_thread(tid);
    if (!target) return error(ESRCH);
    send_signal_to_thread(*target, signal, SI_TKILL);
    return 0;
}

// Implements tgkill(2).
ErrorOr<long> sys_tgkill(pid_t tgid, pid_t tid, int signal) {
    if (tgid <= 0 || tid <= 0) return error(EINVAL);
    if (!valid_signal(signal) && signal != 0) return error(EINVAL);
    sched::Thread* target = sched::find_thread(tid);
    if (!target || !target->process || target->process->pid != tgid) return error(ESRCH);
    send_signal_to_thread(*target, signal, SI_TKILL);
    return 0;
}

void deliver_pending_signals() {
    sched::Thread& self = sched::current();
    if (!self.process) return;
    if (self.process->exiting && self.process->exec_survivor != &self) {
        sched::enter_kernel();
        end_current_thread(self.process->wait_status);
    }
    if (self.signal_pending & ~self.signal_mask) deliver_pending(nullptr, -1);
}

const uint8_t* return_to_user(uint64_t* regs, long syscall) {
    sched::Thread& self = sched::current();
    if (!user_return_work(self)) [[likely]] {
        self.user_regs = nullptr;
        return nullptr;  // nothing to do: the common case
    }
    if (self.process) {
        sched::enter_kernel();
        if (self.process->exiting && self.process->exec_survivor != &self)
            end_current_thread(self.process->wait_status);
        if (self.signal_pending & ~self.signal_mask) deliver_pending(regs, syscall);
        sched::leave_kernel();
    }
    if (self.restore_signal_mask) {  // no handler took the saved mask
        self.signal_mask = self.saved_signal_mask;
        self.restore_signal_mask = false;
    }
    self.user_regs = nullptr;
    if (!self.user_fpu_saved) return nullptr;
    self.user_fpu_saved = false;
    return self.user_fpu;
}

// Implements rt_sigreturn(2): the registers, flags, FPU state, signal mask and sigaltstack
// state the handler's frame holds (changed or not). The ucontext is at the app's %rsp (the
// handler's `ret` popped the restorer's address); a linked program's musl passes it as the
// first argument instead (tools/toolchain/musl/overlay/src/signal/x86_64/restore.s).
ErrorOr<long> sys_rt_sigreturn() {
    sched::Thread& self = sched::current();
    uint64_t* regs = self.user_regs;
    if (!regs) return error(EINVAL);
    uintptr_t at = regs[UR_ENTRY] == ENTRY_FUNCTION_CALL ? regs[UR_RDI] : regs[UR_RSP];  // a1 or %rsp
    KernelUcontext uc;
    if (!copy_from_user(&uc, UserPtr<const void>(at), sizeof uc)) {
        klog("xos: thread %d: rt_sigreturn without a signal frame at %#lx: SIGSEGV", self.tid, at);
        force_segv();
    }
    size_t fpu_size = platform::user_fpu_size();
    if (uc.fpstate) {
        if (!copy_from_user(self.user_fpu, UserPtr<const void>(uc.fpstate), fpu_size) &&
            !copy_from_user(self.user_fpu, UserPtr<const void>(uc.fpstate), 512)) {
            klog("xos: thread %d: rt_sigreturn: FPU state at %#lx unreadable: SIGSEGV", self.tid, uc.fpstate);
            force_segv();
        }
        platform::sanitize_user_fpu(self.user_fpu);
    } else {
        platform::init_user_fpu(self.user_fpu);
    }
    self.user_fpu_saved = true;
    uint64_t flags = regs[UR_EFL];
    for (int r = UR_R8; r <= UR_RIP; ++r) regs[r] = uc.gregs[r];
    regs[UR_EFL] = (flags & ~FLAGS_USER) | (uc.gregs[UR_EFL] & FLAGS_USER) | FLAG_IF | FLAG_RESERVED;
    regs[UR_ENTRY] = ENTRY_SYSCALL;
    self.signal_mask = uc.sigmask & ~UNBLOCKABLE;
    self.restore_signal_mask = false;
    // The sigaltstack as the frame says (Linux's restore_altstack), unless the app is still on
    // the current one.
    if (!on_altstack(self, regs[UR_RSP])) {
        if (uc.stack_flags & SS_DISABLE)
            self.altstack_base = 0, self.altstack_size = 0;
        else if (uc.stack_size >= MINSIGSTKSZ)
            self.altstack_base = uc.stack_sp, self.altstack_size = uc.stack_size;
    }
    return long(regs[UR_RAX]);
}

// A thread interrupted in app code with a signal to take starts here (sched::set_signal_entry),
// on its kernel stack: its registers are in `regs`, its FPU state in user_fpu.
[[noreturn]] void deliver_from_interrupt(uint64_t* regs) {
    sched::current().user_regs = regs;
    const uint8_t* fpu = return_to_user(regs, -1);
    platform::return_to_user(regs, fpu);
}

void install_signal_entry() { sched::set_signal_entry(deliver_from_interrupt); }

}  // namespace xos::sys

namespace xos::sched {

void* on_app_fault(const AppFault& fault) {
    Thread* self = current_or_null();
    if (!self || !self->process || self->kernel_thread || self->in_kernel) return nullptr;
    if (!in_app_code(*self)) return nullptr;
    int signal = fault.signal;
    // As Linux's force_sig_fault: a blocked or ignored fault signal takes its default action.
    SignalAction& action = self->process->actions[signal];
    bool forced_default = (self->signal_mask & sys::bit(signal)) || action.handler == uintptr_t(SIG_IGN);
    bool terminates = action.handler == uintptr_t(SIG_DFL) || forced_default;
    // PID 1's fault ends the image: the platform's crash report (registers, backtrace) says why.
    if (terminates && self->process == first_process()) return nullptr;
    if (!redirect_to_signal_entry(*self)) return nullptr;
    if (terminates)
        klog("xos: process %d (thread %d): %s at rip %#lx, address %#lx: terminated", self->process->pid, self->tid,
             sys::signal_name(signal), uintptr_t(user_frame(*self)[UR_RIP]), fault.address);
    if (forced_default) {
        action.handler = uintptr_t(SIG_DFL);
        self->signal_mask &= ~sys::bit(signal);
    }
    self->signal_pending |= sys::bit(signal);
    self->signal_info[signal] = {fault.code, 0};
    self->fault_address = fault.address;
    self->fault_trapno = fault.trapno;
    self->fault_error = fault.error;
    return self->cpu_context;
}

}  // namespace xos::sched
