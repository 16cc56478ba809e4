// Host directory shares on a platform that runs as a host process (hosted, docs/hosted.md):
// the shares the platform was given, and one call per host file operation, for libos's hostfs
// (libos/fs/hostfs). A VM platform has no shares (share_count() is 0) and never gets the calls.
//
// Handles are host file descriptors the platform opened: "path handles" (O_PATH, not followed
// if a symlink) name a file; "I/O handles" (from reopen) read, write or list it.
//
// Confinement: every `name` is exactly one path component, relative to a directory handle
// inside a share. The platform refuses (EINVAL) empty names, names with '/' or NUL, "." and
// "..", and names longer than 255 bytes, and never follows a symlink in the last component: the
// host kernel sees no path it could resolve outside a share. libos walks paths one component at
// a time and resolves symlinks itself, in the guest's namespace (as it does for 9p).
//
// Every call returns a value >= 0 or -errno (the host's errno, which libos passes on).
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace xos::platform::hostfs {

// How a share keeps the owners, modes and file types the guest sets (docs/hosted.md):
// Mapped (the default): in user.virtfs.* extended attributes of plain host files, the format of
//   QEMU's security_model=mapped-xattr, so the guest never creates a host setuid/setgid file or
//   device node, and one share directory looks the same to a VM and to a hosted image.
// Passthrough (XOS_SHARE...:passthrough): on the host files themselves (security_model=none).
enum class ShareMode { Mapped, Passthrough };

struct Share {
    const char* guest_path;  // absolute; static text
    int root;  // path handle of the shared host directory
    ShareMode mode;
    bool read_only;  // XOS_SHARE...:ro: libos refuses every change with EROFS
};
size_t share_count();
Share share(size_t index);

// Path handle of `name` in `dir`; the flags allowed: O_DIRECTORY (fail if not a directory).
long lookup(int dir, std::string_view name, int flags);
// Path handle of the parent of `dir`; EPERM when `dir` is a share's root.
long lookup_parent(int dir);
// Creates the regular file `name` (O_EXCL) and returns an I/O handle open read-write on it
// (also for modes without write permission, like creat(2)). The platform runs with umask 0, so
// new files get `mode` as given, unless the host directory has a default ACL: libos checks the
// new file's mode and chmods it if needed (as QEMU's 9p server does with security_model=none).
long create_file(int dir, std::string_view name, mode_t mode);
// Another handle on the file behind `handle` (never a symlink for I/O): O_RDONLY, O_WRONLY or
// O_RDWR, plus O_DIRECTORY for a directory to list; or O_PATH for a path handle.
long reopen(int handle, int flags);
long close(int handle);

long stat(int handle, struct stat* out);  // what the handle names (a symlink itself)
long statfs(int handle, struct statfs* out);
long read(int io, void* buffer, size_t count, uint64_t offset);
long write(int io, const void* data, size_t count, uint64_t offset);
// Raw linux_dirent64 records of the directory `io` from `cookie` (a d_off, 0 = the start).
long read_directory(int io, uint64_t cookie, void* buffer, size_t size);
long truncate(int io, uint64_t size);
long allocate(int io, int mode, uint64_t offset, uint64_t length);
long sync(int io, bool data_only);

long make_directory(int dir, std::string_view name, mode_t mode);
// FIFOs, sockets, device nodes (the host decides whether an unprivileged user may).
long make_node(int dir, std::string_view name, mode_t mode, dev_t device);
long make_symlink(int dir, std::string_view name, std::string_view target);
long read_link(int link, char* buffer, size_t size);
long make_link(int file, int dir, std::string_view name);
// flags: AT_REMOVEDIR for a directory.
long remove(int dir, std::string_view name, int flags);
// flags: RENAME_NOREPLACE, RENAME_EXCHANGE.
long rename(int old_dir, std::string_view old_name, int new_dir, std::string_view new_name, unsigned flags);

// The extended attribute `name` of the file a path handle names (not a symlink: the host keeps
// no user.* attributes on those), for the mapped mode: only names that start with
// "user.virtfs." are allowed (else EPERM). get returns the value's size; set replaces or adds.
long get_attribute(int file, const char* name, void* buffer, size_t size);
long set_attribute(int file, const char* name, const void* value, size_t size);

// Attributes of what a path handle names. chmod fails with EOPNOTSUPP on a symlink (as on Linux).
long chmod(int file, mode_t mode);
long chown(int file, uid_t uid, gid_t gid);  // -1 leaves one unchanged
// times[0] access, times[1] modification; tv_nsec UTIME_OMIT leaves one unchanged.
long set_times(int file, const struct timespec times[2]);

}  // namespace xos::platform::hostfs
