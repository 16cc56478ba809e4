// xos-run PROGRAM (an executable instead of an image): the program and the files it needs are
// collected from the host's / (tools/elf-closure) into a temporary root, which then runs like
// `--rootfs DIR -- PROGRAM` with the generic kernel. docs/unmodified-binaries.md.
#pragma once

#include "options.h"

#include <optional>
#include <string>
#include <sys/types.h>

// The program cannot be run (it does not exist, is not ELF, needs a library the host lacks).
// main() prints "xos-run: error: <what>" and exits with `status`: 127 as a shell does for a
// missing program, 126 for one that cannot be run.
struct ProgramError : UsageError {
    ProgramError(const std::string& what, int exit_status) : UsageError(what), status(exit_status) {}
    int status;
};

// The program to collect when IMAGE is not an xos image (an ELF executable without the PVH or
// hosted note, a #! script, or a name without '/' that is no file here but is in $PATH), as an
// absolute path; nullopt when IMAGE is an xos image. Throws UsageError when IMAGE is missing.
std::optional<std::string> program_instead_of_image(const std::string& image);

// A temporary directory with the program's closure from the host (hard links where possible,
// else copies) and the small files of elf_closure::kEtcFiles the host has. Removed by the
// destructor, and, if xos-run dies first (a signal, ^C on the hosted platform), by a small
// child process that waits for xos-run's end. Throws ProgramError.
class TemporaryRoot {
public:
    TemporaryRoot(const std::string& program, bool verbose);
    ~TemporaryRoot();
    TemporaryRoot(const TemporaryRoot&) = delete;
    TemporaryRoot& operator=(const TemporaryRoot&) = delete;

    const std::string& path() const { return m_path; }

private:
    std::string m_path;
    int m_reaper_pipe = -1;  // the write end; its closing tells the reaper to remove m_path
    pid_t m_reaper = -1;
};

// Rewrites `opts` from `PROGRAM -- ARGS...` to `--rootfs ROOT -- PROGRAM ARGS...`.
void apply_program(Options& opts, const std::string& program, const TemporaryRoot& root);
