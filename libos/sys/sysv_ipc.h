// SysV IPC (ipc.cpp) as the rest of libos needs it.
#pragma once

namespace xos::sched {
struct Process;
}

namespace xos::sys {

// A process ends: its SEM_UNDO adjustments are applied (shared memory detaches with its
// address space).
void ipc_process_exited(sched::Process& process);

}  // namespace xos::sys
