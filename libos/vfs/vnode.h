// Vnodes and file systems: the interface every file system implements (ramfs, devfs, procfs,
// the 9p client, hostfs). Calls may block (a network or virtio file system waits for its
// host), so callers must hold references across them and re-check state afterwards.
//
// Defaults: every operation a vnode kind does not support fails with the errno Linux gives for
// it (ENOTDIR for directory operations on a non-directory, EINVAL for reading a symlink that
// is not one...). Ownership: lookup()/create() return new references (RefPtr).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/error.h"
#include "base/kstring.h"
#include "base/ref_ptr.h"
#include "sched/mutex.h"
#include "sched/thread.h"

namespace xos::vfs {

class File;
class Filesystem;
class Pipe;
class Vnode;

// File-backed mmap keeps a page cache per mapped file (mm/file_cache.h; not portable). The VFS
// tells it about what changes a file behind the mappings' back through these hooks, which
// libos sets at boot (null in the unit tests).
struct FileCacheHooks {
    // Before read(2)/fsync(2): write back pages dirtied through MAP_SHARED mappings.
    void (*sync)(Vnode& vnode);
    // After write(2) stored `data` at `offset`: update the cached copies.
    void (*written)(Vnode& vnode, uint64_t offset, std::span<const std::byte> data);
    // Before truncate(2)/O_TRUNC: unmap what lies past the new end (SIGBUS there, as Linux);
    // after it: forget the cached data there.
    void (*truncating)(Vnode& vnode, uint64_t size);
    void (*truncated)(Vnode& vnode, uint64_t size);
    // The truncation announced by `truncating` failed: the file keeps its size.
    void (*truncate_aborted)(Vnode& vnode);
    // The vnode is being destroyed: free its cache.
    void (*destroyed)(Vnode& vnode);
};
inline FileCacheHooks g_file_cache_hooks{};

struct Timestamp {
    int64_t sec = 0;
    int64_t nsec = 0;
};

// The current wall-clock time, for timestamps (vfs/clock.cpp; the unit tests provide their own).
Timestamp now();

struct Attributes {
    uint64_t ino = 0;
    uint64_t dev = 0;
    mode_t mode = 0;  // type and permission bits
    uint32_t nlink = 1;
    uid_t uid = 0;
    gid_t gid = 0;
    dev_t rdev = 0;  // device number of a device node
    uint64_t size = 0;
    uint64_t blocks = 0;  // 512-byte units actually allocated
    uint32_t block_size = 4096;
    Timestamp atime, mtime, ctime, btime;
};

// Which fields of an AttrChange apply.
enum AttrMask : unsigned {
    ATTR_MODE = 1 << 0,  // permission bits only
    ATTR_UID = 1 << 1,
    ATTR_GID = 1 << 2,
    ATTR_SIZE = 1 << 3,
    ATTR_ATIME = 1 << 4,
    ATTR_MTIME = 1 << 5,
};

struct AttrChange {
    unsigned mask = 0;
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    uint64_t size = 0;
    Timestamp atime, mtime;
};

struct DirEntry {
    uint64_t ino;
    uint64_t next_cookie;  // resume point after this entry (the d_off of getdents64)
    unsigned char type;  // DT_*
    std::string_view name;
};

// Receives directory entries; returns false when it has no room for this one (it is then
// delivered again on the next call).
class DirSink {
public:
    virtual bool emit(const DirEntry& entry) = 0;

protected:
    ~DirSink() = default;
};

enum class RemoveKind { File, Directory };  // unlink(2) vs rmdir(2)

struct FsStats {
    uint64_t magic;
    uint64_t block_size;
    uint64_t blocks, blocks_free, blocks_available;
    uint64_t files, files_free;
    uint64_t name_max;
    uint64_t flags;  // ST_* mount flags
};

class Vnode : public RefCounted {
public:
    Vnode(Filesystem& fs, uint64_t ino, mode_t mode);
    ~Vnode() override;

    Filesystem& fs() const { return *m_fs; }
    mode_t mode() const { return m_attr.mode; }
    mode_t type() const { return m_attr.mode & S_IFMT; }
    bool is_directory() const { return S_ISDIR(m_attr.mode); }
    bool is_symlink() const { return S_ISLNK(m_attr.mode); }
    bool is_regular() const { return S_ISREG(m_attr.mode); }
    uint64_t ino() const { return m_attr.ino; }

