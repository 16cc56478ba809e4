#include "vfs/mount.h"

#include <string_view>

#include "vfs/process.h"

namespace xos::vfs {

namespace {
Mount g_mounts[32];  // /, /dev, /proc, shares (16 at most), tmpfs mounts (8)
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

ErrorOr<void> unmount(Filesystem& fs) {
    for (size_t i = 1; i < g_mount_count; ++i) {
        if (g_mounts[i].fs != &fs) continue;
        if (Vnode* covered = fs.covered()) covered->set_mounted(nullptr);
        fs.set_covered(nullptr);
        for (size_t j = i + 1; j < g_mount_count; ++j) g_mounts[j - 1] = g_mounts[j];
        --g_mount_count;
        return {};
    }
    return error(EINVAL);
}

Filesystem* mounted_at(const char* path) {
    for (size_t i = 0; i < g_mount_count; ++i)
        if (std::string_view(g_mounts[i].path) == path) return g_mounts[i].fs;
    return nullptr;
}

std::span<const Mount> mounts() { return {g_mounts, g_mount_count}; }

bool path_walks_without_big_lock() {
    for (const Mount& mount : mounts())
        if (!mount.fs->walks_without_big_lock()) return false;
    return true;
}

}  // namespace xos::vfs
