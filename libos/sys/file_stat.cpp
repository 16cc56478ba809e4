// File attributes: stat/lstat/fstat/newfstatat/statx, access/faccessat/faccessat2,
// chmod/chown families, utimensat, truncate/ftruncate, fallocate, statfs/fstatfs, the sync
// family and umask. The image runs as root, so permissions are stored and reported but only
// execute bits are checked (by access(X_OK)), as for root on Linux.
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "vfs/mount.h"
#include "vfs/operations.h"

namespace xos::sys {

namespace {

constexpr long UTIME_NOW_VALUE = (1l << 30) - 1;
constexpr long UTIME_OMIT_VALUE = (1l << 30) - 2;

// The attributes, under the big lock unless the vnode has locks of its own (fstat, stat and
// statx are dispatched without it).
ErrorOr<vfs::Attributes> attributes(vfs::Vnode& vnode) {
    vfs::BigLockUnlessSafe big_lock(vnode);
    return vnode.getattr();
}

ErrorOr<long> write_stat(vfs::Vnode& vnode, UserPtr<struct stat> out) {
    vfs::Attributes a = TRY(attributes(vnode));
    struct stat st{};
    st.st_dev = a.dev;
    st.st_ino = a.ino;
    st.st_mode = a.mode;
    st.st_nlink = a.nlink;
    st.st_uid = a.uid;
    st.st_gid = a.gid;
    st.st_rdev = a.rdev;
    st.st_size = off_t(a.size);
    st.st_blksize = a.block_size;
    st.st_blocks = blkcnt_t(a.blocks);
    st.st_atim = {a.atime.sec, a.atime.nsec};
    st.st_mtim = {a.mtime.sec, a.mtime.nsec};
    st.st_ctim = {a.ctime.sec, a.ctime.nsec};
    TRY(write_user(out, st));
    return 0;
}

ErrorOr<long> set_attributes(vfs::Vnode& vnode, const vfs::AttrChange& change) {
    TRY(vfs::check_writable(vnode));
    TRY(vnode.setattr(change));
    return 0;
}

ErrorOr<long> check_access(vfs::Vnode& vnode, int mode) {
    if ((mode & W_OK) && (vnode.is_regular() || vnode.is_directory() || vnode.is_symlink()))
        TRY(vfs::check_writable(vnode));
    if ((mode & X_OK) && !vnode.is_directory() && !(vnode.mode() & 0111)) return error(EACCES);
    return 0;
}

ErrorOr<long> do_chown(vfs::Vnode& vnode, uid_t uid, gid_t gid) {
    vfs::AttrChange change;
    if (uid != uid_t(-1)) {
        change.mask |= vfs::ATTR_UID;
        change.uid = uid;
    }
    if (gid != gid_t(-1)) {
        change.mask |= vfs::ATTR_GID;
        change.gid = gid;
    }
    return set_attributes(vnode, change);
}

ErrorOr<long> do_chmod(vfs::Vnode& vnode, mode_t mode) {
    if (vnode.is_symlink()) return error(EOPNOTSUPP);
    return set_attributes(vnode, {.mask = vfs::ATTR_MODE, .mode = mode});
}

ErrorOr<long> write_statfs(vfs::Filesystem& fs, UserPtr<struct statfs> out) {
    vfs::FsStats stats = TRY(fs.statfs());
    struct statfs result{};
    result.f_type = long(stats.magic);
    result.f_bsize = long(stats.block_size);
    result.f_blocks = stats.blocks;
    result.f_bfree = stats.blocks_free;
    result.f_bavail = stats.blocks_available;
    result.f_files = stats.files;
    result.f_ffree = stats.files_free;
    result.f_namelen = long(stats.name_max);
    result.f_frsize = long(stats.block_size);
    result.f_flags = long(stats.flags | fs.mount_flags());
    TRY(write_user(out, result));
    return 0;
}

// The fd-based attribute changes (ftruncate, fallocate, fchmod, fchown) run without the big lock
// on a ramfs/tmpfs regular file (RamFile::setattr, truncate and allocate have their locks: the
// vnode's m_io_lock, the file's m_lock); the others take it here.
bool attributes_without_big_lock(const vfs::Vnode& vnode) {
    return vnode.thread_safe() && vnode.is_regular() && !vnode.m_file_cache;
}

ErrorOr<long> do_truncate(vfs::Vnode& vnode, off_t length) {
    if (length < 0) return error(EINVAL);
    if (vnode.is_directory()) return error(EISDIR);
    if (!vnode.is_regular()) return error(EINVAL);
    bool cached = vnode.m_file_cache && vfs::g_file_cache_hooks.truncating;
    if (cached) vfs::g_file_cache_hooks.truncating(vnode, uint64_t(length));
    auto changed = set_attributes(vnode, {.mask = vfs::ATTR_SIZE, .size = uint64_t(length)});
    if (cached && !changed) vfs::g_file_cache_hooks.truncate_aborted(vnode);
    TRY(changed);
    if (cached) vfs::g_file_cache_hooks.truncated(vnode, uint64_t(length));
    return 0;
}

}  // namespace

// Implements stat(2).
ErrorOr<long> sys_stat(UserPtr<const char> path, UserPtr<struct stat> out) {
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());  // vfs/mount.h
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return write_stat(*vnode, out);
}

