#include "fs/hostfs/hostfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "fs/hostfs/mapped.h"
#include "mm/heap.h"
#include "vfs/file.h"
#include "xos/hostfs.h"

namespace xos::hostfs {

namespace host = platform::hostfs;

namespace {

constexpr size_t NAME_MAX_BYTES = 255;
constexpr long UTIME_OMIT_VALUE = (1l << 30) - 2;

// A host call's result: the value, or the host's errno.
ErrorOr<long> check(long result) {
    if (result < 0) return error(int(-result));
    return result;
}

vfs::Timestamp timestamp(const struct timespec& t) { return {int64_t(t.tv_sec), int64_t(t.tv_nsec)}; }

void close_handle(int& handle) {
    if (handle >= 0) (void)host::close(handle);
    handle = -1;
}

// Keeps the first of two handles opened concurrently (the open may have been preempted).
void keep(int& slot, int handle) {
    if (slot < 0)
        slot = handle;
    else
        (void)host::close(handle);
}

}  // namespace

// --- the file system ---

ErrorOr<void> HostFs::initialize(int root_handle) {
    // The platform owns the share's root handle: the root vnode works on a copy of its own.
    long handle = TRY(check(host::reopen(root_handle, O_PATH)));
    m_root = TRY(vnode_for(int(handle)));
    if (!m_root->is_directory()) return error(ENOTDIR);
    return {};
}

RefPtr<vfs::Vnode> HostFs::root() { return m_root; }

ErrorOr<vfs::FsStats> HostFs::statfs() {
    struct statfs s{};
    TRY(check(host::statfs(m_root->handle(), &s)));
    return vfs::FsStats{.magic = uint64_t(s.f_type),
                        .block_size = uint64_t(s.f_bsize),
                        .blocks = s.f_blocks,
                        .blocks_free = s.f_bfree,
                        .blocks_available = s.f_bavail,
                        .files = s.f_files,
                        .files_free = s.f_ffree,
                        .name_max = uint64_t(s.f_namelen),
                        .flags = uint64_t(s.f_flags) | (read_only() ? ST_RDONLY : 0)};
}

ErrorOr<void> HostFs::stat(int handle, struct stat& st) {
    TRY(check(host::stat(handle, &st)));
    if (mapped()) load_mapped(handle, st);
    return {};
}

ErrorOr<RefPtr<HostVnode>> HostFs::vnode_for(int handle) {
    struct stat st{};
    if (auto r = stat(handle, st); !r) {
        (void)host::close(handle);
        return std::unexpected(r.error());
    }
    HostVnode* existing = nullptr;
    m_vnodes.for_each([&](HostVnode& vnode) {
        if (!existing && vnode.ino() == uint64_t(st.st_ino) && vnode.host_dev() == uint64_t(st.st_dev) &&
            vnode.ref_count() > 0)
            existing = &vnode;
    });
    if (existing) {
        RefPtr<HostVnode> held = existing;
        held->apply(st);
        (void)host::close(handle);
        return held;
    }
    HostVnode* vnode = mm::kcreate<HostVnode>(*this, handle, st);
    if (!vnode) {
        (void)host::close(handle);
        return error(ENOMEM);
    }
    m_vnodes.push_back(*vnode);
    return RefPtr<HostVnode>(vnode);
}

// --- vnodes ---

HostVnode::HostVnode(HostFs& fs, int handle, const struct stat& st)
    : Vnode(fs, uint64_t(st.st_ino), st.st_mode), m_handle(handle), m_host_dev(uint64_t(st.st_dev)) {
    apply(st);
}

HostVnode::~HostVnode() {
    hostfs().forget(*this);
    for (int* handle : {&m_rw, &m_read, &m_write, &m_dir, &m_handle}) close_handle(*handle);
}

HostFs& HostVnode::hostfs() const { return static_cast<HostFs&>(fs()); }

void HostVnode::apply(const struct stat& st) {
    m_attr.ino = uint64_t(st.st_ino);
    m_attr.mode = (m_attr.mode & S_IFMT) | (st.st_mode & 07777);  // a vnode never changes type
    m_attr.nlink = uint32_t(st.st_nlink);
    m_attr.uid = st.st_uid;
    m_attr.gid = st.st_gid;
    m_attr.rdev = st.st_rdev;
    m_attr.size = uint64_t(st.st_size);
    m_attr.blocks = uint64_t(st.st_blocks);
    m_attr.block_size = uint32_t(st.st_blksize ? st.st_blksize : 4096);
    m_attr.atime = timestamp(st.st_atim);
    m_attr.mtime = timestamp(st.st_mtim);
    m_attr.ctime = timestamp(st.st_ctim);
}

int HostVnode::any_io_handle() const {
    for (int handle : {m_rw, m_write, m_read})
        if (handle >= 0) return handle;
    return -1;
}

ErrorOr<vfs::Attributes> HostVnode::getattr() {
    // The path handle keeps naming the file after an unlink, unlike a 9p path fid.
    struct stat st{};
    TRY(hostfs().stat(m_handle, st));
    apply(st);
    return m_attr;
}

ErrorOr<void> HostVnode::setattr(const vfs::AttrChange& change) {
    if ((change.mask & vfs::ATTR_SIZE) && is_directory()) return error(EISDIR);
    if ((change.mask & vfs::ATTR_SIZE) && !is_regular()) return error(EINVAL);
    if (hostfs().read_only()) return error(EROFS);
    // Mapped: owners and modes go to the stored attributes, never to the host file (a host
    // symlink has none: chmod fails with EOPNOTSUPP, as on Linux, and chown goes to the host).
    bool mapped = hostfs().mapped() && !(is_symlink() && TRY(is_host_symlink()));
    if (mapped && (change.mask & (vfs::ATTR_UID | vfs::ATTR_GID | vfs::ATTR_MODE))) {
        MappedAttributes stored;
        if (change.mask & vfs::ATTR_UID) stored.valid |= MappedAttributes::UID, stored.uid = change.uid;
        if (change.mask & vfs::ATTR_GID) stored.valid |= MappedAttributes::GID, stored.gid = change.gid;
        if (change.mask & vfs::ATTR_MODE)
            stored.valid |= MappedAttributes::MODE, stored.mode = type() | (change.mode & 07777);
        TRY(store_mapped(m_handle, stored));
    } else {
        if (change.mask & (vfs::ATTR_UID | vfs::ATTR_GID)) {
            uid_t uid = (change.mask & vfs::ATTR_UID) ? change.uid : uid_t(-1);
            gid_t gid = (change.mask & vfs::ATTR_GID) ? change.gid : gid_t(-1);
            TRY(check(host::chown(m_handle, uid, gid)));
        }
        if (change.mask & vfs::ATTR_MODE) TRY(check(host::chmod(m_handle, change.mode & 07777)));
    }
    if (change.mask & vfs::ATTR_SIZE) {
        int io = TRY(io_handle(Access::Write));
        TRY(check(host::truncate(io, change.size)));
    }
    if (change.mask & (vfs::ATTR_ATIME | vfs::ATTR_MTIME)) {
        struct timespec times[2] = {{0, UTIME_OMIT_VALUE}, {0, UTIME_OMIT_VALUE}};
        if (change.mask & vfs::ATTR_ATIME) times[0] = {time_t(change.atime.sec), long(change.atime.nsec)};
        if (change.mask & vfs::ATTR_MTIME) times[1] = {time_t(change.mtime.sec), long(change.mtime.nsec)};
        TRY(check(host::set_times(m_handle, times)));
    }
    (void)getattr();
    return {};
}

ErrorOr<RefPtr<vfs::Vnode>> HostVnode::lookup(std::string_view name) {
    if (!is_directory()) return error(ENOTDIR);
    if (name == "..") {
        if (this == hostfs().root().get()) return RefPtr<vfs::Vnode>(this);  // the VFS leaves the mount first
        long parent = TRY(check(host::lookup_parent(m_handle)));
        return RefPtr<vfs::Vnode>(TRY(hostfs().vnode_for(int(parent))));
    }
    if (name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    long handle = TRY(check(host::lookup(m_handle, name, 0)));
    return RefPtr<vfs::Vnode>(TRY(hostfs().vnode_for(int(handle))));
}

// The vnode for a file just created (`handle` a fresh path handle), with exactly `mode`: the
// host's default ACLs may have changed it (QEMU's 9p server chmods after creating, too).
ErrorOr<RefPtr<vfs::Vnode>> HostVnode::created(long handle, mode_t mode) {
    RefPtr<HostVnode> vnode = TRY(hostfs().vnode_for(int(TRY(check(handle)))));
    if ((vnode->mode() & 07777) != (mode & 07777) && !vnode->is_symlink()) {
        TRY(check(host::chmod(vnode->handle(), mode & 07777)));
        (void)vnode->getattr();
    }
    return RefPtr<vfs::Vnode>(vnode);
}

ErrorOr<bool> HostVnode::is_host_symlink() const {
    struct stat st{};
    TRY(check(host::stat(m_handle, &st)));
    return S_ISLNK(st.st_mode);
}

// Mapped: a plain host file (a directory for a directory) of the user running the image, with
// the guest's owner, mode, type and device number stored on it, as QEMU's mapped-xattr model
// does. If they cannot be stored (a host file system without user xattrs), the file goes again.
ErrorOr<RefPtr<vfs::Vnode>> HostVnode::create_mapped(std::string_view name, mode_t mode, dev_t rdev, uid_t uid,
                                                     gid_t gid, std::string_view content) {
    MappedAttributes stored{.valid = MappedAttributes::UID | MappedAttributes::GID | MappedAttributes::MODE,
                            .uid = uid,
                            .gid = gid,
                            .mode = mode,
                            .rdev = rdev};
    bool directory = S_ISDIR(mode);
    int io = -1;
    long path;
    if (directory) {
        TRY(check(host::make_directory(m_handle, name, MAPPED_DIR_MODE)));
        path = host::lookup(m_handle, name, O_DIRECTORY);
    } else {
        if (S_ISCHR(mode) || S_ISBLK(mode) || S_ISFIFO(mode) || S_ISSOCK(mode)) stored.valid |= MappedAttributes::RDEV;
        io = int(TRY(check(host::create_file(m_handle, name, MAPPED_FILE_MODE))));
        path = host::reopen(io, O_PATH);
        if (path >= 0 && !content.empty()) {
            long written = host::write(io, content.data(), content.size(), 0);
            if (written != long(content.size())) {
                (void)host::close(int(path));
                path = written < 0 ? written : -EIO;
            }
        }
    }
    ErrorOr<void> done = path < 0 ? ErrorOr<void>(error(int(-path))) : store_mapped(int(path), stored);
    if (!done) {
        if (path >= 0) (void)host::close(int(path));
        if (io >= 0) (void)host::close(io);
        (void)host::remove(m_handle, name, directory ? AT_REMOVEDIR : 0);
        return std::unexpected(done.error());
    }
    auto vnode = hostfs().vnode_for(int(path));
    if (!vnode || !S_ISREG(mode)) {
        if (io >= 0) (void)host::close(io);
        if (!vnode) return std::unexpected(vnode.error());
    } else {
        (*vnode)->adopt_io_handle(io);
    }
    return RefPtr<vfs::Vnode>(*vnode);
}

// Passthrough: uid and gid are not passed on: files the guest creates belong to the user running
// the image, as with 9p's security_model=none.
ErrorOr<RefPtr<vfs::Vnode>> HostVnode::create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) {
    if (!is_directory()) return error(ENOTDIR);
    if (hostfs().read_only()) return error(EROFS);
    if (name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    if (hostfs().mapped()) return create_mapped(name, mode, rdev, uid, gid);
    switch (mode & S_IFMT) {
    case S_IFREG: {
        // Opened read-write by the creation itself; the handle becomes the vnode's I/O handle
        // (creat(2) with mode 0444 still returns a writable descriptor).
        int io = int(TRY(check(host::create_file(m_handle, name, mode))));
        auto vnode = created(host::reopen(io, O_PATH), mode);
        if (!vnode) {
            (void)host::close(io);
            return vnode;
        }
        static_cast<HostVnode&>(**vnode).adopt_io_handle(io);
        return vnode;
    }
    case S_IFDIR:
        TRY(check(host::make_directory(m_handle, name, mode)));
        return created(host::lookup(m_handle, name, O_DIRECTORY), mode);
    default:
        TRY(check(host::make_node(m_handle, name, mode, rdev)));
        return created(host::lookup(m_handle, name, 0), mode);
    }
}

void HostVnode::adopt_io_handle(int io) { keep(m_rw, io); }

ErrorOr<void> HostVnode::symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) {
    if (!is_directory()) return error(ENOTDIR);
    if (hostfs().read_only()) return error(EROFS);
    if (name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    if (!hostfs().mapped()) {
        TRY(check(host::make_symlink(m_handle, name, target)));
        return {};
    }
    // Mapped: a regular file holding the target (as QEMU's mapped-xattr model stores one).
    if (target.empty()) return error(ENOENT);
    if (target.size() >= 4096) return error(ENAMETOOLONG);
    TRY(create_mapped(name, S_IFLNK | 0777, 0, uid, gid, target));
    return {};
}

ErrorOr<void> HostVnode::link(std::string_view name, vfs::Vnode& target) {
    if (!is_directory()) return error(ENOTDIR);
    if (&target.fs() != &fs()) return error(EXDEV);
    if (hostfs().read_only()) return error(EROFS);
    if (name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    TRY(check(host::make_link(static_cast<HostVnode&>(target).handle(), m_handle, name)));
    return {};
}

ErrorOr<void> HostVnode::remove(std::string_view name, vfs::RemoveKind kind) {
    if (!is_directory()) return error(ENOTDIR);
    if (hostfs().read_only()) return error(EROFS);
    if (name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    TRY(check(host::remove(m_handle, name, kind == vfs::RemoveKind::Directory ? AT_REMOVEDIR : 0)));
    return {};
}

ErrorOr<void> HostVnode::rename(std::string_view old_name, vfs::Vnode& new_dir, std::string_view new_name,
                                unsigned flags) {
    if (!is_directory() || !new_dir.is_directory()) return error(ENOTDIR);
    if (&new_dir.fs() != &fs()) return error(EXDEV);
    if (hostfs().read_only()) return error(EROFS);
    if (old_name.size() > NAME_MAX_BYTES || new_name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    TRY(check(host::rename(m_handle, old_name, static_cast<HostVnode&>(new_dir).handle(), new_name, flags)));
    return {};
}

ErrorOr<void> HostVnode::readdir(uint64_t& cookie, vfs::DirSink& sink) {
    if (!is_directory()) return error(ENOTDIR);
    if (m_dir < 0) keep(m_dir, int(TRY(check(host::reopen(m_handle, O_RDONLY | O_DIRECTORY)))));
    // linux_dirent64 records; the host's d_off values are the cookies (0 is the start, "." and
    // ".." included, as the host lists them).
    alignas(8) std::byte buffer[2048];
    for (;;) {
        size_t length = size_t(TRY(check(host::read_directory(m_dir, cookie, buffer, sizeof buffer))));
        if (length == 0) return {};
        for (size_t at = 0; at + 19 < length;) {
            uint64_t ino, next;
            uint16_t record;
            memcpy(&ino, buffer + at, 8);
            memcpy(&next, buffer + at + 8, 8);
            memcpy(&record, buffer + at + 16, 2);
            if (record < 20 || at + record > length) return error(EIO);
            // Mapped: a host file's type is not the guest's (QEMU's mapped-xattr says DT_UNKNOWN too).
            auto type = hostfs().mapped() ? static_cast<unsigned char>(DT_UNKNOWN)
                                          : static_cast<unsigned char>(buffer[at + 18]);
            const char* name = reinterpret_cast<const char*>(buffer + at + 19);
            vfs::DirEntry entry{
                .ino = ino, .next_cookie = next, .type = type, .name = {name, strnlen(name, record - 19)}};
            if (!sink.emit(entry)) return {};
            cookie = next;
            at += record;
        }
    }
}

ErrorOr<int> HostVnode::io_handle(Access access) {
    if (hostfs().read_only()) {
        if (access == Access::Write) return error(EROFS);
        m_rw_refused = true;  // read-only handles only
    }
    for (;;) {
        if (m_rw >= 0) return m_rw;
        int& specific = access == Access::Read ? m_read : m_write;
        if (specific >= 0) return specific;
        if (!m_rw_refused) {
            long io = host::reopen(m_handle, O_RDWR);
            if (io >= 0) {
                keep(m_rw, int(io));  // re-checked: the open may have been preempted
                continue;
            }
            if (io != -EACCES && io != -EROFS && io != -EPERM && io != -ETXTBSY) return error(int(-io));
            m_rw_refused = true;
        }
        long io = TRY(check(host::reopen(m_handle, access == Access::Read ? O_RDONLY : O_WRONLY)));
        keep(specific, int(io));
    }
}

ErrorOr<RefPtr<vfs::File>> HostVnode::open(int flags) {
    // Regular files open their I/O handle now, so that permission errors come from open(2).
    if (is_regular() && !(flags & O_PATH)) {
        int mode = flags & O_ACCMODE;
        if (mode != O_WRONLY) TRY(io_handle(Access::Read));
        if (mode != O_RDONLY) TRY(io_handle(Access::Write));
    }
    return RefPtr<vfs::File>();
}

ErrorOr<size_t> HostVnode::read(uint64_t offset, std::span<std::byte> buffer) {
    if (is_directory()) return error(EISDIR);
    if (!is_regular()) return error(EINVAL);
    int io = TRY(io_handle(Access::Read));
    size_t done = 0;
    while (done < buffer.size()) {
        long n = host::read(io, buffer.data() + done, buffer.size() - done, offset + done);
        if (n < 0) {
            if (done) break;
            return error(int(-n));
        }
        if (n == 0) break;  // end of file
        done += size_t(n);
    }
    return done;
}

ErrorOr<size_t> HostVnode::write(uint64_t offset, std::span<const std::byte> data) {
    if (is_directory()) return error(EISDIR);
    if (!is_regular()) return error(EINVAL);
    int io = TRY(io_handle(Access::Write));
    size_t done = 0;
    while (done < data.size()) {
        long n = host::write(io, data.data() + done, data.size() - done, offset + done);
        if (n < 0) {
            if (done) break;  // a short write, as Linux reports a failure part-way
            return error(int(-n));
        }
        if (n == 0) break;
        done += size_t(n);
    }
    if (offset + done > m_attr.size) m_attr.size = offset + done;
    return done;
}

ErrorOr<void> HostVnode::truncate(uint64_t size) {
    vfs::AttrChange change;
    change.mask = vfs::ATTR_SIZE;
    change.size = size;
    return setattr(change);
}

ErrorOr<void> HostVnode::allocate(int mode, uint64_t offset, uint64_t length) {
    if (is_directory()) return error(EISDIR);
    if (!is_regular()) return error(ENODEV);
    int io = TRY(io_handle(Access::Write));
    TRY(check(host::allocate(io, mode, offset, length)));
    return {};
}

ErrorOr<void> HostVnode::sync() {
    int io = any_io_handle();
    if (io < 0) return {};  // nothing was written through this vnode
    TRY(check(host::sync(io, false)));
    return {};
}

ErrorOr<KString> HostVnode::readlink() {
    if (!is_symlink()) return error(EINVAL);
    char target[4096];
    long n;
    if (hostfs().mapped() && !TRY(is_host_symlink())) {
        // Mapped: the target is the content of a plain host file.
        long io = TRY(check(host::reopen(m_handle, O_RDONLY)));
        n = host::read(int(io), target, sizeof target, 0);
        (void)host::close(int(io));
        TRY(check(n));
    } else {
        n = TRY(check(host::read_link(m_handle, target, sizeof target)));
    }
    if (size_t(n) >= sizeof target) return error(ENAMETOOLONG);
    return KString::from({target, size_t(n)});
}

}  // namespace xos::hostfs
