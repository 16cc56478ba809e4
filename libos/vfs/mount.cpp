#include "vfs/mount.h"

#include "vfs/process.h"

namespace xos::vfs {

namespace {
Mount g_mounts[16];
size_t g_mount_count;
}  // namespace

void mount_root(Filesystem& fs) {
    fs.set_mount_point("/");
    process().root = fs.root();
    process().cwd = fs.root();
    g_mounts[0] = {&fs, "/"};
    if (g_mount_count == 0) g_mount_count = 1;
}

ErrorOr<void> mount(Filesystem& fs, RefPtr<Vnode> on, const char* path) {
    if (!on->is_directory()) return error(ENOTDIR);
    if (on->mounted()) return error(EBUSY);
    if (g_mount_count == sizeof g_mounts / sizeof g_mounts[0]) return error(ENOMEM);
    on->set_mounted(&fs);
    fs.set_covered(on);
    fs.set_mount_point(path);
    g_mounts[g_mount_count++] = {&fs, path};
    return {};
}

std::span<const Mount> mounts() { return {g_mounts, g_mount_count}; }

}  // namespace xos::vfs
