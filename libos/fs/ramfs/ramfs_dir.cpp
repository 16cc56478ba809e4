// ramfs directories: lookup, create, link/unlink, rename (NOREPLACE, EXCHANGE), readdir.
#include <dirent.h>

#include <optional>

#include "fs/ramfs/ramfs.h"
#include "mm/heap.h"

namespace xos::fs {

using vfs::RemoveKind;
using vfs::Vnode;

RamDir::RamDir(RamFs& fs, mode_t mode, RamDir* parent) : Vnode(fs, fs.allocate_ino(), mode), m_parent(parent) {
    m_attr.nlink = 2;
    m_attr.size = 4096;
}

RamDir::~RamDir() NO_THREAD_SAFETY_ANALYSIS {  // the last reference: nobody else sees it
    while (Entry* entry = m_first) {
        if (entry->node->is_directory()) static_cast<RamDir&>(*entry->node).m_parent = nullptr;
        unlink_entry(*entry);
    }
}

ErrorOr<RefPtr<Vnode>> RamDir::lookup(std::string_view name) {
    if (name == ".") return RefPtr<Vnode>(this);
    sched::MutexLocker locker(m_dir_lock);
    if (name == "..") {
        if (m_attr.nlink == 0) return error(ENOENT);
        return RefPtr<Vnode>(m_parent ? static_cast<Vnode*>(m_parent) : this);
    }
    Entry* entry = find(name);
    if (!entry) return error(ENOENT);
    return entry->node;
}

ErrorOr<void> RamDir::add(std::string_view name, RefPtr<Vnode> node) {
    if (m_attr.nlink == 0) return error(ENOENT);  // creating inside a removed directory
    auto key = TRY(KString::from(name));
    Entry* entry = mm::kcreate<Entry>();
    if (!entry) return error(ENOMEM);
    entry->name = static_cast<KString&&>(key);
    entry->node = static_cast<RefPtr<Vnode>&&>(node);
    entry->cookie = m_next_cookie++;
    if (auto inserted = m_by_name.insert(*entry); !inserted) {
        mm::kdestroy(entry);
        return inserted;
    }
    entry->prev = m_last;
    (m_last ? m_last->next : m_first) = entry;
    m_last = entry;
    ramfs().add_nodes(1);
    touch_mtime();
    return {};
}

void RamDir::unlink_entry(Entry& entry) {
    m_by_name.remove(entry);
    (entry.prev ? entry.prev->next : m_first) = entry.next;
    (entry.next ? entry.next->prev : m_last) = entry.prev;
    ramfs().add_nodes(-1);
    mm::kdestroy(&entry);
}

void RamDir::set_parent(RamDir& dir, RamDir* parent) {
    sched::MutexLocker locker(dir.m_dir_lock);
    dir.m_parent = parent;
}

void RamDir::drop_link(Vnode& node, RamDir* from) {
    if (node.is_directory()) {
        auto& dir = static_cast<RamDir&>(node);
        sched::MutexLocker locker(dir.m_dir_lock);
        node.m_attr.nlink = 0;
        dir.m_parent = nullptr;
        if (from) --from->m_attr.nlink;
    } else if (__atomic_load_n(&node.m_attr.nlink, __ATOMIC_RELAXED)) {
        // Atomic: the file's other names are in other directories, whose locks this does not hold.
        __atomic_fetch_sub(&node.m_attr.nlink, 1, __ATOMIC_RELAXED);
    }
    node.m_attr.ctime = vfs::now();
}

ErrorOr<RefPtr<Vnode>> RamDir::create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) {
    sched::MutexLocker locker(m_dir_lock);
    if (find(name)) return error(EEXIST);
    RefPtr<Vnode> node;
    switch (mode & S_IFMT) {
    case S_IFDIR: node = mm::kcreate<RamDir>(ramfs(), mode, this); break;
    case S_IFREG: node = mm::kcreate<RamFile>(ramfs(), mode); break;
    case S_IFIFO:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFSOCK: node = mm::kcreate<RamSpecial>(ramfs(), mode, rdev); break;
    default: return error(EINVAL);
    }
    if (!node) return error(ENOMEM);
    node->m_attr.uid = uid;
    node->m_attr.gid = gid;
    TRY(add(name, node));
    if (node->is_directory()) ++m_attr.nlink;
    return node;
}

ErrorOr<void> RamDir::symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) {
    sched::MutexLocker locker(m_dir_lock);
    if (find(name)) return error(EEXIST);
    auto text = TRY(KString::from(target));
    RefPtr<Vnode> node = mm::kcreate<RamSymlink>(ramfs(), static_cast<KString&&>(text));
    if (!node) return error(ENOMEM);
    node->m_attr.uid = uid;
    node->m_attr.gid = gid;
    return add(name, node);
}

ErrorOr<void> RamDir::link(std::string_view name, Vnode& target) {
    sched::MutexLocker locker(m_dir_lock);
    if (find(name)) return error(EEXIST);
    if (__atomic_load_n(&target.m_attr.nlink, __ATOMIC_RELAXED) == 0 && !target.is_directory()) return error(ENOENT);
    TRY(add(name, RefPtr<Vnode>(&target)));
    __atomic_fetch_add(&target.m_attr.nlink, 1, __ATOMIC_RELAXED);
    target.m_attr.ctime = vfs::now();
    return {};
}