// Implements lstat(2).
ErrorOr<long> sys_lstat(UserPtr<const char> path, UserPtr<struct stat> out) {
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());  // vfs/mount.h
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW));
    return write_stat(*vnode, out);
}

// Implements fstat(2).
ErrorOr<long> sys_fstat(int fd, UserPtr<struct stat> out) {
    RefPtr<vfs::File> file = TRY(file_for(fd, true));
    return write_stat(*file->vnode(), out);
}

// Implements newfstatat(2).
ErrorOr<long> sys_newfstatat(int dirfd, UserPtr<const char> path, UserPtr<struct stat> out, int flags) {
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());  // vfs/mount.h
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return error(EINVAL);
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(dirfd, path, flags));
    return write_stat(*vnode, out);
}

// Implements statx(2).
ErrorOr<long> sys_statx(int dirfd, UserPtr<const char> path, int flags, unsigned mask, UserPtr<struct statx> out) {
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());  // vfs/mount.h
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return error(EINVAL);
    if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return error(EINVAL);
    if (mask & STATX__RESERVED) return error(EINVAL);
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(dirfd, path, flags));
    vfs::Attributes a = TRY(attributes(*vnode));
    struct statx result{};
    result.stx_mask = STATX_BASIC_STATS | STATX_BTIME;
    result.stx_blksize = a.block_size;
    result.stx_nlink = a.nlink;
    result.stx_uid = a.uid;
    result.stx_gid = a.gid;
    result.stx_mode = uint16_t(a.mode);
    result.stx_ino = a.ino;
    result.stx_size = a.size;
    result.stx_blocks = a.blocks;
    result.stx_atime = {a.atime.sec, uint32_t(a.atime.nsec), 0};
    result.stx_btime = {a.btime.sec, uint32_t(a.btime.nsec), 0};
    result.stx_ctime = {a.ctime.sec, uint32_t(a.ctime.nsec), 0};
    result.stx_mtime = {a.mtime.sec, uint32_t(a.mtime.nsec), 0};
    result.stx_rdev_major = major(a.rdev);
    result.stx_rdev_minor = minor(a.rdev);
    result.stx_dev_major = major(a.dev);
    result.stx_dev_minor = minor(a.dev);
    TRY(write_user(out, result));
    return 0;
}

// Implements access(2).
ErrorOr<long> sys_access(UserPtr<const char> path, int mode) {
    if (mode & ~(R_OK | W_OK | X_OK)) return error(EINVAL);
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return check_access(*vnode, mode);
}

// Implements faccessat(2).
ErrorOr<long> sys_faccessat(int dirfd, UserPtr<const char> path, int mode) {
    if (mode & ~(R_OK | W_OK | X_OK)) return error(EINVAL);
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(dirfd, path, 0));
    return check_access(*vnode, mode);
}

// Implements faccessat2(2).
ErrorOr<long> sys_faccessat2(int dirfd, UserPtr<const char> path, int mode, int flags) {
    if (mode & ~(R_OK | W_OK | X_OK)) return error(EINVAL);
    if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return error(EINVAL);
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(dirfd, path, flags));
    return check_access(*vnode, mode);
}

// Implements chmod(2).
ErrorOr<long> sys_chmod(UserPtr<const char> path, mode_t mode) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return do_chmod(*vnode, mode);
}

// Implements fchmod(2).
ErrorOr<long> sys_fchmod(int fd, mode_t mode) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    vfs::BigLockUnlessSafe big_lock(attributes_without_big_lock(*file->vnode()));
    return do_chmod(*file->vnode(), mode);
}

// Implements fchmodat(2).
ErrorOr<long> sys_fchmodat(int dirfd, UserPtr<const char> path, mode_t mode) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(dirfd, path, 0));
    return do_chmod(*vnode, mode);
}

// Implements chown(2).
ErrorOr<long> sys_chown(UserPtr<const char> path, uid_t uid, gid_t gid) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return do_chown(*vnode, uid, gid);
}

// Implements lchown(2).
ErrorOr<long> sys_lchown(UserPtr<const char> path, uid_t uid, gid_t gid) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW));
    return do_chown(*vnode, uid, gid);
}

// Implements fchown(2).
ErrorOr<long> sys_fchown(int fd, uid_t uid, gid_t gid) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    vfs::BigLockUnlessSafe big_lock(attributes_without_big_lock(*file->vnode()));
    return do_chown(*file->vnode(), uid, gid);
}

