// overlay: the file system, lookup, attributes, file I/O and copy-up (directories: overlay_dir.cpp).
#include "fs/overlay/overlay.h"

#include <fcntl.h>

#include <cstdio>

#include "mm/heap.h"
#include "vfs/file.h"

namespace xos::fs {

using vfs::Vnode;

bool is_whiteout(const Vnode& vnode) { return S_ISCHR(vnode.m_attr.mode) && vnode.m_attr.rdev == 0; }

bool is_reserved_name(std::string_view name) { return name.starts_with(OVERLAY_RESERVED_PREFIX); }

// --- the file system ---

OverlayFs::OverlayFs(RefPtr<Vnode> lower_root, RamFs& upper)
    : Filesystem("overlay", OVERLAYFS_SUPER_MAGIC), m_lower_root(static_cast<RefPtr<Vnode>&&>(lower_root)),
      m_upper(upper) {}

OverlayFs::~OverlayFs() = default;

ErrorOr<void> OverlayFs::initialize() {
    if (!m_lower_root->is_directory()) return error(ENOTDIR);
    auto* root = mm::kcreate<OverlayVnode>(*this, nullptr, KString(), m_upper.root(), m_lower_root);
    if (!root) return error(ENOMEM);
    m_root = root;
    return {};
}

RefPtr<Vnode> OverlayFs::root() { return m_root; }

// The upper layer's figures (what can still be written), under the overlay's magic, as overlayfs.
ErrorOr<vfs::FsStats> OverlayFs::statfs() {
    vfs::FsStats stats = TRY(m_upper.statfs());
    stats.magic = OVERLAYFS_SUPER_MAGIC;
    return stats;
}

// --- vnodes ---

OverlayVnode::OverlayVnode(OverlayFs& fs, OverlayVnode* parent, KString name, RefPtr<Vnode> upper, RefPtr<Vnode> lower)
    : Vnode(fs, 0, (upper ? *upper : *lower).mode()), m_parent(parent), m_name(static_cast<KString&&>(name)),
      m_upper(static_cast<RefPtr<Vnode>&&>(upper)), m_lower(static_cast<RefPtr<Vnode>&&>(lower)) {
    m_attr = real().m_attr;
    m_attr.dev = fs.dev();
    m_attr.ino = layer_ino();
}

OverlayVnode::~OverlayVnode() { decltype(m_children)::remove(*this); }

OverlayFs& OverlayVnode::overlay() const { return static_cast<OverlayFs&>(fs()); }

uint64_t OverlayVnode::layer_ino() const { return m_upper ? m_upper->ino() | OVERLAY_UPPER_INO_BIT : m_lower->ino(); }

ErrorOr<vfs::Attributes> OverlayVnode::getattr() {
    vfs::Attributes attributes = TRY(real().getattr());
    attributes.dev = fs().dev();
    attributes.ino = layer_ino();
    if (m_removed && !m_upper) attributes.nlink = 0;  // a lower file hidden by a whiteout
    if (m_removed && is_directory()) attributes.nlink = 0;
    m_attr = attributes;
    return attributes;
}

ErrorOr<void> OverlayVnode::setattr(const vfs::AttrChange& change) {
    if ((change.mask & vfs::ATTR_SIZE) && is_directory()) return error(EISDIR);
    TRY(copy_up());
    TRY(m_upper->setattr(change));
    (void)getattr();
    return {};
}

OverlayVnode* OverlayVnode::find_child(std::string_view name) {
    OverlayVnode* found = nullptr;
    m_children.for_each([&](OverlayVnode& child) {
        if (!found && child.m_name.view() == name) found = &child;
    });
    return found;
}

void OverlayVnode::forget_child(OverlayVnode& child) { decltype(m_children)::remove(child); }

ErrorOr<RefPtr<Vnode>> OverlayVnode::lookup(std::string_view name) {
    if (!is_directory()) return error(ENOTDIR);
    if (name == ".") return RefPtr<Vnode>(this);
    if (name == "..") {
        if (m_removed) return error(ENOENT);
        return RefPtr<Vnode>(m_parent ? static_cast<Vnode*>(m_parent.get()) : this);
    }
    if (is_reserved_name(name)) return error(ENOENT);
    if (OverlayVnode* cached = find_child(name)) return RefPtr<Vnode>(cached);

    RefPtr<Vnode> upper, lower;
    if (m_upper) {
        auto found = m_upper->lookup(name);
        if (!found && found.error().code != ENOENT) return std::unexpected(found.error());
        if (found) {
            if (is_whiteout(**found)) return error(ENOENT);
            upper = *found;
        }
    }
    // The lower entry shows (or merges) unless an upper non-directory or opaque directory hides it.
    bool look_below = m_lower && !upper;
    if (m_lower && upper && upper->is_directory()) look_below = !upper->lookup(OVERLAY_OPAQUE_MARKER);
    if (look_below) {
        auto found = m_lower->lookup(name);
        if (!found && found.error().code != ENOENT) return std::unexpected(found.error());
        if (found && (!upper || (*found)->is_directory())) lower = *found;
    }
    if (!upper && !lower) return error(ENOENT);
    // The layers' lookups may have blocked (9p): another thread may have made the child meanwhile.
    if (OverlayVnode* cached = find_child(name)) return RefPtr<Vnode>(cached);
    KString own_name = TRY(KString::from(name));
    auto* child = mm::kcreate<OverlayVnode>(overlay(), this, static_cast<KString&&>(own_name), upper, lower);
    if (!child) return error(ENOMEM);
    m_children.push_back(*child);
    return RefPtr<Vnode>(child);
}

// --- copy-up ---

namespace {

// Copies `size` bytes of `from` into `to`, 64 KiB at a time.
ErrorOr<void> copy_data(Vnode& from, Vnode& to, uint64_t size) {
    constexpr size_t CHUNK = 64 * 1024;
    auto* buffer = static_cast<std::byte*>(mm::kmalloc(CHUNK));
    if (!buffer) return error(ENOMEM);
    ErrorOr<void> result;
    for (uint64_t offset = 0; offset < size;) {
        size_t wanted = size_t(size - offset < CHUNK ? size - offset : CHUNK);
        auto n = from.read(offset, {buffer, wanted});
        if (!n) {
            result = std::unexpected(n.error());
            break;
        }
        if (*n == 0) break;  // the file shrank
        auto written = to.write(offset, {buffer, *n});
        if (!written) {
            result = std::unexpected(written.error());
            break;
        }
        if (*written != *n) {
            result = error(ENOSPC);
            break;
        }
        offset += *n;
    }
    mm::kfree(buffer);
    return result;
}

}  // namespace

// Regular files are copied under a temporary name and renamed into place, so that a reader
// never sees half a copy and two threads copying the same file up (the lower layer's reads may
// block) end with one copy: the second to finish drops its own.
ErrorOr<void> OverlayVnode::copy_up() {
    if (m_upper) return {};
    if (!m_parent) return error(EIO);  // the root always has its upper directory
    if (m_removed) return error(EROFS);  // a lower file whose name is gone: nowhere to copy it
    TRY(m_parent->copy_up());
    Vnode& into = *m_parent->m_upper;
    std::string_view name = m_name.view();
    vfs::Attributes attributes = TRY(m_lower->getattr());
    KString target;
    if (is_symlink()) target = TRY(m_lower->readlink());
    if (m_upper) return {};  // copied up while the lower layer answered
    mode_t permissions = attributes.mode & 07777;
    vfs::AttrChange change{.mask = vfs::ATTR_MODE | vfs::ATTR_UID | vfs::ATTR_GID | vfs::ATTR_ATIME | vfs::ATTR_MTIME,
                           .mode = permissions,
                           .uid = attributes.uid,
                           .gid = attributes.gid,
                           .size = 0,
                           .atime = attributes.atime,
                           .mtime = attributes.mtime};
    RefPtr<Vnode> copy;
    switch (type()) {
    case S_IFDIR: copy = TRY(into.create(name, S_IFDIR | permissions, 0, attributes.uid, attributes.gid)); break;
    case S_IFLNK:
        TRY(into.symlink(name, target.view(), attributes.uid, attributes.gid));
        copy = TRY(into.lookup(name));
        break;
    case S_IFREG: {
        char temporary[48];
        snprintf(temporary, sizeof temporary, "%scopy.%llu", OVERLAY_RESERVED_PREFIX.data(),
                 static_cast<unsigned long long>(overlay().next_copy_number()));
        copy = TRY(into.create(temporary, S_IFREG | permissions, 0, attributes.uid, attributes.gid));
        auto copied = copy_data(*m_lower, *copy, attributes.size);
        if (copied) (void)copy->setattr(change);
        if (!copied || m_upper) {  // failed, or another thread's copy is in place already
            (void)into.remove(temporary, vfs::RemoveKind::File);
            if (!copied) return copied;
            return {};
        }
        if (auto renamed = into.rename(temporary, into, name, 0); !renamed) {
            (void)into.remove(temporary, vfs::RemoveKind::File);
            return renamed;
        }
        break;
    }
    default: copy = TRY(into.create(name, type() | permissions, attributes.rdev, attributes.uid, attributes.gid));
    }
    if (!is_regular()) (void)copy->setattr(change);
    m_upper = static_cast<RefPtr<Vnode>&&>(copy);
    m_attr.ino = layer_ino();
    return {};
}

// --- files ---

ErrorOr<size_t> OverlayVnode::read(uint64_t offset, std::span<std::byte> buffer) { return real().read(offset, buffer); }

ErrorOr<size_t> OverlayVnode::write(uint64_t offset, std::span<const std::byte> data) {
    TRY(copy_up());  // done at open for writing already; mmap write-back lands here too
    return m_upper->write(offset, data);
}

ErrorOr<void> OverlayVnode::truncate(uint64_t size) {
    if (is_directory()) return error(EISDIR);
    TRY(copy_up());
    return m_upper->truncate(size);
}

ErrorOr<void> OverlayVnode::allocate(int mode, uint64_t offset, uint64_t length) {
    if (is_directory()) return error(EISDIR);
    TRY(copy_up());
    return m_upper->allocate(mode, offset, length);
}

ErrorOr<void> OverlayVnode::sync() { return real().sync(); }

ErrorOr<KString> OverlayVnode::readlink() { return real().readlink(); }

ErrorOr<RefPtr<vfs::File>> OverlayVnode::open(int flags) {
    if (!(flags & O_PATH) && is_regular() && (flags & O_ACCMODE) != O_RDONLY) TRY(copy_up());
    return real().open(flags);
}

}  // namespace xos::fs
