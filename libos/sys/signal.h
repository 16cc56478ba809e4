// Signal delivery hook for the dispatcher.
#pragma once

namespace xos::sys {

// Runs the handlers (or default actions) of the current thread's pending, unblocked signals.
// Called on the way out of every syscall.
void deliver_pending_signals();

// execve: caught signals go back to their default action (ignored ones stay ignored).
void reset_signal_handlers_for_exec();

}  // namespace xos::sys
