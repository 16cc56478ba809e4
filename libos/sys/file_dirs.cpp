// Names: getdents64, mkdir(at), rmdir, unlink(at), rename(at)/renameat2, link(at),
// symlink(at), readlink(at), mknod(at), chdir/fchdir/getcwd.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "vfs/mount.h"
#include "vfs/operations.h"

namespace xos::sys {

namespace {

// Copies a path and picks its starting directory in one step.
struct PathAt {
    PathBuffer buffer;
    std::string_view text;
    StartDir start;
};

ErrorOr<void> path_at(int dirfd, UserPtr<const char> path, PathAt& out) {
    out.text = TRY(copy_path(path, out.buffer));
    out.start = TRY(start_at(dirfd, out.text));
    return {};
}

// Fills a getdents64 buffer.
class DirentWriter final : public vfs::DirSink {
public:
    // `buffer` is the app's: each record is built in libos memory and copied out fault-safely.
    DirentWriter(UserPtr<void> buffer, size_t size) : m_buffer(buffer), m_size(size) {}
    bool emit(const vfs::DirEntry& entry) override {
        size_t record = (offsetof(dirent64_header, name) + entry.name.size() + 1 + 7) & ~size_t(7);
        if (m_used + record > m_size) {
            m_full = true;
            return false;
        }
        char built[offsetof(dirent64_header, name) + vfs::NAME_MAX_BYTES + 1 + 8];
        if (record > sizeof built) return false;  // a name longer than NAME_MAX: not from our file systems
        dirent64_header header{entry.ino, int64_t(entry.next_cookie), uint16_t(record), entry.type};
        memcpy(built, &header, offsetof(dirent64_header, name));
        memcpy(built + offsetof(dirent64_header, name), entry.name.data(), entry.name.size());
        memset(built + offsetof(dirent64_header, name) + entry.name.size(), 0,
               record - offsetof(dirent64_header, name) - entry.name.size());
        if (!copy_to_user(m_buffer.offset(m_used), built, record)) {
            m_faulted = true;
            return false;
        }
        m_used += record;
        return true;
    }
    size_t used() const { return m_used; }
    bool full() const { return m_full; }
    bool faulted() const { return m_faulted; }

private:
    struct dirent64_header {
        uint64_t ino;
        int64_t off;
        uint16_t reclen;
        uint8_t type;
        char name[1];
    };
    UserPtr<void> m_buffer;
    size_t m_size;
    size_t m_used = 0;
    bool m_full = false;
    bool m_faulted = false;
};

// mkdir, rmdir, unlink, rename and symlink are dispatched without the big lock (docs/locking.md
// "Directory changes"): their walks and the drops of the vnodes they hold need none while every
// mounted file system walks without it (ramfs, procfs); else they hold it for their whole length.
// vfs/operations.cpp takes it around the directory operations of file systems without locks of
// their own. Declared before the paths, so that their references go with it held.
ErrorOr<long> do_mkdir(int dirfd, UserPtr<const char> path, mode_t mode) {
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());
    PathAt at;
    TRY(path_at(dirfd, path, at));
    TRY(vfs::make_directory(at.start.context, at.text, mode));
    return 0;
}

ErrorOr<long> do_remove(int dirfd, UserPtr<const char> path, vfs::RemoveKind kind) {
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());
    PathAt at;
    TRY(path_at(dirfd, path, at));
    TRY(vfs::remove(at.start.context, at.text, kind));
    return 0;
}

ErrorOr<long> do_rename(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path,
                        unsigned flags) {
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());
    PathAt from, to;
    TRY(path_at(old_dirfd, old_path, from));
    TRY(path_at(new_dirfd, new_path, to));
    TRY(vfs::rename(from.start.context, from.text, to.start.context, to.text, flags));
    return 0;
}

