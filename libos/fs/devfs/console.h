// The console as files: writes go to the platform's output stream ("out": xos-run's stdout) or
// its error stream ("err": xos-run's stderr), reads take the console input (fs/devfs/terminal.h).
// A console file is a terminal (TCGETS, isatty, the line discipline) only where the host has
// one: the standard streams each as xos-run's own, /dev/console and /dev/ttyS* when any of them
// is a terminal, /dev/tty for the session the terminal controls (ENXIO for the others, as on
// Linux without a controlling terminal).
#pragma once

#include "vfs/file.h"
#include "xos/platform.h"

namespace xos::fs {

enum class ConsoleRole { Terminal, Stream };

ErrorOr<RefPtr<vfs::File>> open_console(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream,
                                        ConsoleRole role);
// /dev/console, /dev/ttyS0, /dev/ttyS1.
ErrorOr<RefPtr<vfs::File>> open_console_device(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream);
// /dev/tty.
ErrorOr<RefPtr<vfs::File>> open_controlling_terminal(RefPtr<vfs::Vnode> vnode, int flags);

}  // namespace xos::fs
