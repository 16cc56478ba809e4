// The file-system state of the image (it is one process): descriptor table, root, working
// directory and umask.
#pragma once

#include <sys/types.h>

#include "base/ref_ptr.h"
#include "vfs/fd_table.h"
#include "vfs/path_walk.h"
#include "vfs/vnode.h"

namespace xos::vfs {

struct Process {
    FdTable fds;
    RefPtr<Vnode> root;
    RefPtr<Vnode> cwd;
    mode_t umask = 022;

    WalkContext context(Vnode* start = nullptr) const { return {root.get(), start ? start : cwd.get()}; }
};

Process& process();

}  // namespace xos::vfs
