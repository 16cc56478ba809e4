// The console as a character device with two flavours: "out" writes go to the platform's
// output stream (xos-run's stdout), "err" writes to its error stream (xos-run's stderr).
// Reads see end of file: the guest has no input yet. It answers the terminal ioctls
// (TCGETS, TIOCGWINSZ), so isatty() is true and musl line-buffers stdout.
#pragma once

#include "vfs/file.h"
#include "xos/platform.h"

namespace xos::fs {

ErrorOr<RefPtr<vfs::File>> open_console(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream);

}  // namespace xos::fs
