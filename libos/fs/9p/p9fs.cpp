#include "fs/9p/p9fs.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "mm/heap.h"
#include "vfs/file.h"

namespace xos::p9 {

namespace {

constexpr unsigned RENAME_EXCHANGE_FLAG = 2;

vfs::Timestamp timestamp(uint64_t sec, uint64_t nsec) { return {int64_t(sec), int64_t(nsec)}; }

}  // namespace

// --- the file system ---

ErrorOr<void> P9Fs::initialize(uint32_t root_fid) {
    m_root = TRY(vnode_for(root_fid));
    if (!m_root->is_directory()) return error(ENOTDIR);
    return {};
}

RefPtr<vfs::Vnode> P9Fs::root() { return m_root; }

ErrorOr<vfs::FsStats> P9Fs::statfs() {
    StatFs s = TRY(m_client.statfs(m_root->fid()));
    return vfs::FsStats{.magic = MAGIC,
                        .block_size = s.block_size,
                        .blocks = s.blocks,
                        .blocks_free = s.blocks_free,
                        .blocks_available = s.blocks_available,
                        .files = s.files,
                        .files_free = s.files_free,
                        .name_max = s.name_max,
                        .flags = 0};
}

ErrorOr<RefPtr<P9Vnode>> P9Fs::vnode_for(uint32_t fid) {
    auto attr = m_client.getattr(fid, GETATTR_ALL);
    if (!attr) {
        (void)m_client.clunk(fid);
        return std::unexpected(attr.error());
    }
    P9Vnode* existing = nullptr;
    m_vnodes.for_each([&](P9Vnode& vnode) {
        if (!existing && vnode.qid_path() == attr->qid.path && vnode.ref_count() > 0) existing = &vnode;
    });
    if (existing) {
        RefPtr<P9Vnode> held = existing;
        held->apply(*attr);
        (void)m_client.clunk(fid);
        return held;
    }
    P9Vnode* vnode = mm::kcreate<P9Vnode>(*this, fid, *attr);
    if (!vnode) {
        (void)m_client.clunk(fid);
        return error(ENOMEM);
    }
    m_vnodes.push_back(*vnode);
    return RefPtr<P9Vnode>(vnode);
}

void P9Fs::forget(uint64_t qid_path) {
    m_vnodes.for_each([&](P9Vnode& vnode) {
        if (vnode.qid_path() == qid_path && &vnode != m_root.get()) forget(vnode);
    });
}

// --- vnodes ---

P9Vnode::P9Vnode(P9Fs& fs, uint32_t fid, const Attr& attr) : Vnode(fs, attr.qid.path, attr.mode), m_fid(fid) {
    apply(attr);
}

P9Vnode::~P9Vnode() {
    p9fs().forget(*this);
    for (uint32_t fid : {m_rw_fid, m_read_fid, m_write_fid, m_dir_fid, m_fid})
        if (fid != NOFID) client().clunk_later(fid);  // no sleep here (client.h)
}

P9Fs& P9Vnode::p9fs() const { return static_cast<P9Fs&>(fs()); }
Client& P9Vnode::client() const { return p9fs().client(); }

void P9Vnode::apply(const Attr& a) {
    m_attr.ino = a.qid.path;
    m_attr.mode = (m_attr.mode & S_IFMT) | (a.mode & 07777);  // a vnode never changes type
    if (!(m_attr.mode & S_IFMT)) m_attr.mode = a.mode;
    m_attr.nlink = uint32_t(a.nlink);
    m_attr.uid = a.uid;
    m_attr.gid = a.gid;
    m_attr.rdev = dev_t(a.rdev);
    m_attr.size = a.size;
    m_attr.blocks = a.blocks;
    m_attr.block_size = uint32_t(a.block_size ? a.block_size : 4096);
    m_attr.atime = timestamp(a.atime_sec, a.atime_nsec);
    m_attr.mtime = timestamp(a.mtime_sec, a.mtime_nsec);
    m_attr.ctime = timestamp(a.ctime_sec, a.ctime_nsec);
    m_attr.btime = timestamp(a.btime_sec, a.btime_nsec);
}

uint32_t P9Vnode::any_open_fid() const {
    for (uint32_t fid : {m_rw_fid, m_write_fid, m_read_fid})
        if (fid != NOFID) return fid;
    return NOFID;
}

ErrorOr<vfs::Attributes> P9Vnode::getattr() {
    // An open fid still reaches a file that was unlinked meanwhile; the path fid does not.
    uint32_t fid = any_open_fid();
    auto attr = client().getattr(fid != NOFID ? fid : m_fid, GETATTR_ALL);
    if (!attr && fid != NOFID) attr = client().getattr(m_fid, GETATTR_ALL);
    apply(TRY(std::move(attr)));
    return m_attr;
}

ErrorOr<void> P9Vnode::setattr(const vfs::AttrChange& change) {
    if ((change.mask & vfs::ATTR_SIZE) && is_directory()) return error(EISDIR);
    if ((change.mask & vfs::ATTR_SIZE) && !is_regular()) return error(EINVAL);
    SetAttr s;
    // With the type bits, as Linux's v9fs sends them: QEMU's mapped security models store the
    // mode as given (user.virtfs.mode) and report it as the file's whole st_mode.
    if (change.mask & vfs::ATTR_MODE) s.valid |= SETATTR_MODE, s.mode = type() | (change.mode & 07777);
    if (change.mask & vfs::ATTR_UID) s.valid |= SETATTR_UID, s.uid = change.uid;
    if (change.mask & vfs::ATTR_GID) s.valid |= SETATTR_GID, s.gid = change.gid;
    if (change.mask & vfs::ATTR_SIZE) s.valid |= SETATTR_SIZE, s.size = change.size;
    if (change.mask & vfs::ATTR_ATIME) {
        s.valid |= SETATTR_ATIME | SETATTR_ATIME_SET;
        s.atime_sec = uint64_t(change.atime.sec), s.atime_nsec = uint64_t(change.atime.nsec);
    }
    if (change.mask & vfs::ATTR_MTIME) {
        s.valid |= SETATTR_MTIME | SETATTR_MTIME_SET;
        s.mtime_sec = uint64_t(change.mtime.sec), s.mtime_nsec = uint64_t(change.mtime.nsec);
    }
    if (!s.valid) return {};
    s.valid |= SETATTR_CTIME;
    TRY(client().setattr(m_fid, s));
    if (auto attr = client().getattr(m_fid, GETATTR_ALL)) apply(*attr);
    return {};
}

ErrorOr<RefPtr<vfs::Vnode>> P9Vnode::lookup(std::string_view name) {
    if (!is_directory()) return error(ENOTDIR);
    if (name.size() > 255) return error(ENAMETOOLONG);
    const std::string_view names[] = {name};
    uint32_t fid = TRY(client().walk(m_fid, names));
    return RefPtr<vfs::Vnode>(TRY(p9fs().vnode_for(fid)));
}

ErrorOr<RefPtr<vfs::Vnode>> P9Vnode::create(std::string_view name, mode_t mode, dev_t rdev, uid_t, gid_t gid) {
    if (!is_directory()) return error(ENOTDIR);
    if (name.size() > 255) return error(ENAMETOOLONG);
    switch (mode & S_IFMT) {
    case S_IFREG: {
        // Tlcreate turns a clone of the directory's fid into the new file, opened read-write;
        // it becomes the vnode's I/O fid (creat(2) with mode 0444 still returns a writable fd).
        const std::string_view none[1] = {};
        uint32_t open_fid = TRY(client().walk(m_fid, std::span(none, size_t(0))));
        auto created = client().lcreate(open_fid, name, L_RDWR | L_CREAT | L_EXCL, mode & 07777, gid);
        if (!created) {
            (void)client().clunk(open_fid);
            return std::unexpected(created.error());
        }
        auto found = lookup(name);
        if (!found) {
            (void)client().clunk(open_fid);
            return found;
        }
        static_cast<P9Vnode&>(**found).adopt_open_fid(open_fid);
        return found;
    }
    case S_IFDIR: TRY(client().mkdir(m_fid, name, mode & 07777, gid)); break;
    default: TRY(client().mknod(m_fid, name, mode, major(rdev), minor(rdev), gid)); break;
    }
    return lookup(name);
}

void P9Vnode::adopt_open_fid(uint32_t fid) {
    if (m_rw_fid == NOFID)
        m_rw_fid = fid;
    else
        (void)client().clunk(fid);
}

ErrorOr<void> P9Vnode::symlink(std::string_view name, std::string_view target, uid_t, gid_t gid) {
    if (!is_directory()) return error(ENOTDIR);
    TRY(client().symlink(m_fid, name, target, gid));
    return {};
}

ErrorOr<void> P9Vnode::link(std::string_view name, vfs::Vnode& target) {
    if (!is_directory()) return error(ENOTDIR);
    if (&target.fs() != &fs()) return error(EXDEV);
    return client().link(m_fid, static_cast<P9Vnode&>(target).fid(), name);
}

std::optional<uint64_t> P9Vnode::qid_path_of(std::string_view name) {
    const std::string_view names[] = {name};
    Qid qid;
    auto fid = client().walk(m_fid, names, &qid);
    if (!fid) return std::nullopt;
    (void)client().clunk(*fid);
    return qid.path;
}

ErrorOr<void> P9Vnode::remove(std::string_view name, vfs::RemoveKind kind) {
    if (!is_directory()) return error(ENOTDIR);
    auto victim = qid_path_of(name);
    TRY(client().unlinkat(m_fid, name, kind == vfs::RemoveKind::Directory ? AT_REMOVEDIR_FLAG : 0));
    if (victim) p9fs().forget(*victim);
    return {};
}

ErrorOr<void> P9Vnode::rename(std::string_view old_name, vfs::Vnode& new_dir, std::string_view new_name,
                              unsigned flags) {
    if (!is_directory() || !new_dir.is_directory()) return error(ENOTDIR);
    if (&new_dir.fs() != &fs()) return error(EXDEV);
    // 9P has no atomic exchange (Linux's v9fs refuses every flag the same way); NOREPLACE was
    // checked by the VFS just before.
    if (flags & RENAME_EXCHANGE_FLAG) return error(EINVAL);
    auto& target_dir = static_cast<P9Vnode&>(new_dir);
    auto replaced = target_dir.qid_path_of(new_name);
    auto moved = replaced ? qid_path_of(old_name) : std::nullopt;
    TRY(client().renameat(m_fid, old_name, target_dir.fid(), new_name));
    if (replaced && replaced != moved) p9fs().forget(*replaced);
    return {};
}

ErrorOr<uint32_t> P9Vnode::open_clone(uint32_t flags) {
    const std::string_view none[1] = {};
    uint32_t fid = TRY(client().walk(m_fid, std::span(none, size_t(0))));
    auto opened = client().lopen(fid, flags);
    if (!opened) {
        (void)client().clunk(fid);
        return std::unexpected(opened.error());
    }
    return fid;
}

ErrorOr<void> P9Vnode::readdir(uint64_t& cookie, vfs::DirSink& sink) {
    if (!is_directory()) return error(ENOTDIR);
    if (m_dir_fid == NOFID) {
        uint32_t fid = TRY(open_clone(L_RDONLY | L_DIRECTORY));
        if (m_dir_fid == NOFID)
            m_dir_fid = fid;  // another thread may have opened one meanwhile
        else
            (void)client().clunk(fid);
    }
    // The server's entry offsets are the cookies (0 is the start, "." and ".." included).
    for (;;) {
        bool full = false;
        size_t entries = TRY(client().readdir(m_dir_fid, cookie, [&](const Dirent& entry) {
            vfs::DirEntry out{
                .ino = entry.qid.path, .next_cookie = entry.offset, .type = entry.type, .name = entry.name};
            if (!sink.emit(out)) {
                full = true;
                return false;
            }
            cookie = entry.offset;
            return true;
        }));
        if (entries == 0 || full) return {};
    }
}

ErrorOr<uint32_t> P9Vnode::io_fid(Access access) {
    for (;;) {
        if (m_rw_fid != NOFID) return m_rw_fid;
        uint32_t& specific = access == Access::Read ? m_read_fid : m_write_fid;
        if (specific != NOFID) return specific;
        if (!m_rw_refused) {
            auto fid = open_clone(L_RDWR);
            if (fid) {
                if (m_rw_fid == NOFID)
                    m_rw_fid = *fid;  // re-checked: the open blocked
                else
                    (void)client().clunk(*fid);
                continue;
            }
            if (fid.error().code != EACCES && fid.error().code != EROFS && fid.error().code != EPERM &&
                fid.error().code != ETXTBSY)
                return std::unexpected(fid.error());
            m_rw_refused = true;
        }
        uint32_t fid = TRY(open_clone(access == Access::Read ? L_RDONLY : L_WRONLY));
        if (specific == NOFID)
            specific = fid;
        else
            (void)client().clunk(fid);
    }
}

ErrorOr<RefPtr<vfs::File>> P9Vnode::open(int flags) {
    // Regular files open their I/O fid now, so that permission errors come from open(2).
    if (is_regular() && !(flags & O_PATH)) {
        int mode = flags & O_ACCMODE;
        if (mode != O_WRONLY) TRY(io_fid(Access::Read));
        if (mode != O_RDONLY) TRY(io_fid(Access::Write));
    }
    return RefPtr<vfs::File>();
}

ErrorOr<size_t> P9Vnode::read(uint64_t offset, std::span<std::byte> buffer) {
    if (is_directory()) return error(EISDIR);
    if (!is_regular()) return error(EINVAL);
    uint32_t fid = TRY(io_fid(Access::Read));
    size_t done = 0;
    while (done < buffer.size()) {
        size_t wanted = buffer.size() - done;
        auto n = client().read(fid, offset + done, buffer.subspan(done));
        if (!n) {
            if (done) break;
            return std::unexpected(n.error());
        }
        done += *n;
        if (*n == 0 || (*n < wanted && *n < client().msize() - READ_OVERHEAD)) break;  // end of file
    }
    return done;
}

ErrorOr<size_t> P9Vnode::write(uint64_t offset, std::span<const std::byte> data) {
    if (is_directory()) return error(EISDIR);
    if (!is_regular()) return error(EINVAL);
    uint32_t fid = TRY(io_fid(Access::Write));
    size_t done = 0;
    while (done < data.size()) {
        auto n = client().write(fid, offset + done, data.subspan(done));
        if (!n) {
            if (done) break;  // a short write, as Linux reports a failure part-way
            return std::unexpected(n.error());
        }
        if (*n == 0) break;
        done += *n;
    }
    if (offset + done > m_attr.size) m_attr.size = offset + done;
    return done;
}

ErrorOr<void> P9Vnode::truncate(uint64_t size) {
    vfs::AttrChange change;
    change.mask = vfs::ATTR_SIZE;
    change.size = size;
    return setattr(change);
}

ErrorOr<void> P9Vnode::sync() {
    uint32_t fid = any_open_fid();
    if (fid == NOFID) return {};  // nothing written through this vnode is pending anywhere but the host
    return client().fsync(fid, false);
}

ErrorOr<KString> P9Vnode::readlink() {
    if (!is_symlink()) return error(EINVAL);
    return client().readlink(m_fid);
}

}  // namespace xos::p9
