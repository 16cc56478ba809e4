// Decodes the kernel command line xos-run writes: space-separated tokens
//   xos.argv0=<enc> xos.arg=<enc>... xos.env=<enc>... xos.share=<enc>...
//   xos.ip=<enc> xos.gw=<enc> xos.dns=<enc> xos.echo=<port> xos.rootfs_size=<bytes>|<percent>%
//   xos.root=<enc> xos.hostname=<enc> xos.tmpfs=<enc>...
// and, read by the platform's console itself: xos.stdio=<in><out><err> xos.winsize=<rows>x<cols>.
// where <enc> is percent-encoded (see tools/xos-run/cmdline.cpp). Tokens that are not ours
// (QEMU appends virtio_mmio.device=... on microvm) are kept for the platform's drivers.
// Portable; unit-tested on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/error.h"

namespace xos::boot {

// A host directory share (xos.share=<tag>:[ro:]<guest path>): the virtio-9p mount tag, where
// to mount it, and whether the mount is read-only (EROFS; xos-run --share ...:ro).
struct Share {
    const char* tag;
    const char* path;
    bool read_only;
};

// A tmpfs mount (xos.tmpfs=<size>:<mode>:<uid>:<gid>:[<flags>:]<guest path>, xos-run --tmpfs):
// a ramfs mounted at `path` with its root directory's mode and owner; `size` is the size limit
// in bytes, or "N%" of the memory free at boot, or empty for tmpfs' default (50%); `flags` the
// mount options as MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC bits (decimal; vfs::MountFlag).
struct TmpfsMount {
    const char* size;
    uint32_t mode;
    uint32_t uid;
    uint32_t gid;
    uint32_t flags;
    const char* path;
};

// A file placed at boot (xos.file=<octal mode>:<guest path>\n<content>, xos-run --file): written
// once every file system is mounted, so it may lie below a tmpfs mount (xos-oci's file bind
// mounts, /run/.containerenv under --read-only's /run). The content has no NUL byte.
struct PlacedFile {
    uint32_t mode;
    const char* path;
    const char* data;
    size_t size;
};

// Network configuration (xos-run --ip/--gw/--dns, and the diagnostic xos.echo=PORT); decoded
// strings, parsed by libos/net/config.cpp. Null when absent (DHCP).
struct NetworkOptions {
    const char* ip = nullptr;  // xos.ip=ADDR/PREFIX
    const char* gateway = nullptr;  // xos.gw=ADDR
    const char* dns = nullptr;  // xos.dns=ADDR
    uint16_t echo_port = 0;  // xos.echo=PORT: diagnostic TCP echo service (0: off)
};

struct CommandLine {
    static constexpr size_t MAX_SHARES = 16;
    static constexpr size_t MAX_TMPFS = 8;
    static constexpr size_t MAX_FILES = 16;
    static constexpr size_t MAX_ARGS = 4096;
    static constexpr size_t MAX_ENV = 4096;
    static constexpr size_t MAX_OTHER = 256;
    static constexpr size_t STORAGE = 128 * 1024;

    const char* argv[MAX_ARGS + 1];  // NULL-terminated
    size_t argc = 0;
    const char* envp[MAX_ENV + 1];  // NULL-terminated
    size_t envc = 0;
    std::string_view other[MAX_OTHER];  // tokens for the platform, e.g. virtio_mmio.device=...
    size_t other_count = 0;
    Share shares[MAX_SHARES];
    size_t share_count = 0;
    TmpfsMount tmpfs[MAX_TMPFS];
    size_t tmpfs_count = 0;
    PlacedFile files[MAX_FILES];
    size_t file_count = 0;
    size_t unknown_xos_tokens = 0;  // xos.* keys this libos does not know
    NetworkOptions network;
    const char* rootfs_size = nullptr;  // xos.rootfs_size=: the root ramfs' size limit (fs/boot.cpp)
    const char* root = nullptr;  // xos.root=<guest path>[:rw] | erofs:<device>: the program's root (fs/boot.cpp)
    const char* cwd = nullptr;  // xos.cwd=<guest path>: the program's first working directory
    const char* hostname = nullptr;  // xos.hostname=: uname's nodename (sys/uts.h)

    char storage[STORAGE];
    size_t storage_used = 0;
};

// Parses `text` into `out`. Fails with EINVAL on a malformed escape and E2BIG when a limit is hit.
// Without xos.argv0, argv[0] is "app".
ErrorOr<void> parse_command_line(std::string_view text, CommandLine& out);

}  // namespace xos::boot