    // Whether this vnode's operations may run without the big lock (docs/locking.md, "Files and
    // directories"): read, write, getattr, lookup, readdir, readlink, truncate and data_page
    // under locks of its own (ramfs/tmpfs). The VFS and the file syscalls take the big lock
    // around calls into the others (BigLockUnlessSafe). Directory changes (create, link,
    // remove, rename, symlink) are still called under the big lock for every vnode, and so is
    // setattr but for a ramfs file's (ftruncate, fchmod, fchown, futimens: RamFile::setattr).
    virtual bool thread_safe() const { return false; }

    // Attributes. The defaults read and write m_attr (memory file systems keep them there).
    virtual ErrorOr<Attributes> getattr();
    virtual ErrorOr<void> setattr(const AttrChange& change);

    // Directories. `name` is one component, never "." or ".." except for lookup("..").
    virtual ErrorOr<RefPtr<Vnode>> lookup(std::string_view name);
    // Creates a regular file, directory, FIFO, socket or device node (by the type in `mode`).
    virtual ErrorOr<RefPtr<Vnode>> create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid);
    virtual ErrorOr<void> symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid);
    virtual ErrorOr<void> link(std::string_view name, Vnode& target);
    virtual ErrorOr<void> remove(std::string_view name, RemoveKind kind);
    // Renames within this file system; flags are RENAME_NOREPLACE / RENAME_EXCHANGE.
    virtual ErrorOr<void> rename(std::string_view old_name, Vnode& new_dir, std::string_view new_name, unsigned flags);
    // Emits entries from `cookie` on (0 = the start, including "." and ".."), advancing it.
    virtual ErrorOr<void> readdir(uint64_t& cookie, DirSink& sink);
    // readdir through an open file description (getdents64): `listing` is the description's own
    // slot, under its position lock, for a snapshot its cookies index (the overlay's merged
    // listing, one per open directory as overlayfs keeps it). The default ignores it.
    virtual ErrorOr<void> readdir_open(uint64_t& cookie, DirSink& sink, RefPtr<RefCounted>& listing) {
        (void)listing;
        return readdir(cookie, sink);
    }

    // Regular files.
    virtual ErrorOr<size_t> read(uint64_t offset, std::span<std::byte> buffer);
    virtual ErrorOr<size_t> write(uint64_t offset, std::span<const std::byte> data);
    virtual ErrorOr<void> truncate(uint64_t size);
    // fallocate(2) mode 0 or FALLOC_FL_KEEP_SIZE (others: EOPNOTSUPP).
    virtual ErrorOr<void> allocate(int mode, uint64_t offset, uint64_t length);
    virtual ErrorOr<void> sync();

    // File-backed mmap. File systems that keep file data in RAM pages of their own (ramfs)
    // return the page holding file page `index` (allocated, zeroed, if absent and `create`),
    // so that every MAP_SHARED mapping and read/write share it; nullptr for a hole when not
    // `create`. The others (default: no pages of their own) are mapped through a page cache
    // filled by read() and written back by write() (mm/file_cache.h).
    virtual bool has_data_pages() const { return false; }
    // Whether mmap may map the file at all (else ENODEV): regular files of ramfs, 9p and hostfs.
    virtual bool mappable() const { return has_data_pages(); }
    virtual ErrorOr<std::byte*> data_page(uint64_t, bool) { return nullptr; }
    // The page cache of a mapped file (owned by mm/file_cache.cpp; null if never mapped).
    void* m_file_cache = nullptr;

    // Symbolic links.
    virtual ErrorOr<KString> readlink();
    // "Magic" links (/proc/self/fd/N): following one yields a vnode directly. nullptr: an
    // ordinary symlink, follow its text.
    virtual ErrorOr<RefPtr<Vnode>> follow_magic_link();

    // Opening. Vnodes that are not plain files or directories (devices, procfs snapshots) make
    // their own open file description; nullptr means "use the generic one".
    virtual ErrorOr<RefPtr<File>> open(int flags);

    // Mount table link: the file system mounted on this directory, if any.
    Filesystem* mounted() const { return m_mounted; }
    void set_mounted(Filesystem* fs) { m_mounted = fs; }

    // The pipe behind a FIFO while it is open (vfs/fifo.cpp).
    Pipe* fifo() const { return m_fifo; }
    void set_fifo(Pipe* pipe) { m_fifo = pipe; }

    Attributes m_attr;
    // Serializes read()/write() through open files (File::read/write: an O_APPEND write's size
    // lookup and write, a write against a read of the same range). Not taken by the page
    // cache's own fills (mm/file_cache.cpp), which a fault inside a copy may run.
    sched::Mutex m_io_lock;
    // flock(2) state: holders of shared locks, or an exclusive holder.
    uint32_t m_flock_shared = 0;
    bool m_flock_exclusive = false;

