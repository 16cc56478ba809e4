// Signals, for a one-thread image: actions and the mask are recorded; a signal the image sends
// to itself (raise, abort, kill(getpid())) is acted on synchronously, as Linux would on return
// from the syscall: the handler runs, or the default action terminates the image with the
// status a shell reports (128 + signal). Blocked signals stay pending until unblocked.
// Asynchronous sources (timers, faults as signals, other threads) come with the scheduler.
#include <csignal>
#include <cstdio>
#include <cstring>

#include "sys/handlers.h"
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
uint64_t g_blocked;
uint64_t g_pending;

constexpr uint64_t bit(int signal) { return 1ull << (signal - 1); }
constexpr uint64_t UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP);

bool valid_signal(int signal) { return signal >= 1 && signal <= MAX_SIGNAL; }

bool ignored_by_default(int signal) {
    return signal == SIGCHLD || signal == SIGCONT || signal == SIGURG || signal == SIGWINCH;
}

const char* signal_name(int signal) {
    static const char* const names[] = {
        "0",      "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",    "SIGTRAP", "SIGABRT", "SIGBUS",
        "SIGFPE", "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",   "SIGPIPE", "SIGALRM", "SIGTERM",
        "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG",
        "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"};
    return signal < int(sizeof names / sizeof names[0]) ? names[signal] : "real-time signal";
}

[[noreturn]] void terminate_by(int signal) {
    char reason[64];
    snprintf(reason, sizeof reason, "terminated by signal %d (%s)", signal, signal_name(signal));
    platform::shutdown(platform::ExitKind::Crash, 128 + signal, reason);
}

// Runs one handler with the mask Linux would set for it, restoring the mask afterwards (as
// rt_sigreturn would).
void run_handler(int signal, const KernelSigaction& action, uint64_t mask_during) {
    uint64_t saved_mask = g_blocked;
    g_blocked = mask_during;
    if (action.flags & SA_SIGINFO) {
        siginfo_t info{};
        info.si_signo = signal;
        info.si_code = SI_TKILL;
        info.si_pid = 1;
        ucontext_t context{};
        reinterpret_cast<void (*)(int, siginfo_t*, void*)>(action.handler)(signal, &info, &context);
    } else {
        reinterpret_cast<void (*)(int)>(action.handler)(signal);
    }
    g_blocked = saved_mask;
}

// Delivers every pending, unblocked signal the way Linux does on the way back to user space:
// it picks the lowest-numbered one, blocks what its handler's mask says and sets up its frame,
// then picks the next on top of it, so the handler picked last runs first. A signal whose
// default action terminates ends the image as soon as it is picked.
void deliver_pending() {
    struct Frame {
        int signal;
        KernelSigaction action;
        uint64_t mask_during;
    };
    Frame frames[MAX_SIGNAL];
    int count = 0;
    uint64_t mask = g_blocked;
    while (uint64_t ready = g_pending & ~mask) {
        int signal = __builtin_ctzll(ready) + 1;
        g_pending &= ~bit(signal);
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
        if (g_pending & ~g_blocked) deliver_pending();
    }
}

ErrorOr<long> send_to_self(int signal) {
    if (signal == 0) return 0;  // existence check
    if (!valid_signal(signal)) return error(EINVAL);
    if (signal == SIGKILL) terminate_by(SIGKILL);
    g_pending |= bit(signal);
    deliver_pending();
    return 0;
}

}  // namespace

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
    uint64_t previous = g_blocked;
    if (!set.is_null()) {
        uint64_t value = TRY(read_user(set));
        switch (how) {
        case SIG_BLOCK: g_blocked |= value; break;
        case SIG_UNBLOCK: g_blocked &= ~value; break;
        case SIG_SETMASK: g_blocked = value; break;
        default: return error(EINVAL);
        }
        g_blocked &= ~UNBLOCKABLE;
    }
    if (!old_set.is_null()) TRY(write_user(old_set, previous));
    deliver_pending();
    return 0;
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

// Implements kill(2): only the image itself exists.
ErrorOr<long> sys_kill(pid_t pid, int signal) {
    if (pid != 1 && pid != 0 && pid != -1) return error(ESRCH);
    return send_to_self(signal);
}

// Implements tkill(2).
ErrorOr<long> sys_tkill(pid_t tid, int signal) {
    if (tid != 1) return error(tid <= 0 ? EINVAL : ESRCH);
    return send_to_self(signal);
}

// Implements tgkill(2).
ErrorOr<long> sys_tgkill(pid_t tgid, pid_t tid, int signal) {
    if (tgid <= 0 || tid <= 0) return error(EINVAL);
    if (tgid != 1 || tid != 1) return error(ESRCH);
    return send_to_self(signal);
}

}  // namespace xos::sys
