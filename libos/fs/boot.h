// Brings up the file systems at boot: ramfs as /, the initrd unpacked into it, a default /etc,
// devfs on /dev, procfs on /proc, and descriptors 0-2 on the console.
#pragma once

#include <cstddef>

namespace xos::boot {
struct CommandLine;
}

namespace xos::fs {

// Panics on failure (an image without its files cannot run). The root's size limit comes from
// xos.rootfs_size (bytes, or a percentage of the memory free at boot; default 50%).
void init_filesystems(const boot::CommandLine& command_line);

// Mounts the host directory shares the command line names (xos.share=<tag>:<path>, 9p over
// virtio) and the platform's own (hosted), then makes the disks' device files (/dev/vda...);
// panics when one cannot be mounted. Then, with xos.root=PATH[:rw|:ro], makes the directory PATH
// (where a share was mounted) the root: read-only below an overlay with its writes in memory,
// or as it is with ":rw", or as it is on a read-only mount with ":ro" (EROFS; no /tmp of its
// own); /dev, /proc (and with ":rw" or the overlay an empty /tmp) inside it
// (docs/unmodified-binaries.md). The tmpfs mounts' options (ro, noexec...) and ":ro" apply
// last, once every mount point is made.
// xos.root=erofs:DEVICE does the same with the EROFS image on a disk (/dev/vda) as the lower
// layer (docs/root-filesystems.md).
// Last, xos.cwd=PATH becomes the working directory (a warning, and /, if it is no directory).
void mount_shares(const boot::CommandLine& command_line);

}  // namespace xos::fs
