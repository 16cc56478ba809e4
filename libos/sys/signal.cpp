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

#include <csignal>
#include <cstdio>
#include <cstring>

#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/handlers.h"
#include "xos/platform.h"

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
void run_handler(int signal, const SignalAction& action, uint64_t mask_during) {
    sched::Thread& thread = sched::current();
    uint64_t& blocked = thread.signal_mask;
    uint64_t saved_mask = blocked;
    blocked = mask_during;
    siginfo_t info{};
    info.si_signo = signal;
    info.si_code = SI_USER;
    info.si_pid = sched::current_process().pid;
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
// default action terminates ends the process as soon as it is picked.
void deliver_pending() {
    uint64_t& pending = sched::current().signal_pending;
    uint64_t& blocked = sched::current().signal_mask;
    struct Frame {
        int signal;
        SignalAction action;
        uint64_t mask_during;
    };
    Frame frames[MAX_SIGNAL];
    int count = 0;
    uint64_t mask = blocked;
    while (uint64_t ready = pending & ~mask) {
        int signal = (ready & bit(SIGKILL)) ? SIGKILL : __builtin_ctzll(ready) + 1;
        pending &= ~bit(signal);
        SignalAction action = actions()[signal];
        if (action.handler == uintptr_t(SIG_IGN)) continue;
        if (action.handler == uintptr_t(SIG_DFL)) {
            if (ignored_by_default(signal)) continue;
            if (bit(signal) & STOP_SIGNALS) {
                stop_current_process(signal);
                continue;
            }
            terminate_by(signal);
        }
        if (action.flags & SA_RESETHAND) actions()[signal].handler = uintptr_t(SIG_DFL);
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

// True when the process would discard `signal` at once (ignored, and not one that must act).
bool discarded(sched::Process& process, int signal) {
    if (signal == SIGKILL || signal == SIGSTOP || signal == SIGCONT) return false;
    uintptr_t handler = process.actions[signal].handler;
    return handler == uintptr_t(SIG_IGN) || (handler == uintptr_t(SIG_DFL) && ignored_by_default(signal));
}

void post(sched::Thread& target, int signal) {
    platform::InterruptGuard guard;
    target.signal_pending |= bit(signal);
    bool unblocked = !(target.signal_mask & bit(signal)) || signal == SIGKILL;
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

void send_signal_to_thread(sched::Thread& thread, int signal) {
    if (signal == 0 || !thread.process) return;
    prepare(*thread.process, signal);
    if (discarded(*thread.process, signal)) return;
    post(thread, signal);
}

void send_signal_to_process(sched::Process& process, int signal) {
    if (signal == 0 || process.state != sched::ProcessState::Alive || process.live_threads == 0) return;
    prepare(process, signal);
    if (discarded(process, signal)) return;
    // The sender itself if it belongs to the process and takes it; else the first thread that
    // does not block it; else the first thread (it stays pending there).
    sched::Thread* target = nullptr;
    sched::Thread& self = sched::current();
    if (self.process == &process && !(self.signal_mask & bit(signal))) target = &self;
    sched::for_each_thread_of(process, [&](sched::Thread& t) {
        if (!target && !(t.signal_mask & bit(signal))) target = &t;
    });
    if (!target)
        sched::for_each_thread_of(process, [&](sched::Thread& t) {
            if (!target) target = &t;
        });
    if (target) post(*target, signal);
}

void reset_signal_handlers_for_exec() {
    for (SignalAction& action : sched::current_process().actions) {
        if (action.handler != uintptr_t(SIG_IGN)) action.handler = uintptr_t(SIG_DFL);
        action.flags = 0, action.restorer = 0, action.mask = 0;
    }
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
    uint64_t saved = self.signal_mask;
    self.signal_mask = wanted;
    (void)sched::wait_event(g_signal_waiters, [] { return false; });
    deliver_pending();
    self.signal_mask = saved;
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
    send_signal_to_thread(*target, signal);
    return 0;
}

// Implements tgkill(2).
ErrorOr<long> sys_tgkill(pid_t tgid, pid_t tid, int signal) {
    if (tgid <= 0 || tid <= 0) return error(EINVAL);
    if (!valid_signal(signal) && signal != 0) return error(EINVAL);
    sched::Thread* target = sched::find_thread(tid);
    if (!target || !target->process || target->process->pid != tgid) return error(ESRCH);
    send_signal_to_thread(*target, signal);
    return 0;
}

void deliver_pending_signals() {
    sched::Thread& self = sched::current();
    if (!self.process) return;
    if (self.process->exiting && self.process->exec_survivor != &self) {
        sched::enter_kernel();
        end_current_thread(self.process->wait_status);
    }
    if (self.signal_pending & ~self.signal_mask) deliver_pending();
}

}  // namespace xos::sys
