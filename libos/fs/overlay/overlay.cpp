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
      m_upper(upper), m_thread_safe(m_lower_root->thread_safe() && m_lower_root->fs().walks_without_big_lock()) {}

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
      m_upper(upper.leak()), m_lower(static_cast<RefPtr<Vnode>&&>(lower)) {
    m_attr = real().m_attr;
    m_attr.dev = fs.dev();
    m_attr.ino = layer_ino();
}

// The last reference may go on any CPU: out of the parent's cache first, under the tree lock
// (a lookup meanwhile finds the count at 0 and does not take it: find_child).
OverlayVnode::~OverlayVnode() {
    {
        SpinLockGuard guard(overlay().m_tree_lock);
        decltype(m_children)::remove(*this);
    }
    if (m_upper) m_upper->unref();
}

bool OverlayVnode::thread_safe() const { return overlay().thread_safe(); }

OverlayFs& OverlayVnode::overlay() const { return static_cast<OverlayFs&>(fs()); }

uint64_t OverlayVnode::layer_ino() const {
    Vnode* up = upper();
    return up ? up->ino() | OVERLAY_UPPER_INO_BIT : m_lower->ino();
}

RefPtr<OverlayVnode> OverlayVnode::parent() const {
    SpinLockGuard guard(overlay().m_tree_lock);
    return m_parent;  // a reference taken under the lock; never the last one dropped under it
}

void OverlayVnode::mark_removed() {
    __atomic_store_n(&m_removed, true, __ATOMIC_RELAXED);
    // A removed directory, or a lower file hidden by a whiteout, has no links (getcwd's check,
    // vfs/path_walk.cpp, reads m_attr.nlink).
    if (is_directory() || !upper()) __atomic_store_n(&m_attr.nlink, 0u, __ATOMIC_RELAXED);
}

// Reads the layer's attributes; m_attr (the type, permissions and owner the VFS reads through
// mode()) is brought up to date by setattr only, word by word.
ErrorOr<vfs::Attributes> OverlayVnode::getattr() {
    vfs::Attributes attributes = TRY(real().getattr());
    attributes.dev = fs().dev();
    attributes.ino = layer_ino();
    if (removed() && !upper()) attributes.nlink = 0;  // a lower file hidden by a whiteout
    if (removed() && is_directory()) attributes.nlink = 0;
    return attributes;
}

ErrorOr<void> OverlayVnode::setattr(const vfs::AttrChange& change) {
    if ((change.mask & vfs::ATTR_SIZE) && is_directory()) return error(EISDIR);
    TRY(copy_up());
    TRY(upper()->setattr(change));
    if (auto attributes = getattr()) {
        __atomic_store_n(&m_attr.mode, attributes->mode, __ATOMIC_RELAXED);
        __atomic_store_n(&m_attr.uid, attributes->uid, __ATOMIC_RELAXED);
        __atomic_store_n(&m_attr.gid, attributes->gid, __ATOMIC_RELAXED);
    }
    return {};
}

RefPtr<Vnode> OverlayVnode::find_child(std::string_view name) {
    VERIFY_HELD(overlay().m_tree_lock);
    OverlayVnode* found = nullptr;
    m_children.for_each([&](OverlayVnode& child) {
        // A child whose count went to 0 is being destroyed on another CPU (its destructor
        // unlinks it, waiting for this lock): not revived.
        if (!found && child.m_name.view() == name && child.try_ref()) found = &child;
    });
    if (!found) return nullptr;
    RefPtr<Vnode> result(found);  // a second reference, then the try_ref's dropped (not the last)
    found->unref();
    return result;
}

void OverlayVnode::forget_child(OverlayVnode& child) {
    VERIFY_HELD(overlay().m_tree_lock);
    decltype(m_children)::remove(child);
}

ErrorOr<RefPtr<Vnode>> OverlayVnode::lookup(std::string_view name) {
    if (!is_directory()) return error(ENOTDIR);
    if (name == ".") return RefPtr<Vnode>(this);
    if (name == "..") {
        if (removed()) return error(ENOENT);
        RefPtr<OverlayVnode> above = parent();
        return above ? RefPtr<Vnode>(static_cast<RefPtr<OverlayVnode>&&>(above)) : RefPtr<Vnode>(this);
    }
    if (is_reserved_name(name)) return error(ENOENT);
    return lookup_uncached(name);
}

