// Signals. Actions are shared by all threads; each thread has its own mask and pending set.
// A signal is acted on when its thread is in libos: at the end of the syscall that sent it to
// itself (raise, abort, kill(getpid())), or, for a signal from another thread (pthread_kill,
// pthread_cancel), when the target's current or next syscall returns; a target blocked in an
// interruptible wait is woken and its syscall returns EINTR, which is how musl's thread
// cancellation works with function-call syscalls. Acting means running the handler, or the
// default action: ignore, or terminate the image with the status a shell reports (128 + signal).
// Not yet: interrupting a thread that runs app code without making syscalls.
#include <csignal>
#include <cstdio>
#include <cstring>

#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/handlers.h"
#include "sys/signal.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

constexpr int MAX_SIGNAL = 64;

// The kernel's struct sigaction layout (what musl passes to rt_sigaction).
struct KernelSigaction {
    uintptr_t handler;
    unsigned long flags;
    uintptr_t restorer;
    uint64_t mask;
};

KernelSigaction g_actions[MAX_SIGNAL + 1];

constexpr uint64_t bit(int signal) { return 1ull << (signal - 1); }
constexpr uint64_t UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP);

bool valid_signal(int signal) { return signal >= 1 && signal <= MAX_SIGNAL; }

bool ignored_by_default(int signal) {
    return signal == SIGCHLD || signal == SIGCONT || signal == SIGURG || signal == SIGWINCH;
}

const char* signal_name(int signal) {
    static const char* const names[] = {
        "0",         "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
        "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
        "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
        "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS"};
    return signal < int(sizeof names / sizeof names[0]) ? names[signal] : "real-time signal";
}

[[noreturn]] void terminate_by(int signal) {
    char reason[64];
    snprintf(reason, sizeof reason, "terminated by signal %d (%s)", signal, signal_name(signal));
    platform::shutdown(platform::ExitKind::Crash, 128 + signal, reason);
}

bool on_altstack(const sched::Thread& thread, uintptr_t sp) {
    return thread.altstack_size && sp - thread.altstack_base < thread.altstack_size;
}

uintptr_t current_sp() { return uintptr_t(__builtin_frame_address(0)); }

// Calls handler(signal, info, context) with %rsp at `stack_top` (16-byte aligned), then comes
// back to this stack: a handler installed with SA_ONSTACK runs on the thread's sigaltstack, as
// Go's requires (it checks that it runs on its signal stack and waits forever otherwise).
void call_on_stack(uintptr_t stack_top, uintptr_t handler, long signal, void* info, void* context) {
    register long rdi asm("rdi") = signal;
    register void* rsi asm("rsi") = info;
    register void* rdx asm("rdx") = context;
    asm volatile("mov %%rsp, %%rbx\n\t"
                 "mov %[top], %%rsp\n\t"
                 "call *%[handler]\n\t"
                 "mov %%rbx, %%rsp"
                 : "+r"(rdi), "+r"(rsi), "+r"(rdx)
                 : [top] "r"(stack_top & ~uintptr_t(15)), [handler] "r"(handler)
                 : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
                   "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory",
                   "cc");
}

// Runs one handler with the mask Linux would set for it, on the sigaltstack for SA_ONSTACK
// when the thread has one and is not on it already. Afterwards the mask is what the handler
// left in its ucontext (as rt_sigreturn restores it; musl's cancellation handler relies on that).
void run_handler(int signal, const KernelSigaction& action, uint64_t mask_during) {
    sched::Thread& thread = sched::current();
    uint64_t& blocked = thread.signal_mask;
    uint64_t saved_mask = blocked;
    blocked = mask_during;
    siginfo_t info{};
    info.si_signo = signal;
    info.si_code = SI_TKILL;
    info.si_pid = 1;
    ucontext_t context{};
    memcpy(&context.uc_sigmask, &saved_mask, sizeof saved_mask);
    bool alternate = (action.flags & SA_ONSTACK) && thread.altstack_size && !on_altstack(thread, current_sp());
    if (alternate) {
        context.uc_stack = {reinterpret_cast<void*>(thread.altstack_base), SS_ONSTACK, thread.altstack_size};
        call_on_stack(thread.altstack_base + thread.altstack_size, action.handler, signal, &info, &context);
    } else if (action.flags & SA_SIGINFO) {
        reinterpret_cast<void (*)(int, siginfo_t*, void*)>(action.handler)(signal, &info, &context);
    } else {
        reinterpret_cast<void (*)(int)>(action.handler)(signal);
    }
    if (action.flags & SA_SIGINFO) memcpy(&saved_mask, &context.uc_sigmask, sizeof saved_mask);
    blocked = saved_mask & ~UNBLOCKABLE;
}

