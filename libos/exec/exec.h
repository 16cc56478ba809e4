// Runs an unmodified Linux x86_64 executable in place of the current program (execve): checks
// it, maps its PT_LOAD segments (and its PT_INTERP, the dynamic loader) into the app region,
// builds the Linux initial stack and jumps to the entry point. See docs/unmodified-binaries.md.
#pragma once

#include <span>

#include "base/error.h"

namespace xos::exec {

// Never returns on success. On failure the current program is intact (nothing was unmapped),
// a line naming the file and the problem has gone to the log, and the error is what a shell
// turns into its status: ENOENT (file or interpreter missing: 127), anything else (ENOEXEC,
// EACCES, EISDIR, ENOMEM...: 126).
ErrorOr<void> execute(const char* path, std::span<const char* const> argv, std::span<const char* const> envp);

}  // namespace xos::exec