ErrorOr<long> do_link(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path,
                      int flags) {
    if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return error(EINVAL);
    PathAt to;
    if (flags & AT_EMPTY_PATH) {
        PathBuffer buffer;
        std::string_view text = TRY(copy_path(old_path, buffer, true));
        if (text.empty()) {
            TRY(path_at(new_dirfd, new_path, to));
            RefPtr<vfs::Vnode> source = TRY(resolve_at(old_dirfd, old_path, AT_EMPTY_PATH));
            vfs::ParentLookup lookup = TRY(vfs::resolve_parent(to.start.context, to.text));
            if (lookup.parent->lookup(lookup.name)) return error(EEXIST);
            if (source->is_directory()) return error(EPERM);
            if (&source->fs() != &lookup.parent->fs()) return error(EXDEV);
            TRY(lookup.parent->link(lookup.name, *source));
            return 0;
        }
    }
    PathAt from;
    TRY(path_at(old_dirfd, old_path, from));
    TRY(path_at(new_dirfd, new_path, to));
    vfs::Follow follow = (flags & AT_SYMLINK_FOLLOW) ? vfs::Follow::Yes : vfs::Follow::No;
    TRY(vfs::make_link(from.start.context, from.text, to.start.context, to.text, follow));
    return 0;
}

ErrorOr<long> do_symlink(UserPtr<const char> target, int dirfd, UserPtr<const char> path) {
    PathBuffer target_buffer;
    std::string_view target_text = TRY(copy_path(target, target_buffer));
    vfs::BigLockUnlessSafe big_lock(vfs::path_walks_without_big_lock());
    PathAt at;
    TRY(path_at(dirfd, path, at));
    TRY(vfs::make_symlink(target_text, at.start.context, at.text));
    return 0;
}

ErrorOr<long> do_readlink(int dirfd, UserPtr<const char> path, UserPtr<char> buffer, int size) {
    if (size <= 0) return error(EINVAL);
    PathBuffer path_buffer;
    std::string_view text = TRY(copy_path(path, path_buffer, true));
    StartDir start = TRY(start_at(dirfd, text));
    RefPtr<vfs::Vnode> vnode = text.empty() ? start.held : TRY(vfs::resolve(start.context, text, vfs::Follow::No));
    if (text.empty() && !vnode->is_symlink()) return error(ENOENT);
    KString target = TRY(vnode->readlink());
    size_t count = target.size() < size_t(size) ? target.size() : size_t(size);
    TRY(copy_to_user(UserPtr<void>(buffer.address()), target.c_str(), count));
    return long(count);
}

ErrorOr<long> do_mknod(int dirfd, UserPtr<const char> path, mode_t mode, dev_t device) {
    PathAt at;
    TRY(path_at(dirfd, path, at));
    TRY(vfs::make_node(at.start.context, at.text, mode, device));
    return 0;
}

}  // namespace

// Implements getdents64(2).
ErrorOr<long> sys_getdents64(int fd, UserPtr<void> buffer, unsigned count) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    if (!file->vnode()->is_directory()) return error(ENOTDIR);
    // Dispatched without the big lock: taken for directories of file systems that rely on it.
    vfs::BigLockUnlessSafe big_lock(file->io_without_big_lock());
    if (!user_range_writable(buffer.address(), count)) return error(EFAULT);
    DirentWriter writer(buffer, count);
    bool faulted = false;
    struct Sink final : vfs::DirSink {
        DirentWriter& writer;
        bool& faulted;
        Sink(DirentWriter& w, bool& f) : writer(w), faulted(f) {}
        bool emit(const vfs::DirEntry& entry) override {
            bool more = writer.emit(entry);
            faulted = writer.faulted();
            return more;
        }
    } sink(writer, faulted);
    TRY(file->read_entries(sink, faulted));
    if (writer.faulted()) return error(EFAULT);
    if (writer.used() == 0 && writer.full()) return error(EINVAL);
    return long(writer.used());
}

// Implements mkdir(2).
ErrorOr<long> sys_mkdir(UserPtr<const char> path, mode_t mode) { return do_mkdir(AT_FDCWD, path, mode); }
// Implements mkdirat(2).
ErrorOr<long> sys_mkdirat(int dirfd, UserPtr<const char> path, mode_t mode) { return do_mkdir(dirfd, path, mode); }

// Implements rmdir(2).
ErrorOr<long> sys_rmdir(UserPtr<const char> path) { return do_remove(AT_FDCWD, path, vfs::RemoveKind::Directory); }
// Implements unlink(2).
ErrorOr<long> sys_unlink(UserPtr<const char> path) { return do_remove(AT_FDCWD, path, vfs::RemoveKind::File); }