// Delivers every pending, unblocked signal the way Linux does on the way back to user space:
// it picks the lowest-numbered one, blocks what its handler's mask says and sets up its frame,
// then picks the next on top of it, so the handler picked last runs first. A signal whose
// default action terminates ends the image as soon as it is picked.
void deliver_pending() {
    uint64_t& pending = sched::current().signal_pending;
    uint64_t& blocked = sched::current().signal_mask;
    struct Frame {
        int signal;
        KernelSigaction action;
        uint64_t mask_during;
    };
    Frame frames[MAX_SIGNAL];
    int count = 0;
    uint64_t mask = blocked;
    while (uint64_t ready = pending & ~mask) {
        int signal = __builtin_ctzll(ready) + 1;
        pending &= ~bit(signal);
        KernelSigaction action = g_actions[signal];
        if (action.handler == uintptr_t(SIG_IGN)) continue;
        if (action.handler == uintptr_t(SIG_DFL)) {
            if (ignored_by_default(signal)) continue;
            terminate_by(signal);  // SIGSTOP/SIGTSTP would stop; nobody could continue us
        }
        if (action.flags & SA_RESETHAND) g_actions[signal].handler = uintptr_t(SIG_DFL);
        mask |= action.mask & ~UNBLOCKABLE;
        if (!(action.flags & SA_NODEFER)) mask |= bit(signal);
        frames[count++] = {signal, action, mask};
    }
    while (count > 0) {
        const Frame& frame = frames[--count];
        run_handler(frame.signal, frame.action, frame.mask_during);
        // A handler may have raised or unblocked more signals: they go on top, as on Linux.
        if (pending & ~blocked) deliver_pending();
    }
}

ErrorOr<long> send_to_thread(sched::Thread& target, int signal) {
    if (signal == 0) return 0;  // existence check
    if (!valid_signal(signal)) return error(EINVAL);
    if (signal == SIGKILL) terminate_by(SIGKILL);
    platform::InterruptGuard guard;
    target.signal_pending |= bit(signal);
    if (&target != &sched::current() && target.state == sched::ThreadState::Blocked && target.interruptible &&
        !(target.signal_mask & bit(signal)))
        sched::wake(target, sched::WakeReason::Interrupted);
    // For the sender itself, the dispatcher delivers it on the way out of this syscall.
    return 0;
}

}  // namespace

void reset_signal_handlers_for_exec() {
    for (KernelSigaction& action : g_actions) {
        if (action.handler != uintptr_t(SIG_IGN)) action.handler = uintptr_t(SIG_DFL);
        action.flags = 0, action.restorer = 0, action.mask = 0;
    }
}

// Implements rt_sigaction(2).
ErrorOr<long> sys_rt_sigaction(int signal, UserPtr<const void> action, UserPtr<void> old_action, size_t sigset_size) {
    if (sigset_size != sizeof(uint64_t)) return error(EINVAL);
    if (!valid_signal(signal)) return error(EINVAL);
    KernelSigaction previous = g_actions[signal];
    if (!action.is_null()) {
        if (signal == SIGKILL || signal == SIGSTOP) return error(EINVAL);
        KernelSigaction wanted;
        TRY(copy_from_user(&wanted, action, sizeof wanted));
        g_actions[signal] = wanted;
    }
    if (!old_action.is_null()) TRY(copy_to_user(old_action, &previous, sizeof previous));
    return 0;
}

// Implements rt_sigprocmask(2).
ErrorOr<long> sys_rt_sigprocmask(int how, UserPtr<const uint64_t> set, UserPtr<uint64_t> old_set, size_t sigset_size) {
    if (sigset_size != sizeof(uint64_t)) return error(EINVAL);
    uint64_t& blocked = sched::current().signal_mask;
    uint64_t previous = blocked;
    if (!set.is_null()) {
        uint64_t value = TRY(read_user(set));
        switch (how) {
        case SIG_BLOCK: blocked |= value; break;
        case SIG_UNBLOCK: blocked &= ~value; break;
        case SIG_SETMASK: blocked = value; break;
        default: return error(EINVAL);
        }
        blocked &= ~UNBLOCKABLE;
    }
    if (!old_set.is_null()) TRY(write_user(old_set, previous));
    return 0;  // newly unblocked signals are delivered on the way out
}

// Implements sigaltstack(2), per thread: handlers installed with SA_ONSTACK run on it.
ErrorOr<long> sys_sigaltstack(UserPtr<const void> stack, UserPtr<void> old_stack) {
    sched::Thread& thread = sched::current();
    bool on_it = on_altstack(thread, current_sp());
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

// Implements kill(2): only the image itself exists; the calling thread takes the signal.
ErrorOr<long> sys_kill(pid_t pid, int signal) {
    if (pid != 1 && pid != 0 && pid != -1) return error(ESRCH);
    return send_to_thread(sched::current(), signal);
}

// Implements tkill(2).
ErrorOr<long> sys_tkill(pid_t tid, int signal) {
    if (tid <= 0) return error(EINVAL);
    sched::Thread* target = sched::find_thread(tid);
    if (!target) return error(ESRCH);
    return send_to_thread(*target, signal);
}

// Implements tgkill(2).
ErrorOr<long> sys_tgkill(pid_t tgid, pid_t tid, int signal) {
    if (tgid <= 0 || tid <= 0) return error(EINVAL);
    sched::Thread* target = sched::find_thread(tid);
    if (tgid != 1 || !target) return error(ESRCH);
    return send_to_thread(*target, signal);
}

void deliver_pending_signals() {
    if (sched::current().signal_pending & ~sched::current().signal_mask) deliver_pending();
}

}  // namespace xos::sys
