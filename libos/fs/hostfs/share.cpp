// Mounts the platform's host directory shares (hosted: xos-run --share, XOS_SHARE*) at boot,
// where the VM's 9p shares are mounted (fs/boot.cpp). Kernel-only.
#include "base/klog.h"
#include "fs/hostfs/hostfs.h"
#include "mm/heap.h"
#include "vfs/mount.h"
#include "vfs/operations.h"
#include "vfs/process.h"
#include "xos/hostfs.h"

namespace xos::hostfs {

namespace {

ErrorOr<void> mount_share(const platform::hostfs::Share& share) {
    struct statfs host{};
    if (long r = platform::hostfs::statfs(share.root, &host); r < 0) return error(int(-r));
    auto* fs = mm::kcreate<HostFs>(uint64_t(host.f_type), share.mode, share.read_only);
    if (!fs) return error(ENOMEM);
    TRY(fs->initialize(share.root));
    auto start = vfs::process().context();
    TRY(vfs::make_directories(start, share.guest_path));
    RefPtr<vfs::Vnode> on = TRY(vfs::resolve(start, share.guest_path, vfs::Follow::Yes));
    TRY(vfs::mount(*fs, on, share.guest_path));
    return {};
}

}  // namespace

void mount_host_shares() {
    for (size_t i = 0; i < platform::hostfs::share_count(); ++i) {
        platform::hostfs::Share share = platform::hostfs::share(i);
        if (auto mounted = mount_share(share); !mounted)
            panic("cannot mount the host share on %s: errno %d", share.guest_path, mounted.error().code);
    }
}

}  // namespace xos::hostfs
