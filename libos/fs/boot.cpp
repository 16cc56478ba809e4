#include "fs/boot.h"

#include <cstring>

#include "base/klog.h"
#include "base/no_destroy.h"
#include "boot/command_line.h"
#include "fs/9p/share.h"
#include "fs/devfs/block_devices.h"
#include "fs/devfs/console.h"
#include "fs/devfs/terminal.h"
#include "fs/devfs/devfs.h"
#include "fs/erofs/mount.h"
#include "fs/hostfs/hostfs.h"
#include "fs/initrd/initrd.h"
#include "fs/overlay/overlay.h"
#include "fs/procfs/procfs.h"
#include "fs/ramfs/ramfs.h"
#include "mm/memory.h"
#include "vfs/anon_fs.h"
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
size_t g_rootfs_page_limit = RamFs::NO_LIMIT;  // xos.rootfs_size, for the overlay's upper layer too

size_t free_memory_pages() { return mm::address_space().free_bytes() / 4096; }

// A size limit in pages: "<bytes>" or "<percent>%" of `free_pages` (the memory free before the
// initrd is unpacked), or 50% of it without one (null or empty), as tmpfs' size= (xos.rootfs_size,
// xos.tmpfs). The program's memory (heap, stacks, threads) is the same RAM, and a full file
// system must leave it some. EINVAL for anything else.
ErrorOr<size_t> size_limit_pages(const char* option, size_t free_pages) {
    constexpr size_t DEFAULT_PERCENT = 50;
    if (!option || !*option) return free_pages * DEFAULT_PERCENT / 100;
    uint64_t value = 0;
    const char* c = option;
    for (; *c >= '0' && *c <= '9'; ++c) {
        if (value > (UINT64_MAX - 9) / 10) return error(EINVAL);
        value = value * 10 + uint64_t(*c - '0');
    }
    if (c == option || (*c && !(c[0] == '%' && !c[1])) || (*c == '%' && (value == 0 || value > 100)))
        return error(EINVAL);
    if (*c == '%') return size_t(free_pages * value / 100);
    return size_t((value + 4095) / 4096);
}

// The root's size limit in pages, from xos.rootfs_size (the initrd counts against the limit but
// is always unpacked: it is part of the image).
size_t rootfs_page_limit(const char* option, size_t free_pages) {
    auto pages = size_limit_pages(option, free_pages);
    if (!pages) panic("xos.rootfs_size=%s: expected a number of bytes or a percentage from 1%% to 100%%", option);
    return *pages;
}

void check(ErrorOr<void> result, const char* what) {
    if (!result) panic("file systems: %s: errno %d", what, result.error().code);  // no strerror before TLS
}

// Standard stream `fd` as what it is on the host (xos-run's own): on a terminal the console
// device, read-write as a login's are; else a console file that fstat shows as a FIFO, a regular
// file or a character device and that is no terminal (ENOTTY, isatty() false).
ErrorOr<void> open_console_fd(int fd, const char* device, platform::ConsoleStream stream) {
    vfs::Process& process = vfs::process();
    platform::StdioKind kind = terminal::stdio_kind(fd);
    RefPtr<vfs::File> file;
    if (kind == platform::StdioKind::Terminal) {
        file = TRY(vfs::open(process.context(), device, O_RDWR, 0));
    } else {
        mode_t type = kind == platform::StdioKind::Pipe ? S_IFIFO
            : kind == platform::StdioKind::File         ? S_IFREG
                                                        : S_IFCHR;
        RefPtr<vfs::Vnode> vnode = TRY(vfs::anon_fs().create_node(type | 0600));
        file = TRY(open_console(vnode, fd == 0 ? O_RDONLY : O_WRONLY, stream, ConsoleRole::Stream));
    }
    return process.fds.install(fd, file, false);
}

