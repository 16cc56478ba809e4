#include "vfs/operations.h"

#include <cstdio>

#include "vfs/process.h"

namespace xos::vfs {

namespace {

bool is_dot_or_dotdot(std::string_view name) { return name == "." || name == ".."; }

}  // namespace

ErrorOr<RefPtr<File>> open_vnode(RefPtr<Vnode> vnode, int flags) {
    // open(2) of an existing file runs without the big lock (docs/locking.md "Files and
    // directories"): taken here for what still relies on it (devices, FIFOs, sockets, procfs,
    // the file systems without locks of their own).
    BigLockUnlessSafe big_lock(vnode->thread_safe() && (vnode->is_regular() || vnode->is_directory()));
    if (flags & O_PATH) return RefPtr<File>(mm::kcreate<File>(vnode, flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW)));
    if ((flags & O_DIRECTORY) && !vnode->is_directory()) return error(ENOTDIR);
    if (vnode->is_directory() && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT))) return error(EISDIR);
    bool device = vnode->type() == S_IFCHR || vnode->type() == S_IFBLK;
    // Linux's may_open: devices on a nodev mount cannot be opened; a file or directory on a
    // read-only mount cannot be opened for writing (devices, FIFOs and sockets can).
    if (device && (vnode->fs().mount_flags() & MOUNT_NO_DEV)) return error(EACCES);
    bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
    if (writes && (vnode->is_regular() || vnode->is_directory() || vnode->is_symlink())) TRY(check_writable(*vnode));
    RefPtr<File> custom = TRY(vnode->open(flags));
    if (custom) return custom;
    switch (vnode->type()) {
    case S_IFIFO: return open_fifo(vnode, flags);
    case S_IFCHR:
    case S_IFBLK: return open_device(vnode, flags);
    case S_IFSOCK: return error(ENXIO);
    default: break;
    }
    if ((flags & O_TRUNC) && vnode->is_regular() && (flags & O_ACCMODE) != O_RDONLY) {
        bool cached = vnode->m_file_cache && g_file_cache_hooks.truncating;
        if (cached) g_file_cache_hooks.truncating(*vnode, 0);
        auto truncated = vnode->truncate(0);
        if (cached && !truncated) g_file_cache_hooks.truncate_aborted(*vnode);
        TRY(truncated);
        if (cached) g_file_cache_hooks.truncated(*vnode, 0);
    }
    File* file = mm::kcreate<File>(vnode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC));
    if (!file) return error(ENOMEM);
    return RefPtr<File>(file);
}

