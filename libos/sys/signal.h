// Signal delivery hook for the dispatcher.
#pragma once

namespace xos::sys {

// Runs the handlers (or default actions) of the current thread's pending, unblocked signals.
// Called on the way out of every syscall.
void deliver_pending_signals();

}  // namespace xos::sys