// Mounts `fs` on `path` of the current root, making the directory if it is missing.
ErrorOr<void> mount_on(vfs::Filesystem& fs, const char* path) {
    auto context = vfs::process().context();
    if (!vfs::resolve(context, path, vfs::Follow::Yes)) TRY(vfs::make_directories(context, path));
    RefPtr<vfs::Vnode> on = TRY(vfs::resolve(context, path, vfs::Follow::Yes));
    return vfs::mount(fs, on, path);
}

// xos.tmpfs=: a ramfs of its own at the path (made if missing), its root directory of the given
// mode and owner, with a size limit as tmpfs' size= (xos-run --tmpfs; xos-oci's tmpfs mounts).
// Its mount options are applied once everything is mounted (mount_shares): a read-only tmpfs
// still gets the mount points of what is mounted below it, as runc remounts read-only last.
ErrorOr<RamFs*> mount_tmpfs(const boot::TmpfsMount& spec) {
    size_t pages = TRY(size_limit_pages(spec.size, free_memory_pages()));
    auto* tmpfs = mm::kcreate<RamFs>();
    if (!tmpfs) return error(ENOMEM);
    TRY(tmpfs->initialize(spec.mode));
    vfs::AttrChange owner{.mask = vfs::ATTR_UID | vfs::ATTR_GID, .uid = spec.uid, .gid = spec.gid};
    TRY(tmpfs->root()->setattr(owner));
    tmpfs->set_size_limit(pages);
    TRY(mount_on(*tmpfs, spec.path));
    return tmpfs;
}

// xos.root=PATH[:rw|:ro]: the directory PATH (a share mounted there) becomes the root, below an
// overlay whose upper layer is a ramfs (the root's size limit), or as it is with ":rw", or as it
// is but read-only with ":ro" (returned in `read_only_root`: the caller makes it read-only once
// the mount points are made, and there is no /tmp of its own: xos-oci's root.readonly). devfs,
// procfs and the other shares move to the same paths inside it (mount points are made in the
// upper layer, or in the directory itself with ":rw"), and /tmp is an empty directory of mode
// 1777 (in the upper layer, or a ramfs of its own with ":rw"). The boot ramfs stays behind, out
// of reach.
// xos.root=erofs:DEVICE (xos-run --root-image): the EROFS image on the block device file DEVICE
// (/dev/vda) is the overlay's lower layer instead, the same way (never writable).
ErrorOr<void> enter_root(std::string_view option, vfs::Filesystem*& read_only_root) {
    constexpr std::string_view EROFS_PREFIX = "erofs:";
    bool read_only = option.ends_with(":ro");
    bool writable = read_only || option.ends_with(":rw");
    if (writable) option.remove_suffix(3);
    bool image = option.starts_with(EROFS_PREFIX);
    if (image) option.remove_prefix(EROFS_PREFIX.size());
    if (image && writable) return error(EROFS);
    auto path = TRY(KString::from(option));
    auto context = vfs::process().context();
    RefPtr<vfs::Vnode> directory;
    if (image)
        directory = TRY(erofs::mount_device(path.view()))->root();
    else
        directory = TRY(vfs::resolve(context, path.view(), vfs::Follow::Yes));
    if (!directory->is_directory()) return error(ENOTDIR);

    vfs::Filesystem* root = nullptr;
    OverlayFs* overlay = nullptr;
    if (writable) {
        if (directory.get() != directory->fs().root().get()) return error(EINVAL);  // a share's root
        root = &directory->fs();
    } else {
        auto* upper = mm::kcreate<RamFs>();
        if (!upper) return error(ENOMEM);
        TRY(upper->initialize(0755));
        upper->set_size_limit(g_rootfs_page_limit);
        overlay = mm::kcreate<OverlayFs>(directory, *upper);
        if (!overlay) return error(ENOMEM);
        TRY(overlay->initialize());
        root = overlay;
    }
    // Everything mounted but the root and the new root's own share moves along, to the same
    // path (devfs, procfs, the other shares), in the order mounted.
    if (vfs::Filesystem* share = image ? nullptr : vfs::mounted_at(path.c_str())) TRY(vfs::unmount(*share));
    constexpr size_t MAX_MOVED = 32;
    vfs::Mount moved[MAX_MOVED];
    size_t moved_count = 0;
    for (const vfs::Mount& mount : vfs::mounts().subspan(1))
        if (moved_count < MAX_MOVED) moved[moved_count++] = mount;
    for (size_t i = moved_count; i-- > 0;) TRY(vfs::unmount(*moved[i].fs));
    vfs::mount_root(*root);
    if (overlay) {  // /tmp first: a share may be mounted below it
        TRY(static_cast<OverlayVnode&>(*overlay->root()).make_empty_directory("tmp", 01777));
    } else if (read_only) {
        read_only_root = root;
    } else {
        auto* tmp = mm::kcreate<RamFs>();
        if (!tmp) return error(ENOMEM);
        TRY(tmp->initialize(01777));
        tmp->set_size_limit(g_rootfs_page_limit);
        TRY(mount_on(*tmp, "/tmp"));
    }
    for (size_t i = 0; i < moved_count; ++i) TRY(mount_on(*moved[i].fs, moved[i].path));
    return {};
}

