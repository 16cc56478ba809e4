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

// Runs one handler with the mask Linux would set for it. Afterwards the mask is what the
// handler left in its ucontext (as rt_sigreturn restores it; musl's cancellation handler
// relies on that).
void run_handler(int signal, const KernelSigaction& action, uint64_t mask_during) {
    uint64_t& blocked = sched::current().signal_mask;
    uint64_t saved_mask = blocked;
    blocked = mask_during;
    if (action.flags & SA_SIGINFO) {
        siginfo_t info{};
        info.si_signo = signal;
        info.si_code = SI_TKILL;
        info.si_pid = 1;
        ucontext_t context{};
        memcpy(&context.uc_sigmask, &saved_mask, sizeof saved_mask);
        reinterpret_cast<void (*)(int, siginfo_t*, void*)>(action.handler)(signal, &info, &context);
        memcpy(&saved_mask, &context.uc_sigmask, sizeof saved_mask);
    } else {
        reinterpret_cast<void (*)(int)>(action.handler)(signal);
    }
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

// Implements sigaltstack(2): recorded, used once asynchronous signals exist.
ErrorOr<long> sys_sigaltstack(UserPtr<const void> stack, UserPtr<void> old_stack) {
    static stack_t current{.ss_sp = nullptr, .ss_flags = SS_DISABLE, .ss_size = 0};
    stack_t previous = current;
    if (!stack.is_null()) {
        stack_t wanted;
        TRY(copy_from_user(&wanted, stack, sizeof wanted));
        if (wanted.ss_flags & ~SS_DISABLE) return error(EINVAL);
        if (!(wanted.ss_flags & SS_DISABLE) && wanted.ss_size < MINSIGSTKSZ) return error(ENOMEM);
        current = wanted;
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
