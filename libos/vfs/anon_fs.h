// The pseudo file system behind files that have no path: pipes, eventfds (what Linux calls
// pipefs and anon_inodefs). Its vnodes exist only for fstat and /proc/self/fd.
#pragma once

#include "vfs/vnode.h"

namespace xos::vfs {

class AnonFs final : public Filesystem {
public:
    AnonFs() : Filesystem("anon_inodefs", 0x09041934) {}
    RefPtr<Vnode> root() override { return nullptr; }
    ErrorOr<RefPtr<Vnode>> create_node(mode_t mode);
};

AnonFs& anon_fs();

}  // namespace xos::vfs