// xos.file=: the file at its path in the program's root (its directories made as mkdir -p),
// replaced if it exists, with the mode and the content given.
ErrorOr<void> place_file(const boot::PlacedFile& placed) {
    auto context = vfs::process().context();
    std::string_view path(placed.path);
    if (size_t slash = path.rfind('/'); slash != 0) TRY(vfs::make_directories(context, path.substr(0, slash)));
    RefPtr<vfs::File> file = TRY(vfs::open(context, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, placed.mode));
    vfs::AttrChange mode{.mask = vfs::ATTR_MODE, .mode = mode_t(placed.mode)};
    TRY(file->vnode()->setattr(mode));  // an existing file keeps its mode otherwise; no umask
    std::span<const std::byte> data(reinterpret_cast<const std::byte*>(placed.data), placed.size);
    while (!data.empty()) {
        size_t written = TRY(file->write(data, std::nullopt));
        if (written == 0) return error(EIO);
        data = data.subspan(written);
    }
    return {};
}

// xos.cwd=PATH: the program's first working directory (xos-cc's hosted executables: the host's
// current directory, shared at its own path).
ErrorOr<void> enter_cwd(std::string_view option) {
    auto path = TRY(KString::from(option));
    RefPtr<vfs::Vnode> directory = TRY(vfs::resolve(vfs::process().context(), path.view(), vfs::Follow::Yes));
    if (!directory->is_directory()) return error(ENOTDIR);
    vfs::process().cwd = directory;
    return {};
}

}  // namespace

void init_filesystems(const boot::CommandLine& command_line) {
    const char* const* argv = command_line.argv;
    size_t argc = command_line.argc;
    RamFs& root = g_rootfs.get();
    RamFs::free_pages_hook = &free_memory_pages;
    check(root.initialize(0755), "root ramfs");
    size_t page_limit = rootfs_page_limit(command_line.rootfs_size, free_memory_pages());
    vfs::mount_root(root);
    vfs::Process& process = vfs::process();
    auto context = process.context();

    if (&xos_rootfs_start[0] && &xos_rootfs_end[0] > &xos_rootfs_start[0]) {
        auto* begin = reinterpret_cast<const std::byte*>(xos_rootfs_start);
        check(unpack_cpio(context, {begin, size_t(xos_rootfs_end - xos_rootfs_start)}), "unpacking the rootfs");
    }
    g_rootfs_page_limit = page_limit;
    root.set_size_limit(page_limit);  // after the initrd: it is part of the image, always unpacked
    for (const char* dir : {"/tmp", "/root"})
        if (!vfs::resolve(context, dir, vfs::Follow::Yes)) check(vfs::make_directory(context, dir, 0755), dir);
    if (auto tmp = vfs::resolve(context, "/tmp", vfs::Follow::Yes)) {
        vfs::AttrChange sticky{.mask = vfs::ATTR_MODE, .mode = 01777};
        (void)(*tmp)->setattr(sticky);
    }
    check(create_default_etc(context), "/etc");
    check(mount_devfs(), "/dev");
    check(mount_procfs({argv, argc}), "/proc");

    terminal::init();
    check(open_console_fd(0, "/dev/ttyS0", platform::ConsoleStream::Out), "standard input");
    check(open_console_fd(1, "/dev/ttyS0", platform::ConsoleStream::Out), "standard output");
    check(open_console_fd(2, "/dev/ttyS1", platform::ConsoleStream::Err), "standard error");
}

