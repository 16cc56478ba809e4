// The mapped mode of host shares (the default): what the guest sets that the host must not get
// (owners, modes with setuid/setgid bits, device nodes, FIFOs, symlinks) lives in extended
// attributes of plain host files, in the format of QEMU's 9p security_model=mapped-xattr, so a
// share directory looks the same to a VM and to a hosted image:
//   user.virtfs.uid   4 bytes, little-endian     user.virtfs.mode  4 bytes: the whole st_mode
//   user.virtfs.gid   4 bytes, little-endian     user.virtfs.rdev  8 bytes, little-endian
// Host files are created 0600 (directories 0700) and belong to the user running the image; a
// symlink is a regular file holding the target. A file without the attributes (made on the host)
// shows the host's values. Kernel-only (platform calls).
#pragma once

#include <sys/stat.h>

#include <cstdint>

#include "base/error.h"

namespace xos::hostfs {

struct MappedAttributes {
    enum : unsigned { UID = 1, GID = 2, MODE = 4, RDEV = 8 };
    unsigned valid = 0;  // which of the fields below to store
    uint32_t uid = 0, gid = 0, mode = 0;
    uint64_t rdev = 0;
};

constexpr mode_t MAPPED_FILE_MODE = 0600;  // host modes of what the guest creates (QEMU's too)
constexpr mode_t MAPPED_DIR_MODE = 0700;

// Replaces the host's values in `st` (from a stat of `handle`) by the stored ones, if any.
// Host symlinks carry none and are left alone.
void load_mapped(int handle, struct stat& st);

// Stores the fields `attributes.valid` names on the file `handle` names.
ErrorOr<void> store_mapped(int handle, const MappedAttributes& attributes);

}  // namespace xos::hostfs
