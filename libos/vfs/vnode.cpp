#include "vfs/vnode.h"

#include "mm/heap.h"

#include <dirent.h>
#include <sys/statfs.h>

#include "vfs/file.h"

namespace xos::vfs {

namespace {
uint64_t g_next_dev = 1;
}

Vnode::Vnode(Filesystem& fs, uint64_t ino, mode_t mode) : m_fs(&fs) {
    m_attr.ino = ino;
    m_attr.dev = fs.dev();
    m_attr.mode = mode;
    Timestamp t = now();
    m_attr.atime = m_attr.mtime = m_attr.ctime = m_attr.btime = t;
}

Vnode::~Vnode() {
    if (m_file_cache && g_file_cache_hooks.destroyed) g_file_cache_hooks.destroyed(*this);
}

ErrorOr<Attributes> Vnode::getattr() { return m_attr; }

ErrorOr<void> Vnode::setattr(const AttrChange& change) {
    if (change.mask & ATTR_SIZE) {
        if (is_directory()) return error(EISDIR);
        if (!is_regular()) return error(EINVAL);
        TRY(truncate(change.size));
    }
    apply_attributes(change);
    return {};
}

void Vnode::apply_attributes(const AttrChange& change) {
    if (change.mask & ATTR_MODE) m_attr.mode = (m_attr.mode & S_IFMT) | (change.mode & 07777);
    if (change.mask & ATTR_UID) m_attr.uid = change.uid;
    if (change.mask & ATTR_GID) m_attr.gid = change.gid;
    if (change.mask & ATTR_ATIME) m_attr.atime = change.atime;
    if (change.mask & ATTR_MTIME) m_attr.mtime = change.mtime;
    touch_ctime();
}

ErrorOr<RefPtr<Vnode>> Vnode::lookup(std::string_view) { return error(ENOTDIR); }
ErrorOr<RefPtr<Vnode>> Vnode::create(std::string_view, mode_t, dev_t, uid_t, gid_t) { return error(ENOTDIR); }
ErrorOr<void> Vnode::symlink(std::string_view, std::string_view, uid_t, gid_t) { return error(ENOTDIR); }
ErrorOr<void> Vnode::link(std::string_view, Vnode&) { return error(ENOTDIR); }
ErrorOr<void> Vnode::remove(std::string_view, RemoveKind) { return error(ENOTDIR); }
ErrorOr<void> Vnode::rename(std::string_view, Vnode&, std::string_view, unsigned) { return error(ENOTDIR); }
ErrorOr<void> Vnode::readdir(uint64_t&, DirSink&) { return error(ENOTDIR); }

ErrorOr<size_t> Vnode::read(uint64_t, std::span<std::byte>) { return error(is_directory() ? EISDIR : EINVAL); }
ErrorOr<size_t> Vnode::write(uint64_t, std::span<const std::byte>) { return error(is_directory() ? EISDIR : EINVAL); }
ErrorOr<void> Vnode::truncate(uint64_t) { return error(is_directory() ? EISDIR : EINVAL); }
ErrorOr<void> Vnode::allocate(int, uint64_t, uint64_t) { return error(is_directory() ? EISDIR : ENODEV); }
ErrorOr<void> Vnode::sync() { return {}; }

ErrorOr<KString> Vnode::readlink() { return error(EINVAL); }
ErrorOr<RefPtr<Vnode>> Vnode::follow_magic_link() { return RefPtr<Vnode>(); }
ErrorOr<RefPtr<File>> Vnode::open(int) { return RefPtr<File>(); }

void Vnode::touch_mtime() { m_attr.mtime = m_attr.ctime = now(); }
void Vnode::touch_ctime() { m_attr.ctime = now(); }

void Filesystem::operator delete(void* object) { mm::kfree(object); }

Filesystem::Filesystem(const char* type_name, uint64_t magic)
    : m_type_name(type_name), m_magic(magic), m_dev(g_next_dev++) {}

ErrorOr<FsStats> Filesystem::statfs() {
    return FsStats{.magic = m_magic,
                   .block_size = 4096,
                   .blocks = 0,
                   .blocks_free = 0,
                   .blocks_available = 0,
                   .files = 0,
                   .files_free = 0,
                   .name_max = 255,
                   .flags = 0};
}

unsigned char dirent_type(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_UNKNOWN;
    }
}

}  // namespace xos::vfs