void mount_shares(const boot::CommandLine& command_line) {
    std::span<const std::string_view> tokens(command_line.other, command_line.other_count);
    // tmpfs mounts first, so that a share below one (a volume in /run) is mounted on top of it;
    // xos.root moves them into the program's root with the shares, in this order.
    RamFs* tmpfs_mounted[boot::CommandLine::MAX_TMPFS] = {};
    for (size_t i = 0; i < command_line.tmpfs_count; ++i) {
        const boot::TmpfsMount& tmpfs = command_line.tmpfs[i];
        auto mounted = mount_tmpfs(tmpfs);
        if (!mounted)
            panic("cannot mount a tmpfs on %s (size %s): errno %d", tmpfs.path, *tmpfs.size ? tmpfs.size : "default",
                  mounted.error().code);
        tmpfs_mounted[i] = *mounted;
    }
    for (size_t i = 0; i < command_line.share_count; ++i) {
        const boot::Share& share = command_line.shares[i];
        if (auto mounted = p9::mount_share(tokens, share.tag, share.path, share.read_only); !mounted)
            panic("cannot mount the host share %s on %s: errno %d, %s", share.tag, share.path, mounted.error().code,
                  p9::describe_share_error(mounted.error().code));
    }
    hostfs::mount_host_shares();  // the platform's own shares (hosted), if any
    if (auto disks = add_block_devices(tokens); !disks)  // /dev/vda...: virtio-blk, the platform's disks
        panic("cannot set up the block devices: errno %d", disks.error().code);
    vfs::Filesystem* read_only_root = nullptr;
    if (command_line.root)
        if (auto entered = enter_root(command_line.root, read_only_root); !entered) {
            if (std::string_view(command_line.root).starts_with("erofs:"))
                panic("cannot make the EROFS image on %s the root: errno %d (%s)", command_line.root + 6,
                      entered.error().code,
                      entered.error().code == EINVAL    ? "not an EROFS image, or one using features xos lacks"
                          : entered.error().code == EIO ? "the image is damaged or truncated"
                                                        : "see the log above");
            panic("cannot make %s the root: errno %d", command_line.root, entered.error().code);
        }
    for (size_t i = 0; i < command_line.file_count; ++i)
        if (auto placed = place_file(command_line.files[i]); !placed)
            panic("cannot place the file %s (xos.file=): errno %d", command_line.files[i].path, placed.error().code);
    // The mount options last, as runc remounts read-only after making the mount points.
    for (size_t i = 0; i < command_line.tmpfs_count; ++i)
        tmpfs_mounted[i]->set_mount_flags(command_line.tmpfs[i].flags);
    if (read_only_root) read_only_root->set_mount_flags(read_only_root->mount_flags() | vfs::MOUNT_READ_ONLY);
    if (command_line.cwd)
        if (auto entered = enter_cwd(command_line.cwd); !entered)
            klog("xos: warning: cannot start in xos.cwd=%s (errno %d); starting in /", command_line.cwd,
                 entered.error().code);
}

}  // namespace xos::fs
