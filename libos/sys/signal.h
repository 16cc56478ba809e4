// Signals between threads and processes, and the process exit path they share with exit(2).
#pragma once

#include "sched/process.h"

namespace xos::sys {

// Runs the handlers (or default actions) of the current thread's pending, unblocked signals.
// Called on the way out of every syscall. A thread whose process is exiting ends here.
void deliver_pending_signals();

// execve: caught signals go back to their default action (ignored ones stay ignored).
void reset_signal_handlers_for_exec();

// Sends `signal` (1..64) to a process / a thread, as kill(2) and tgkill(2) do (0: nothing).
void send_signal_to_process(sched::Process& process, int signal);
void send_signal_to_thread(sched::Thread& thread, int signal);

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

// A child of the current process is released from a vfork wait (it exec'd or exited).
void release_vfork_parent(sched::Process& child);

}  // namespace xos::sys