ErrorOr<RefPtr<File>> open(const Start& start, std::string_view path, int flags, mode_t mode) {
    if ((flags & O_TMPFILE) == O_TMPFILE) return error(EOPNOTSUPP);
    Follow follow = (flags & O_NOFOLLOW) ? Follow::No : Follow::Yes;
    if (!(flags & O_CREAT)) {
        // Usually one walk: the parent, then the last component, when it is a plain name that is
        // neither a symlink nor a mount point (the file then is `name` in `parent`, its origin
        // for /proc/self/fd); the lookup's error is the one resolve() would give. Anything else
        // takes the general path below, which looks the name up twice (on a 9P share, five more
        // round trips per open).
        if (auto parent = resolve_parent(start, path);
            parent && !parent->name.empty() && !parent->trailing_slash && !is_dot_or_dotdot(parent->name)) {
            auto found = [&] {
                BigLockUnlessSafe big_lock(*parent->parent);
                return parent->parent->lookup(parent->name);
            }();
            if (!found) return std::unexpected(found.error());
            if (!(*found)->is_symlink() && !(*found)->mounted()) {
                const RefPtr<Vnode>& vnode = *found;
                RefPtr<File> file = TRY(open_vnode(vnode, flags));
                if (!vnode->is_directory())
                    if (auto name = KString::from(parent->name))
                        file->set_origin(parent->parent, static_cast<KString&&>(*name));
                return file;
            }
        }
        RefPtr<Vnode> vnode = TRY(resolve(start, path, follow));
        if (vnode->is_symlink() && !(flags & O_PATH)) return error(ELOOP);
        RefPtr<File> file = TRY(open_vnode(vnode, flags));
        if (!vnode->is_directory()) {
            // Remember where it was found, for /proc/self/fd (only when the name is this file).
            if (auto parent = resolve_parent(start, path)) {
                BigLockUnlessSafe big_lock(*parent->parent);
                auto found = parent->parent->lookup(parent->name);
                if (found && found->get() == vnode.get())
                    if (auto name = KString::from(parent->name))
                        file->set_origin(parent->parent, static_cast<KString&&>(*name));
            }
        }
        return file;
    }
    // O_CREAT: find the parent, following a symlink in the last component unless O_EXCL (the
    // link's target is created if it does not exist, as Linux does).
    Start current = start;
    RefPtr<Vnode> held_start;
    std::string_view current_path = path;
    KString link_text;
    for (int links = 0;; ++links) {
        ParentLookup lookup = TRY(resolve_parent(current, current_path));
        // Without the big lock on ramfs (its directory lock: create fails with EEXIST if another
        // CPU created the name since the lookup, and the open then takes the existing file).
        BigLockUnlessSafe big_lock(*lookup.parent);
        if (lookup.name.empty() || is_dot_or_dotdot(lookup.name) || lookup.trailing_slash) return error(EISDIR);
        auto existing = lookup.parent->lookup(lookup.name);
        if (!existing) {
            if (existing.error().code != ENOENT) return std::unexpected(existing.error());
            TRY(check_writable(*lookup.parent));
            mode_t type_and_mode = S_IFREG | (mode & 07777 & ~umask());
            auto made = lookup.parent->create(lookup.name, type_and_mode, 0, 0, 0);
            if (!made && made.error().code == EEXIST && !(flags & O_EXCL) && links < MAX_SYMLINK_FOLLOWS)
                continue;  // created meanwhile by another thread: open it (a retry counts as a link)
            RefPtr<Vnode> created = TRY(static_cast<ErrorOr<RefPtr<Vnode>>&&>(made));
            RefPtr<File> file = TRY(open_vnode(created, flags & ~O_TRUNC));
            if (auto name = KString::from(lookup.name)) file->set_origin(lookup.parent, static_cast<KString&&>(*name));
            return file;
        }
        RefPtr<Vnode> vnode = *existing;
        while (Filesystem* mounted = vnode->mounted()) vnode = mounted->root();
        if (flags & O_EXCL) return error(EEXIST);
        if (vnode->is_symlink()) {
            if (flags & O_NOFOLLOW) return error(ELOOP);
            if (links >= MAX_SYMLINK_FOLLOWS) return error(ELOOP);
            RefPtr<Vnode> magic = TRY(vnode->follow_magic_link());
            if (magic) return open_vnode(magic, flags);
            link_text = TRY(vnode->readlink());
            held_start = lookup.parent;
            current = {start.root, held_start.get()};
            current_path = link_text.view();
            continue;
        }
        RefPtr<File> file = TRY(open_vnode(vnode, flags));
        if (auto name = KString::from(lookup.name)) file->set_origin(lookup.parent, static_cast<KString&&>(*name));
        return file;
    }
}

ErrorOr<void> make_node(const Start& start, std::string_view path, mode_t mode, dev_t device) {
    mode_t type = mode & S_IFMT;
    if (type == 0) type = S_IFREG;
    if (type == S_IFDIR) return error(EPERM);
    if (type != S_IFREG && type != S_IFIFO && type != S_IFCHR && type != S_IFBLK && type != S_IFSOCK)
        return error(EINVAL);
    ParentLookup lookup = TRY(resolve_parent(start, path));
    if (lookup.name.empty() || is_dot_or_dotdot(lookup.name)) return error(EEXIST);
    if (lookup.parent->lookup(lookup.name)) return error(EEXIST);
    if (lookup.trailing_slash) return error(ENOENT);
    TRY(check_writable(*lookup.parent));
    TRY(lookup.parent->create(lookup.name, type | (mode & 07777 & ~umask()), device, 0, 0));
    return {};
}

ErrorOr<void> make_directory(const Start& start, std::string_view path, mode_t mode) {
    ParentLookup lookup = TRY(resolve_parent(start, path));
    BigLockUnlessSafe big_lock(*lookup.parent);  // ramfs: its directory lock (create checks EEXIST)
    if (lookup.name.empty() || is_dot_or_dotdot(lookup.name)) return error(EEXIST);
    if (lookup.parent->lookup(lookup.name)) return error(EEXIST);
    TRY(check_writable(*lookup.parent));
    TRY(lookup.parent->create(lookup.name, S_IFDIR | (mode & 07777 & ~umask()), 0, 0, 0));
    return {};
}

ErrorOr<void> make_directories(const Start& start, std::string_view path) {
    for (size_t end = 1; end <= path.size(); ++end) {
        if (end != path.size() && path[end] != '/') continue;
        std::string_view prefix = path.substr(0, end);
        if (prefix.back() == '/') continue;
        if (resolve(start, prefix, Follow::Yes)) continue;
        TRY(make_directory(start, prefix, 0755));
    }
    return {};
}

