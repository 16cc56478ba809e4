// The file-system state of a process: descriptor table, root, working directory and umask.
// Each process has its own (sched/process.h); fork copies it, the copies sharing the open file
// descriptions (offsets, status flags) as on Linux.
#pragma once

#include <sys/types.h>

#include "base/ref_ptr.h"
#include "base/spinlock.h"
#include "vfs/fd_table.h"
#include "vfs/path_walk.h"
#include "vfs/vnode.h"

namespace xos::vfs {

struct Process {
    FdTable fds;
    // Changed under the big lock and paths_lock (chdir, fchdir, chroot: set_directory); read
    // under either (the lock-free path syscalls copy them under paths_lock: sys/file_helpers.cpp).
    RefPtr<Vnode> root;
    RefPtr<Vnode> cwd;
    SpinLock paths_lock;
    mode_t umask = 022;  // exchanged atomically by umask(2) without the big lock: read with umask()

    // Replaces `slot` (cwd or root) under paths_lock; the old directory is let go after it.
    void set_directory(RefPtr<Vnode>& slot, RefPtr<Vnode> directory) {
        {
            SpinLockGuard guard(paths_lock);
            RefPtr<Vnode> swap = slot;
            slot = directory;
            directory = swap;
        }
    }

    WalkContext context(Vnode* start = nullptr) const { return {root.get(), start ? start : cwd.get()}; }
};

// The current process's state (the boot program's before the scheduler starts).
Process& process();
// The calling process's umask (an atomic load: umask(2) changes it without the big lock).
inline mode_t umask() { return __atomic_load_n(&process().umask, __ATOMIC_RELAXED); }
// How process() finds the current one (set by the scheduler, sched/process.cpp; null: the boot
// program's). Keeps this file free of the scheduler for the host unit tests.
void set_current_process_resolver(Process* (*resolver)());
// The boot program's (PID 1's until it execs; it keeps it).
Process& boot_process();

// fork: a new state with the same descriptors (sharing their open file descriptions), root,
// cwd and umask. EAGAIN without memory.
ErrorOr<Process*> copy_process(const Process& from);
// Closes every descriptor and drops the root and cwd (exit), then frees it unless it is the
// boot program's.
void release_process(Process* state);

}  // namespace xos::vfs