ErrorOr<void> RamDir::remove(std::string_view name, RemoveKind kind) {
    // rmdir clears the removed directory's parent pointer: not during a rename's ancestor check.
    std::optional<sched::MutexLocker> renames;
    if (kind == RemoveKind::Directory) renames.emplace(ramfs().rename_lock());
    sched::MutexLocker locker(m_dir_lock);
    Entry* entry = find(name);
    if (!entry) return error(ENOENT);
    RefPtr<Vnode> node = entry->node;
    if (kind == RemoveKind::Directory) {
        if (!node->is_directory()) return error(ENOTDIR);
        if (!static_cast<RamDir&>(*node).empty()) return error(ENOTEMPTY);
    } else if (node->is_directory()) {
        return error(EISDIR);
    }
    drop_link(*node, this);
    unlink_entry(*entry);
    touch_mtime();
    return {};
}

bool RamDir::is_ancestor_or_self(const RamDir& of) const {
    for (const RamDir* dir = &of; dir; dir = dir->m_parent)
        if (dir == this) return true;
    return false;
}

ErrorOr<void> RamDir::rename(std::string_view old_name, Vnode& new_dir_vnode, std::string_view new_name,
                             unsigned flags) {
    if (&new_dir_vnode.fs() != &fs() || !new_dir_vnode.is_directory()) return error(EXDEV);
    auto& new_dir = static_cast<RamDir&>(new_dir_vnode);
    if (&new_dir == this) {
        sched::MutexLocker locker(m_dir_lock);
        return rename_locked(old_name, new_dir, new_name, flags);
    }
    // Two directories: the file system's rename lock (the ancestor check), then the two
    // directory locks by address (docs/locking.md "Directory changes").
    sched::MutexLocker renames(ramfs().rename_lock());
    RamDir* first = this < &new_dir ? this : &new_dir;
    RamDir* second = first == this ? &new_dir : this;
    sched::MutexLocker first_locker(first->m_dir_lock);
    sched::MutexLocker second_locker(second->m_dir_lock);
    return rename_locked(old_name, new_dir, new_name, flags);
}

ErrorOr<void> RamDir::rename_locked(std::string_view old_name, RamDir& new_dir, std::string_view new_name,
                                    unsigned flags) {
    constexpr unsigned NOREPLACE = 1, EXCHANGE = 2;
    Entry* source = find(old_name);
    if (!source) return error(ENOENT);
    if (new_dir.m_attr.nlink == 0) return error(ENOENT);
    Entry* target = new_dir.find(new_name);
    RefPtr<Vnode> moving = source->node;
    bool moving_dir = moving->is_directory();
    if (moving_dir && static_cast<RamDir&>(*moving).is_ancestor_or_self(new_dir)) return error(EINVAL);

    if (flags & EXCHANGE) {
        if (!target) return error(ENOENT);
        RefPtr<Vnode> other = target->node;
        if (other->is_directory() && static_cast<RamDir&>(*other).is_ancestor_or_self(*this)) return error(EINVAL);
        if (source == target) return {};
        source->node = other;
        target->node = moving;
        // Directories that changed parent: fix ".." and the parents' link counts.
        if (this != &new_dir) {
            if (moving_dir) {
                set_parent(static_cast<RamDir&>(*moving), &new_dir);
                --m_attr.nlink;
                ++new_dir.m_attr.nlink;
            }
            if (other->is_directory()) {
                set_parent(static_cast<RamDir&>(*other), this);
                ++m_attr.nlink;
                --new_dir.m_attr.nlink;
            }
        }
        moving->m_attr.ctime = other->m_attr.ctime = vfs::now();
        touch_mtime();
        new_dir.touch_mtime();
        return {};
    }

    if (target) {
        if (flags & NOREPLACE) return error(EEXIST);
        if (target->node == moving) return {};  // two links to one file: nothing happens
        Vnode& replaced = *target->node;
        if (moving_dir) {
            if (!replaced.is_directory()) return error(ENOTDIR);
            if (!static_cast<RamDir&>(replaced).empty()) return error(ENOTEMPTY);
        } else if (replaced.is_directory()) {
            return error(EISDIR);
        }
        drop_link(replaced, &new_dir);
        new_dir.unlink_entry(*target);
    }
    TRY(new_dir.add(new_name, moving));
    unlink_entry(*find(old_name));
    if (moving_dir && this != &new_dir) {
        set_parent(static_cast<RamDir&>(*moving), &new_dir);
        --m_attr.nlink;
        ++new_dir.m_attr.nlink;
    }
    moving->m_attr.ctime = vfs::now();
    touch_mtime();
    return {};
}

ErrorOr<void> RamDir::readdir(uint64_t& cookie, vfs::DirSink& sink) {
    // The sink may copy to app memory (getdents64) and fault: a Mutex, not a spinlock.
    sched::MutexLocker locker(m_dir_lock);
    if (m_attr.nlink == 0) return {};  // a removed directory reads as empty
    if (cookie == 0) {
        if (!sink.emit({ino(), 1, DT_DIR, "."})) return {};
        cookie = 1;
    }
    if (cookie == 1) {
        uint64_t parent_ino = m_parent ? m_parent->ino() : ino();
        if (!sink.emit({parent_ino, 2, DT_DIR, ".."})) return {};
        cookie = 2;
    }
    for (Entry* next = m_first; next; next = next->next) {
        Entry& entry = *next;
        if (entry.cookie < cookie) continue;
        if (!sink.emit({entry.node->ino(), entry.cookie + 1, vfs::dirent_type(entry.node->mode()), entry.name.view()}))
            return {};
        cookie = entry.cookie + 1;
    }
    return {};
}

}  // namespace xos::fs
