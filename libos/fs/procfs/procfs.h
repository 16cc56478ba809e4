// procfs on /proc: one /proc/PID per process (listed by readdir), /proc/self (a link to the
// caller's), /proc/PID/{fd/N, cwd, root, exe, cmdline, environ, status, stat, statm, comm, maps,
// mounts}, /proc/meminfo, cpuinfo, mounts, uptime, stat, loadavg. Files are generated when opened (a
// snapshot, read like a regular file); fd/N and cwd are magic links to the open file itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"

namespace xos::fs {

struct ProcessInfo {
    const char* const* argv;
    size_t argc;
};

ErrorOr<void> mount_procfs(const ProcessInfo& info);

// At the end of execve (the new program's stack built at `stack_pointer` from argv and envp):
// /proc/self/exe names `path` (made absolute against the working directory) instead of the
// image's argv[0], and /proc/self/cmdline and environ read the new program's strings.
void note_exec(const char* path, std::span<const char* const> argv, std::span<const char* const> envp,
               uintptr_t stack_pointer);

}  // namespace xos::fs
