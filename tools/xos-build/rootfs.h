// xos-build --rootfs DIR: packs a directory tree as a cpio "newc" archive (the Linux initramfs
// format, read by libos/fs/initrd) and wraps it in an assembler file that places it in the
// image between the symbols xos_rootfs_start and xos_rootfs_end.
#pragma once

#include <functional>
#include <string>

namespace xos::driver {

// Checks that `dir` exists and is a directory (Error, exit_failure, otherwise).
void require_rootfs_dir(const std::string& dir);

// Writes the archive of `dir` to `archive_path`. Every directory, regular file, symlink and FIFO
// is stored with its mode, uid, gid and mtime (seconds); `dir` itself is the entry "." (the
// image's /). Entries are in a fixed order (each directory's names sorted bytewise, a directory
// before its contents, and its metadata repeated after them so that unpacking the contents
// does not leave the directory with a new mtime), inode numbers are sequential, so the same
// tree always gives the same bytes. Hard links become independent copies. Device nodes and
// sockets are skipped, each with a call to `warn` (the image's /dev is devfs). Throws Error
// for an unreadable file or directory, or a file too large for the format (4 GiB).
// Returns the number of entries written (without the trailer).
size_t write_rootfs_archive(const std::string& dir, const std::string& archive_path,
                            const std::function<void(const std::string&)>& warn);

// The assembler source that includes `archive_path` (.incbin) in section .rodata.xos.rootfs.
std::string rootfs_assembly(const std::string& archive_path);

}  // namespace xos::driver
