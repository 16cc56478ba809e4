// Host directory shares (xos-run --share HOSTDIR:GUESTPATH): the 9P2000.L file system over the
// virtio-9p device whose mount tag the command line names, mounted at boot. Kernel-only.
#pragma once

#include <span>
#include <string_view>

#include "base/error.h"

namespace xos::p9 {

// Mounts the share tagged `tag` on `path` (an absolute path; created with its parents if
// missing; static text, it is kept for /proc/mounts). `platform_tokens` are the command line's
// non-xos tokens (where the platform finds virtio-mmio devices).
// "ENODEV (no usable virtio-9p device with that mount tag)" and the like, for boot messages
// (musl's strerror cannot run before the app's thread pointer exists).
const char* describe_share_error(int code);

// `read_only`: a read-only mount (EROFS; QEMU refuses the writes too).
ErrorOr<void> mount_share(std::span<const std::string_view> platform_tokens, std::string_view tag, const char* path,
                          bool read_only);

}  // namespace xos::p9
