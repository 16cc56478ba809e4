// Signals between threads and processes, and the process exit path they share with exit(2).
#pragma once

#include "sched/process.h"
#include "sched/thread.h"

namespace xos::sys {

// The way back to app code from libos (a syscall, or an interrupt or fault in app code, the
// same function for every kind of entry): a thread whose process is exiting ends here; the
// pending, unblocked signals are acted on: default actions taken, handlers' frames set up on the
// app's stack with `regs` (the app's registers, xos/libos.h) changed to enter them. `syscall`
// is the number of the syscall returning (its result in regs), or -1: an EINTR it returned is
// restarted when SA_RESTART says so. Returns the FPU state the return path must load (null: the
// live state is the app's).
const uint8_t* return_to_user(uint64_t* regs, long syscall);
// Whether return_to_user has anything to do for `self` (a deliverable signal, a saved mask or
// FPU state to restore, its process exiting); false: the way back may skip it and keep every
// register but the result (the syscall entry's fast return).
inline bool user_return_work(const sched::Thread& self) {
    return (self.signal_pending & ~self.signal_mask) || self.restore_signal_mask || self.user_fpu_saved ||
        (self.process && self.process->exiting);
}
// Takes only the default actions of the pending signals (the termination path, which has no
// app registers to enter a handler with). A thread whose process is exiting ends here.
void deliver_pending_signals();
// Makes the scheduler start threads interrupted in app code with a signal to take in
// return_to_user (sched::set_signal_entry). Called once at boot.
void install_signal_entry();

// execve: caught signals go back to their default action (ignored ones stay ignored).
void reset_signal_handlers_for_exec();

// Sends `signal` (1..64) to a process / a thread, as kill(2) and tgkill(2) do (0: nothing).
// `code` is the siginfo's si_code (SI_USER; SI_TKILL for tkill/tgkill).
void send_signal_to_process(sched::Process& process, int signal, int code = 0);
void send_signal_to_thread(sched::Thread& thread, int signal, int code = 0);

// True if `process` discards SIGCHLD (SIG_IGN or SA_NOCLDWAIT): its children are not zombies.
bool reaps_children_automatically(sched::Process& process);
// True if the parent wants SIGCHLD when a child stops (no SA_NOCLDSTOP).
bool wants_stop_notification(sched::Process& process);

// Ends the calling thread. When it is its process's last, the process exits with
// `wait_status` (Linux's encoding: code << 8, or the signal number), unless an exit already
// chose the status. PID 1's exit ends the image. Never returns.
[[noreturn]] void end_current_thread(int wait_status);
// exit_group(2) and fatal signals: every thread of the current process ends.
[[noreturn]] void exit_current_process(int wait_status);

// exec's point of no return (called by exec::execute): the old memory is destroyed, a vfork
// parent continues, caught signals go back to SIG_DFL.
void finish_exec();

// clone(2), fork(2), vfork(2) through the syscall ABI (they return twice): `frame` holds the
// caller's registers, upward r15 r14 r13 r12 rbp rbx r9 r8 r10 rdx rsi rdi rflags rip, and
// `caller_stack` its %rsp; the child resumes from them (platform::resume_cloned_thread).
ErrorOr<long> clone_from_syscall(const uint64_t* frame, long number, uintptr_t caller_stack);

// The CPU time of `process`'s threads, the freed ones included (process.cpp).
uint64_t cpu_time_of(sched::Process& process);

// A child of the current process is released from a vfork wait (it exec'd or exited).
void release_vfork_parent(sched::Process& child);
// `process` is ending or exec'ing: its threads waiting for vfork children stop waiting (the
// children run on: detach_vfork_child in sys/thread.cpp).
void release_vfork_waiters(sched::Process& process);

// pidfds (sys/pidfd.cpp): the process a pidfd names (EBADF for another descriptor), for
// waitid(P_PIDFD); and the wake-up of pidfd pollers when `process` exits.
struct PidfdTarget {
    int pid;
    bool nonblocking;
};
ErrorOr<PidfdTarget> pidfd_target(int fd);
void notify_pidfds(sched::Process& process);

}  // namespace xos::sys