ErrorOr<void> make_symlink(std::string_view target, const Start& start, std::string_view path) {
    if (target.empty()) return error(ENOENT);
    if (target.size() >= PATH_MAX_BYTES) return error(ENAMETOOLONG);
    ParentLookup lookup = TRY(resolve_parent(start, path));
    BigLockUnlessSafe big_lock(*lookup.parent);
    if (lookup.name.empty() || is_dot_or_dotdot(lookup.name)) return error(EEXIST);
    if (lookup.parent->lookup(lookup.name)) return error(EEXIST);
    if (lookup.trailing_slash) return error(ENOENT);
    TRY(check_writable(*lookup.parent));
    return lookup.parent->symlink(lookup.name, target, 0, 0);
}

ErrorOr<void> remove(const Start& start, std::string_view path, RemoveKind kind) {
    ParentLookup lookup = TRY(resolve_parent(start, path));
    BigLockUnlessSafe big_lock(*lookup.parent);
    TRY(check_writable(*lookup.parent));  // before the lookup, as Linux
    if (kind == RemoveKind::Directory) {
        if (lookup.name.empty()) return error(EBUSY);
        if (lookup.name == ".") return error(EINVAL);
        if (lookup.name == "..") return error(ENOTEMPTY);
    } else if (lookup.name.empty() || is_dot_or_dotdot(lookup.name)) {
        return error(EISDIR);
    }
    // A FIFO, socket or device node keeps the big lock for its removal and its last reference
    // (a FIFO's pipe, a bound socket): declared before `victim`, so that it is let go after.
    std::optional<sched::BigLockScope> special;
    RefPtr<Vnode> victim = TRY(lookup.parent->lookup(lookup.name));
    if (!victim->is_regular() && !victim->is_directory() && !victim->is_symlink()) special.emplace();
    if (victim->mounted()) return error(EBUSY);
    if (kind == RemoveKind::Directory) {
        if (!victim->is_directory()) return error(ENOTDIR);
    } else {
        if (victim->is_directory()) return error(EISDIR);
        if (lookup.trailing_slash) return error(ENOTDIR);
    }
    return lookup.parent->remove(lookup.name, kind);
}

ErrorOr<void> rename(const Start& old_start, std::string_view old_path, const Start& new_start,
                     std::string_view new_path, unsigned flags) {
    constexpr unsigned NOREPLACE = 1, EXCHANGE = 2, WHITEOUT = 4;
    if (flags & ~(NOREPLACE | EXCHANGE | WHITEOUT)) return error(EINVAL);
    if ((flags & EXCHANGE) && (flags & (NOREPLACE | WHITEOUT))) return error(EINVAL);
    if (flags & WHITEOUT) return error(EINVAL);
    ParentLookup from = TRY(resolve_parent(old_start, old_path));
    ParentLookup to = TRY(resolve_parent(new_start, new_path));
    if (&from.parent->fs() != &to.parent->fs()) return error(EXDEV);
    BigLockUnlessSafe big_lock(*from.parent);  // one file system: ramfs's locks, or the big lock
    TRY(check_writable(*from.parent));
    if (from.name.empty() || is_dot_or_dotdot(from.name) || to.name.empty() || is_dot_or_dotdot(to.name))
        return error(EBUSY);
    RefPtr<Vnode> source = TRY(from.parent->lookup(from.name));
    auto target = to.parent->lookup(to.name);
    if (!target && target.error().code != ENOENT) return std::unexpected(target.error());
    if ((flags & NOREPLACE) && target) return error(EEXIST);
    if ((flags & EXCHANGE) && !target) return error(ENOENT);
    if (!source->is_directory() && (from.trailing_slash || (to.trailing_slash && !(flags & EXCHANGE)))) {
        return error(ENOTDIR);
    }
    if (source->mounted() || (target && (*target)->mounted())) return error(EBUSY);
    return from.parent->rename(from.name, *to.parent, to.name, flags);
}

ErrorOr<void> make_link(const Start& old_start, std::string_view old_path, const Start& new_start,
                        std::string_view new_path, Follow follow) {
    RefPtr<Vnode> source = TRY(resolve(old_start, old_path, follow));
    ParentLookup lookup = TRY(resolve_parent(new_start, new_path));
    if (lookup.name.empty() || is_dot_or_dotdot(lookup.name)) return error(EEXIST);
    if (lookup.parent->lookup(lookup.name)) return error(EEXIST);
    if (&source->fs() != &lookup.parent->fs()) return error(EXDEV);
    if (source->is_directory()) return error(EPERM);
    if (lookup.trailing_slash) return error(ENOENT);
    TRY(check_writable(*lookup.parent));
    return lookup.parent->link(lookup.name, *source);
}

ErrorOr<KString> read_link(const Start& start, std::string_view path) {
    RefPtr<Vnode> vnode = TRY(resolve(start, path, Follow::No));
    return vnode->readlink();
}

}  // namespace xos::vfs
