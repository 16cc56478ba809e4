#include "fs/devfs/devfs.h"

#include <sys/sysmacros.h>

#include "base/no_destroy.h"
#include "fs/devfs/console.h"
#include "fs/devfs/memory_devices.h"
#include "fs/ramfs/ramfs.h"
#include "vfs/devices.h"
#include "vfs/mount.h"
#include "vfs/operations.h"
#include "vfs/process.h"

namespace xos::fs {

namespace {

constinit NoDestroy<RamFs> g_devfs;

template <platform::ConsoleStream stream>
ErrorOr<RefPtr<vfs::File>> open_console_as(RefPtr<vfs::Vnode> vnode, int flags) {
    return open_console_device(vnode, flags, stream);
}

struct Node {
    const char* name;
    unsigned major, minor;
    mode_t mode;
    vfs::DeviceOpen open;
};

}  // namespace

ErrorOr<void> mount_devfs() {
    using platform::ConsoleStream;
    const Node nodes[] = {
        {"null", 1, 3, 0666, memory_device_open(MemoryDevice::Null)},
        {"zero", 1, 5, 0666, memory_device_open(MemoryDevice::Zero)},
        {"full", 1, 7, 0666, memory_device_open(MemoryDevice::Full)},
        {"random", 1, 8, 0666, memory_device_open(MemoryDevice::Random)},
        {"urandom", 1, 9, 0666, memory_device_open(MemoryDevice::Random)},
        {"tty", 5, 0, 0666, &open_controlling_terminal},
        {"console", 5, 1, 0600, &open_console_as<ConsoleStream::Out>},
        {"ttyS0", 4, 64, 0620, &open_console_as<ConsoleStream::Out>},  // COM1: standard output
        {"ttyS1", 4, 65, 0620, &open_console_as<ConsoleStream::Err>},  // COM2: standard error
    };
    RamFs& devfs = g_devfs.get("devtmpfs", 0x01021994);
    TRY(devfs.initialize(0755));
    RefPtr<vfs::Vnode> root = devfs.root();
    for (const Node& node : nodes) {
        TRY(root->create(node.name, S_IFCHR | node.mode, makedev(node.major, node.minor), 0, 0));
        if (!vfs::register_device(makedev(node.major, node.minor), node.open)) return error(ENOMEM);
    }
    TRY(root->symlink("fd", "/proc/self/fd", 0, 0));
    TRY(root->symlink("stdin", "/proc/self/fd/0", 0, 0));
    TRY(root->symlink("stdout", "/proc/self/fd/1", 0, 0));
    TRY(root->symlink("stderr", "/proc/self/fd/2", 0, 0));
    TRY(root->create("shm", S_IFDIR | 01777, 0, 0, 0));
    TRY(root->create("pts", S_IFDIR | 0755, 0, 0, 0));

    vfs::Process& process = vfs::process();
    auto dev = vfs::resolve(process.context(process.root.get()), "/dev", vfs::Follow::Yes);
    if (!dev) TRY(vfs::make_directory(process.context(process.root.get()), "/dev", 0755));
    RefPtr<vfs::Vnode> mount_point = TRY(vfs::resolve(process.context(process.root.get()), "/dev", vfs::Follow::Yes));
    return vfs::mount(devfs, mount_point, "/dev");
}

}  // namespace xos::fs
