// procfs on /proc: /proc/self (a link to "1"), /proc/1/{fd/N, cwd, exe, cmdline, status, maps,
// mounts}, /proc/meminfo, /proc/cpuinfo, /proc/mounts. Files are generated when opened (a
// snapshot, read like a regular file); fd/N and cwd are magic links to the open file itself.
#pragma once

#include <cstddef>

#include "base/error.h"

namespace xos::fs {

struct ProcessInfo {
    const char* const* argv;
    size_t argc;
};

ErrorOr<void> mount_procfs(const ProcessInfo& info);

// After execve: /proc/self/exe names `path` (made absolute against the working directory),
// instead of the image's argv[0].
void set_executable_path(const char* path);

}  // namespace xos::fs
