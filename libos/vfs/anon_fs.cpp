#include "vfs/anon_fs.h"

#include "base/no_destroy.h"
#include "mm/heap.h"

namespace xos::vfs {

ErrorOr<RefPtr<Vnode>> AnonFs::create_node(mode_t mode) {
    Vnode* vnode = mm::kcreate<Vnode>(*this, allocate_ino(), mode);
    if (!vnode) return error(ENOMEM);
    return RefPtr<Vnode>(vnode);
}

namespace {
constinit NoDestroy<AnonFs> g_anon_fs;
}

AnonFs& anon_fs() { return g_anon_fs.get(); }

}  // namespace xos::vfs