protected:
    void touch_mtime();  // mtime = ctime = now
    void touch_ctime();
    // setattr's changes but the size (mode, owner, times), and ctime.
    void apply_attributes(const AttrChange& change);

private:
    Filesystem* m_fs;
    Filesystem* m_mounted = nullptr;
    Pipe* m_fifo = nullptr;
};

// Mount options (Filesystem::mount_flags()); the values of MS_* and ST_*.
enum MountFlag : unsigned {
    MOUNT_READ_ONLY = 1,
    MOUNT_NO_SUID = 2,
    MOUNT_NO_DEV = 4,
    MOUNT_NO_EXEC = 8,
};

class Filesystem {
public:
    Filesystem(const char* type_name, uint64_t magic);
    virtual ~Filesystem() = default;
    static void operator delete(void* object);  // see RefCounted: never the app's operator delete
    Filesystem(const Filesystem&) = delete;
    Filesystem& operator=(const Filesystem&) = delete;

    virtual RefPtr<Vnode> root() = 0;
    virtual ErrorOr<FsStats> statfs();
    // Whether a path walk may look up, hold and drop this file system's vnodes without the big
    // lock: no raw-pointer cache of vnodes that a drop on another CPU could race (9p's qid
    // cache does). ramfs and procfs; see vfs::path_walks_without_big_lock (mount.h).
    virtual bool walks_without_big_lock() const { return false; }
    virtual ErrorOr<void> sync() { return {}; }

    // The mount's options, as Linux's MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC (the same bits
    // as statfs' ST_* flags). Each file system is mounted once, so they are the file system's.
    // The VFS operations and the syscalls check them: read-only, every change fails with EROFS;
    // noexec, execve fails with EACCES and mmap with PROT_EXEC with EPERM; nodev, opening a
    // device node fails with EACCES. /proc/mounts shows them.
    unsigned mount_flags() const { return m_mount_flags; }
    void set_mount_flags(unsigned flags) { m_mount_flags = flags; }
    bool read_only() const { return m_mount_flags & MOUNT_READ_ONLY; }

    const char* type_name() const { return m_type_name; }
    uint64_t magic() const { return m_magic; }
    uint64_t dev() const { return m_dev; }
    // Atomic: sockets (accept4) and ramfs files (docs/locking.md "Directory changes") are
    // created on several CPUs at once.
    uint64_t allocate_ino() { return __atomic_fetch_add(&m_next_ino, 1, __ATOMIC_RELAXED); }

    // The directory this file system is mounted on (null for the root file system).
    Vnode* covered() const { return m_covered.get(); }
    void set_covered(RefPtr<Vnode> vnode) { m_covered = static_cast<RefPtr<Vnode>&&>(vnode); }
    const char* mount_point() const { return m_mount_point; }
    void set_mount_point(const char* path) { m_mount_point = path; }

private:
    const char* m_type_name;
    uint64_t m_magic;
    uint64_t m_dev;
    uint64_t m_next_ino = 1;
    unsigned m_mount_flags = 0;
    RefPtr<Vnode> m_covered;
    const char* m_mount_point = "/";
};

// The big lock for the length of a scope unless `vnode` is thread_safe() (one level deeper when
// the CPU holds it already).
class BigLockUnlessSafe {
public:
    explicit BigLockUnlessSafe(const Vnode& vnode) {
        if (!vnode.thread_safe()) m_scope.emplace();
    }
    explicit BigLockUnlessSafe(bool safe) {
        if (!safe) m_scope.emplace();
    }

private:
    std::optional<sched::BigLockScope> m_scope;
};

// EROFS when `vnode` is on a read-only mount: for the operations that change a file or a
// directory (Linux's mnt_want_write).
inline ErrorOr<void> check_writable(const Vnode& vnode) {
    if (vnode.fs().read_only()) return error(EROFS);
    return {};
}

// DT_* type of a mode.
unsigned char dirent_type(mode_t mode);

}  // namespace xos::vfs
