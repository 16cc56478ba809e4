// xos-build --exec PROGRAM: one bootable image that runs an unmodified Linux executable. The
// program's closure (tools/elf-closure: its interpreter and libraries, read from the ELF files
// of --rootfs, default /) becomes the image's initrd, and the generic kernel's loader
// (tools/xos-kernel/loader.c, as xos-loader.o) is linked with the program's path baked in.
// docs/unmodified-binaries.md.
#pragma once

#include <string>
#include <vector>

namespace xos::driver {

// --add SRC[:DEST]: a host file or directory copied to DEST in the image (default: SRC's own
// absolute path). Throws Error (exit_usage) for a DEST that is not absolute.
struct AddedFile {
    std::string source;
    std::string dest;
};
AddedFile parse_added_file(const std::string& text);

// Fills `stage_dir` (an empty directory) with the closure of `program` from `rootfs`, the small
// files of elf_closure::kEtcFiles that rootfs has, and `added`. Throws Error naming the problem
// (a missing program or library, not ELF, another machine). With `verbose`, says what it took.
void stage_exec_root(const std::string& rootfs, const std::string& program, const std::vector<AddedFile>& added,
                     const std::string& stage_dir, bool verbose);

// The C source of the object that bakes `program` into the image: the string the loader
// execs (xos_exec_program) and the note "xos-exec" that tells xos-run the image loads code
// (on hosted it then passes XOS_EXEC=wx).
std::string exec_program_source(const std::string& program);

}  // namespace xos::driver