// The cache first; else the layers' lookups, and a new vnode cached unless a change of the tree
// happened meanwhile (it may have made what the layers showed stale: look again).
ErrorOr<RefPtr<Vnode>> OverlayVnode::lookup_uncached(std::string_view name) {
    for (;;) {
        uint64_t generation;
        {
            SpinLockGuard guard(overlay().m_tree_lock);
            if (RefPtr<Vnode> cached = find_child(name)) return cached;
            generation = overlay().m_generation;
        }
        RefPtr<Vnode> upper_found, lower_found;
        TRY(look_in_layers(name, upper_found, lower_found));
        if (!upper_found && !lower_found) return error(ENOENT);
        KString own_name = TRY(KString::from(name));
        auto* made =
            mm::kcreate<OverlayVnode>(overlay(), this, static_cast<KString&&>(own_name), upper_found, lower_found);
        if (!made) return error(ENOMEM);
        RefPtr<Vnode> child(made);  // dropped after the lock if not cached (never linked: no list to leave)
        RefPtr<Vnode> result;
        {
            SpinLockGuard guard(overlay().m_tree_lock);
            if (RefPtr<Vnode> cached = find_child(name)) {
                result = static_cast<RefPtr<Vnode>&&>(cached);
            } else if (generation == overlay().m_generation) {
                m_children.push_back(*made);
                result = child;
            }
        }
        if (result) return result;
    }
}

// What the layers have under `name` (ENOENT from a layer is no error): the upper entry, and the
// lower one unless an upper non-directory or opaque directory hides it.
ErrorOr<void> OverlayVnode::look_in_layers(std::string_view name, RefPtr<Vnode>& upper_out, RefPtr<Vnode>& lower_out) {
    RefPtr<Vnode> upper, lower;
    Vnode* own_upper = this->upper();
    if (own_upper) {
        auto found = own_upper->lookup(name);
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
    upper_out = static_cast<RefPtr<Vnode>&&>(upper);
    lower_out = static_cast<RefPtr<Vnode>&&>(lower);
    return {};
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
        auto written = [&] {
            sched::MutexLocker io(to.m_io_lock);  // a ramfs write's rule (its truncate takes it)
            return to.write(offset, {buffer, *n});
        }();
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

ErrorOr<void> OverlayVnode::copy_up() {
    if (upper()) return {};
    sched::MutexLocker changes(overlay().m_change_lock);
    return copy_up_locked();
}

// One copy-up at a time (m_change_lock held). Regular files are copied under a temporary name
// and renamed into place before m_upper is published, so that a reader on another CPU never
// sees half a copy: it reads the lower file until the store, the complete copy after it.
ErrorOr<void> OverlayVnode::copy_up_locked() {
    VERIFY_HELD(overlay().m_change_lock);
    if (upper()) return {};
    if (removed()) return error(EROFS);  // a lower file whose name is gone: nowhere to copy it
    // m_parent and m_name change only under m_change_lock (rename), which is held.
    RefPtr<OverlayVnode> above = parent();
    if (!above) return error(EIO);  // the root always has its upper directory
    TRY(above->copy_up_locked());
    Vnode& into = *above->upper();
    std::string_view name = m_name.view();
    vfs::Attributes attributes = TRY(m_lower->getattr());
    KString target;
    if (is_symlink()) target = TRY(m_lower->readlink());
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
        if (!copied) {
            (void)into.remove(temporary, vfs::RemoveKind::File);
            return copied;
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
    __atomic_store_n(&m_upper, copy.leak(), __ATOMIC_RELEASE);  // complete: readers switch to it
    __atomic_store_n(&m_attr.ino, layer_ino(), __ATOMIC_RELAXED);
    {
        SpinLockGuard guard(overlay().m_tree_lock);  // lookups in the layers meanwhile look again
        ++overlay().m_generation;
    }
    return {};
}

// --- files ---

ErrorOr<size_t> OverlayVnode::read(uint64_t offset, std::span<std::byte> buffer) { return real().read(offset, buffer); }

ErrorOr<size_t> OverlayVnode::write(uint64_t offset, std::span<const std::byte> data) {
    TRY(copy_up());  // done at open for writing already; mmap write-back lands here too
    Vnode& into = *upper();
    // The upper file's own rule (ramfs: a write holds its m_io_lock, against its truncate);
    // under this vnode's m_io_lock when the write comes through a file description.
    sched::MutexLocker io(into.m_io_lock);
    return into.write(offset, data);
}

ErrorOr<void> OverlayVnode::truncate(uint64_t size) {
    if (is_directory()) return error(EISDIR);
    TRY(copy_up());
    return upper()->truncate(size);
}

ErrorOr<void> OverlayVnode::allocate(int mode, uint64_t offset, uint64_t length) {
    if (is_directory()) return error(EISDIR);
    TRY(copy_up());
    return upper()->allocate(mode, offset, length);
}

ErrorOr<void> OverlayVnode::sync() { return real().sync(); }

ErrorOr<KString> OverlayVnode::readlink() { return real().readlink(); }

ErrorOr<RefPtr<vfs::File>> OverlayVnode::open(int flags) {
    if (!(flags & O_PATH) && is_regular() && (flags & O_ACCMODE) != O_RDONLY) TRY(copy_up());
    return real().open(flags);
}

}  // namespace xos::fs