// Implements fchownat(2).
ErrorOr<long> sys_fchownat(int dirfd, UserPtr<const char> path, uid_t uid, gid_t gid, int flags) {
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return error(EINVAL);
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(dirfd, path, flags));
    return do_chown(*vnode, uid, gid);
}

// Implements utimensat(2) (a null path means the file dirfd refers to, as futimens uses it).
ErrorOr<long> sys_utimensat(int dirfd, UserPtr<const char> path, UserPtr<const struct timespec> times, int flags) {
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return error(EINVAL);
    vfs::Timestamp now = vfs::now();
    vfs::AttrChange change{.mask = vfs::ATTR_ATIME | vfs::ATTR_MTIME, .atime = now, .mtime = now};
    if (!times.is_null()) {
        struct timespec values[2];
        TRY(copy_from_user(values, UserPtr<const void>(times.address()), sizeof values));
        vfs::Timestamp* targets[2] = {&change.atime, &change.mtime};
        for (int i = 0; i < 2; ++i) {
            long nsec = values[i].tv_nsec;
            if (nsec == UTIME_OMIT_VALUE)
                change.mask &= ~(i == 0 ? vfs::ATTR_ATIME : vfs::ATTR_MTIME);
            else if (nsec == UTIME_NOW_VALUE)
                continue;
            else if (nsec < 0 || nsec >= 1000000000)
                return error(EINVAL);
            else
                *targets[i] = {values[i].tv_sec, nsec};
        }
    }
    RefPtr<vfs::Vnode> vnode;
    if (path.is_null()) {
        if (dirfd == AT_FDCWD) return error(EFAULT);
        RefPtr<vfs::File> file = TRY(file_for(dirfd, true));
        vnode = file->vnode();
    } else {
        vnode = TRY(resolve_at(dirfd, path, flags));
    }
    if (change.mask == 0) return 0;
    return set_attributes(*vnode, change);
}

// Implements truncate(2).
ErrorOr<long> sys_truncate(UserPtr<const char> path, off_t length) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return do_truncate(*vnode, length);
}

// Implements ftruncate(2).
ErrorOr<long> sys_ftruncate(int fd, off_t length) {
    if (length < 0) return error(EINVAL);
    RefPtr<vfs::File> file = TRY(file_for(fd));
    if (!file->writable()) return error(EINVAL);
    vfs::BigLockUnlessSafe big_lock(attributes_without_big_lock(*file->vnode()));
    return do_truncate(*file->vnode(), length);
}

// Implements fallocate(2).
ErrorOr<long> sys_fallocate(int fd, int mode, off_t offset, off_t length) {
    if (offset < 0 || length <= 0) return error(EINVAL);
    RefPtr<vfs::File> file = TRY(file_for(fd));
    if (!file->writable()) return error(EBADF);
    vfs::Vnode& vnode = *file->vnode();
    vfs::BigLockUnlessSafe big_lock(attributes_without_big_lock(vnode));
    if (vnode.is_directory()) return error(EISDIR);
    if (S_ISFIFO(vnode.mode())) return error(ESPIPE);
    if (!vnode.is_regular()) return error(ENODEV);
    TRY(vnode.allocate(mode, uint64_t(offset), uint64_t(length)));
    return 0;
}

// Implements fsync(2).
ErrorOr<long> sys_fsync(int fd) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    if (file->is_stream()) return error(EINVAL);
    // Dispatched without the big lock: nothing to write back for a file with locks of its own
    // (ramfs); the others (9p, hostfs, block devices, mapped files' page caches) take it.
    vfs::BigLockUnlessSafe big_lock(file->io_without_big_lock() && !file->vnode()->m_file_cache);
    TRY(file->sync());
    return 0;
}

// Implements fdatasync(2).
ErrorOr<long> sys_fdatasync(int fd) { return sys_fsync(fd); }

// Implements sync(2).
ErrorOr<long> sys_sync() {
    for (const vfs::Mount& mount : vfs::mounts()) (void)mount.fs->sync();
    return 0;
}

// Implements syncfs(2).
ErrorOr<long> sys_syncfs(int fd) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    TRY(file->vnode()->fs().sync());
    return 0;
}

// Implements statfs(2).
ErrorOr<long> sys_statfs(UserPtr<const char> path, UserPtr<struct statfs> out) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    return write_statfs(vnode->fs(), out);
}

// Implements fstatfs(2).
ErrorOr<long> sys_fstatfs(int fd, UserPtr<struct statfs> out) {
    RefPtr<vfs::File> file = TRY(file_for(fd, true));
    return write_statfs(file->vnode()->fs(), out);
}

// Implements umask(2). Without the big lock: one atomic exchange (the files' state may be
// shared, CLONE_FS); creations read it with an atomic load (vfs/operations.cpp).
ErrorOr<long> sys_umask(mode_t mask) {
    return __atomic_exchange_n(&vfs::process().umask, mask & 0777, __ATOMIC_RELAXED);
}

}  // namespace xos::sys
