#include "fs/boot.h"

#include <cstring>

#include "base/klog.h"
#include "base/no_destroy.h"
#include "boot/command_line.h"
#include "fs/9p/share.h"
#include "fs/devfs/block_devices.h"
#include "fs/devfs/devfs.h"
#include "fs/hostfs/hostfs.h"
#include "fs/initrd/initrd.h"
#include "fs/procfs/procfs.h"
#include "fs/ramfs/ramfs.h"
#include "mm/memory.h"
#include "vfs/mount.h"
#include "vfs/operations.h"
#include "vfs/process.h"

// The rootfs archive xos-build links into the image (section .xos.rootfs); absent without --rootfs.
extern "C" {
[[gnu::weak]] extern const char xos_rootfs_start[];
[[gnu::weak]] extern const char xos_rootfs_end[];
}

namespace xos::fs {

namespace {

constinit NoDestroy<RamFs> g_rootfs;

size_t free_memory_pages() { return mm::address_space().free_bytes() / 4096; }

void check(ErrorOr<void> result, const char* what) {
    if (!result) panic("file systems: %s: errno %d", what, result.error().code);  // no strerror before TLS
}

ErrorOr<void> open_console_fd(int fd, const char* path, int flags) {
    vfs::Process& process = vfs::process();
    RefPtr<vfs::File> file = TRY(vfs::open(process.context(), path, flags, 0));
    return process.fds.install(fd, file, false);
}

}  // namespace

void init_filesystems(const char* const* argv, size_t argc) {
    RamFs& root = g_rootfs.get();
    RamFs::free_pages_hook = &free_memory_pages;
    check(root.initialize(0755), "root ramfs");
    vfs::mount_root(root);
    vfs::Process& process = vfs::process();
    auto context = process.context();

    if (&xos_rootfs_start[0] && &xos_rootfs_end[0] > &xos_rootfs_start[0]) {
        auto* begin = reinterpret_cast<const std::byte*>(xos_rootfs_start);
        check(unpack_cpio(context, {begin, size_t(xos_rootfs_end - xos_rootfs_start)}), "unpacking the rootfs");
    }
    for (const char* dir : {"/tmp", "/root"})
        if (!vfs::resolve(context, dir, vfs::Follow::Yes)) check(vfs::make_directory(context, dir, 0755), dir);
    if (auto tmp = vfs::resolve(context, "/tmp", vfs::Follow::Yes)) {
        vfs::AttrChange sticky{.mask = vfs::ATTR_MODE, .mode = 01777};
        (void)(*tmp)->setattr(sticky);
    }
    check(create_default_etc(context), "/etc");
    check(mount_devfs(), "/dev");
    check(mount_procfs({argv, argc}), "/proc");

    check(open_console_fd(0, "/dev/ttyS0", O_RDONLY), "standard input");
    check(open_console_fd(1, "/dev/ttyS0", O_WRONLY), "standard output");
    check(open_console_fd(2, "/dev/ttyS1", O_WRONLY), "standard error");
}

void mount_shares(const boot::CommandLine& command_line) {
    std::span<const std::string_view> tokens(command_line.other, command_line.other_count);
    for (size_t i = 0; i < command_line.share_count; ++i) {
        const boot::Share& share = command_line.shares[i];
        if (auto mounted = p9::mount_share(tokens, share.tag, share.path); !mounted)
            panic("cannot mount the host share %s on %s: errno %d, %s", share.tag, share.path,
                  mounted.error().code, p9::describe_share_error(mounted.error().code));
    }
    hostfs::mount_host_shares();  // the platform's own shares (hosted), if any
    if (auto disks = add_block_devices(tokens); !disks)  // /dev/vda...: virtio-blk, the platform's disks
        panic("cannot set up the block devices: errno %d", disks.error().code);
}

}  // namespace xos::fs
