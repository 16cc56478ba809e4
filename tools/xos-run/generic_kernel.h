// xos-run --rootfs: the generic kernel image (tools/xos-kernel) that runs an unmodified Linux
// executable from a host directory, and how the options are rewritten to boot it.
#pragma once

#include <string>

#include "options.h"

// Where the host directory is mounted in the guest before libos makes it the root (xos.root=).
inline constexpr const char* kRootfsGuestPath = "/.xos-rootfs";

// The generic kernel image for `platform` ("kvm" or "hosted"): $XOS_KERNEL if set, else the
// installed one (<prefix>/<libdir>/xos/ next to <prefix>/bin/xos-run), else the build tree's
// (build/tools/xos-kernel/ next to build/tools/xos-run/). Throws UsageError if there is none.
std::string find_generic_kernel(const std::string& platform);

// With --rootfs: IMAGE becomes the generic kernel, DIR a share at kRootfsGuestPath (read-only
// unless DIR:rw) and guest_root the xos.root= value that makes it the program's root (under an
// overlay in memory unless :rw); on hosted also XOS_EXEC=wx (the program's code is in app
// memory). No-op without it.
// With --root-image FILE: IMAGE becomes the generic kernel, FILE the first disk (read-only:
// /dev/vda) and guest_root "erofs:/dev/vda" (libos mounts the EROFS image there and puts an
// overlay in memory over it); on hosted also XOS_EXEC=wx. No-op without it.
void apply_rootfs(Options& opts);