// Implements unlinkat(2).
ErrorOr<long> sys_unlinkat(int dirfd, UserPtr<const char> path, int flags) {
    if (flags & ~AT_REMOVEDIR) return error(EINVAL);
    return do_remove(dirfd, path, (flags & AT_REMOVEDIR) ? vfs::RemoveKind::Directory : vfs::RemoveKind::File);
}

// Implements rename(2).
ErrorOr<long> sys_rename(UserPtr<const char> old_path, UserPtr<const char> new_path) {
    return do_rename(AT_FDCWD, old_path, AT_FDCWD, new_path, 0);
}
// Implements renameat(2).
ErrorOr<long> sys_renameat(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path) {
    return do_rename(old_dirfd, old_path, new_dirfd, new_path, 0);
}
// Implements renameat2(2).
ErrorOr<long> sys_renameat2(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path,
                            unsigned flags) {
    return do_rename(old_dirfd, old_path, new_dirfd, new_path, flags);
}

// Implements link(2).
ErrorOr<long> sys_link(UserPtr<const char> old_path, UserPtr<const char> new_path) {
    return do_link(AT_FDCWD, old_path, AT_FDCWD, new_path, 0);
}
// Implements linkat(2).
ErrorOr<long> sys_linkat(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path,
                         int flags) {
    return do_link(old_dirfd, old_path, new_dirfd, new_path, flags);
}

// Implements symlink(2).
ErrorOr<long> sys_symlink(UserPtr<const char> target, UserPtr<const char> path) {
    return do_symlink(target, AT_FDCWD, path);
}
// Implements symlinkat(2).
ErrorOr<long> sys_symlinkat(UserPtr<const char> target, int dirfd, UserPtr<const char> path) {
    return do_symlink(target, dirfd, path);
}

// Implements readlink(2).
ErrorOr<long> sys_readlink(UserPtr<const char> path, UserPtr<char> buffer, int size) {
    return do_readlink(AT_FDCWD, path, buffer, size);
}
// Implements readlinkat(2).
ErrorOr<long> sys_readlinkat(int dirfd, UserPtr<const char> path, UserPtr<char> buffer, int size) {
    return do_readlink(dirfd, path, buffer, size);
}

// Implements mknod(2).
ErrorOr<long> sys_mknod(UserPtr<const char> path, mode_t mode, dev_t device) {
    return do_mknod(AT_FDCWD, path, mode, device);
}
// Implements mknodat(2).
ErrorOr<long> sys_mknodat(int dirfd, UserPtr<const char> path, mode_t mode, dev_t device) {
    return do_mknod(dirfd, path, mode, device);
}

// Implements chdir(2).
ErrorOr<long> sys_chdir(UserPtr<const char> path) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    if (!vnode->is_directory()) return error(ENOTDIR);
    vfs::process().set_directory(vfs::process().cwd, vnode);
    return 0;
}

// Implements chroot(2): path walks of "/" and ".." stop at the new root. The image is one
// process running as root, so no privilege check; the working directory is left alone (as Linux).
ErrorOr<long> sys_chroot(UserPtr<const char> path) {
    RefPtr<vfs::Vnode> vnode = TRY(resolve_at(AT_FDCWD, path, 0));
    if (!vnode->is_directory()) return error(ENOTDIR);
    vfs::process().set_directory(vfs::process().root, vnode);
    return 0;
}

// Implements fchdir(2).
ErrorOr<long> sys_fchdir(int fd) {
    RefPtr<vfs::File> file = TRY(file_for(fd, true));
    if (!file->vnode()->is_directory()) return error(ENOTDIR);
    vfs::process().set_directory(vfs::process().cwd, RefPtr<vfs::Vnode>(file->vnode()));
    return 0;
}

// Implements getcwd(2).
ErrorOr<long> sys_getcwd(UserPtr<char> buffer, size_t size) {
    char path[vfs::PATH_MAX_BYTES];
    vfs::Process& process = vfs::process();
    size_t length = TRY(vfs::directory_path(process.context(), process.cwd, path));
    if (length > size) return error(ERANGE);
    TRY(copy_to_user(UserPtr<void>(buffer.address()), path, length));
    return long(length);
}

}  // namespace xos::sys
