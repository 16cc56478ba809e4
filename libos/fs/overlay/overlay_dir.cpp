// overlay directories: create, link, remove (whiteouts), rename, and the merged readdir.
#include <dirent.h>

#include <utility>

#include "fs/overlay/overlay.h"
#include "mm/heap.h"

namespace xos::fs {

using vfs::RemoveKind;
using vfs::Vnode;

namespace {

constexpr unsigned RENAME_NOREPLACE_FLAG = 1, RENAME_EXCHANGE_FLAG = 2;

bool is_dot_or_dotdot(std::string_view name) { return name == "." || name == ".."; }

// Collects the entries of a directory of one layer (without "." and "..").
struct Collector final : vfs::DirSink {
    OverlayVnode::EntryList& into;
    ErrorOr<void> result;
    explicit Collector(OverlayVnode::EntryList& list) : into(list) {}
    bool emit(const vfs::DirEntry& entry) override {
        if (is_dot_or_dotdot(entry.name)) return true;
        result = into.append(entry.name, entry.ino, entry.type);
        return bool(result);
    }
};

ErrorOr<void> collect(Vnode& directory, OverlayVnode::EntryList& into) {
    Collector collector(into);
    uint64_t cookie = 0;
    TRY(directory.readdir(cookie, collector));
    return collector.result;
}

// Stops at the first entry other than "." and "..".
struct EmptinessCheck final : vfs::DirSink {
    bool empty = true;
    bool emit(const vfs::DirEntry& entry) override {
        if (is_dot_or_dotdot(entry.name)) return true;
        empty = false;
        return false;
    }
};

// One change of the tree: m_change_lock for its length, and the generation bumped at its end
// whatever became of it (a change that failed half way may have changed a layer: lookups that
// ran meanwhile look again).
class ChangeScope {
public:
    explicit ChangeScope(OverlayFs& fs) : m_fs(fs), m_changes(fs.m_change_lock) {}
    ~ChangeScope() {
        SpinLockGuard guard(m_fs.m_tree_lock);
        ++m_fs.m_generation;
    }
    ChangeScope(const ChangeScope&) = delete;
    ChangeScope& operator=(const ChangeScope&) = delete;

private:
    OverlayFs& m_fs;
    sched::MutexLocker m_changes;
};

// Emits `listing` from `cookie` on (cookie n is entry n), advancing it.
void emit_entries(const OverlayVnode::EntryList& listing, uint64_t& cookie, vfs::DirSink& sink) {
    while (cookie < listing.size()) {
        const OverlayVnode::EntryList::Entry& entry = listing[cookie];
        if (!sink.emit({.ino = entry.ino, .next_cookie = cookie + 1, .type = entry.type, .name = entry.name.view()}))
            return;
        ++cookie;
    }
}

}  // namespace

// --- EntryList ---

ErrorOr<void> OverlayVnode::EntryList::append(std::string_view name, uint64_t ino, unsigned char type) {
    KString own = TRY(KString::from(name));
    if (m_size == m_capacity) {
        size_t capacity = m_capacity ? m_capacity * 2 : 32;
        auto* entries = static_cast<Entry*>(mm::kmalloc(capacity * sizeof(Entry)));
        if (!entries) return error(ENOMEM);
        for (size_t i = 0; i < m_size; ++i) {
            new (&entries[i]) Entry{static_cast<KString&&>(m_entries[i].name), m_entries[i].ino, m_entries[i].type};
            m_entries[i].~Entry();
        }
        mm::kfree(m_entries);
        m_entries = entries;
        m_capacity = capacity;
    }
    new (&m_entries[m_size++]) Entry{static_cast<KString&&>(own), ino, type};
    return {};
}

bool OverlayVnode::EntryList::contains(std::string_view name) const {
    for (size_t i = 0; i < m_size; ++i)
        if (m_entries[i].name.view() == name) return true;
    return false;
}

void OverlayVnode::EntryList::swap(EntryList& other) {
    std::swap(m_entries, other.m_entries);
    std::swap(m_size, other.m_size);
    std::swap(m_capacity, other.m_capacity);
}

void OverlayVnode::EntryList::clear() {
    for (size_t i = 0; i < m_size; ++i) m_entries[i].~Entry();
    mm::kfree(m_entries);
    m_entries = nullptr;
    m_size = m_capacity = 0;
}

// --- helpers ---

void OverlayVnode::changed() {
    VERIFY_HELD(overlay().m_tree_lock);
    ++overlay().m_generation;
}

ErrorOr<RefPtr<Vnode>> OverlayVnode::adopt_child(std::string_view name, RefPtr<Vnode> made) {
    KString own_name = TRY(KString::from(name));
    auto* child = mm::kcreate<OverlayVnode>(overlay(), this, static_cast<KString&&>(own_name), made, nullptr);
    if (!child) return error(ENOMEM);
    RefPtr<Vnode> fresh(child);
    RefPtr<Vnode> result;
    {
        SpinLockGuard guard(overlay().m_tree_lock);
        // A lookup on another CPU may have found the new entry and cached it first.
        result = find_child(name);
        if (!result) {
            m_children.push_back(*child);
            result = fresh;
        }
        changed();
    }
    return result;
}

ErrorOr<bool> OverlayVnode::upper_has_whiteout(std::string_view name) {
    Vnode* m_upper = upper();
    if (!m_upper) return false;
    auto found = m_upper->lookup(name);
    if (!found) {
        if (found.error().code == ENOENT) return false;
        return std::unexpected(found.error());
    }
    return is_whiteout(**found);
}

ErrorOr<void> OverlayVnode::make_whiteout(std::string_view name) {
    TRY(upper()->create(name, S_IFCHR, 0, 0, 0));
    return {};
}

ErrorOr<bool> OverlayVnode::prepare_upper_name(std::string_view name) {
    Vnode* m_upper = upper();
    auto found = m_upper->lookup(name);
    if (!found) {
        if (found.error().code == ENOENT) return false;
        return std::unexpected(found.error());
    }
    if (!is_whiteout(**found)) return error(EEXIST);
    TRY(m_upper->remove(name, RemoveKind::File));
    return true;
}

void OverlayVnode::restore_whiteout(std::string_view name, bool had_whiteout) {
    if (had_whiteout) (void)make_whiteout(name);
}

ErrorOr<bool> OverlayVnode::is_empty() {
    EmptinessCheck check;
    uint64_t cookie = 0;
    TRY(readdir(cookie, check));
    return check.empty;
}

ErrorOr<void> OverlayVnode::clear_upper_directory() {
    Vnode* m_upper = upper();
    if (!m_upper) return {};
    EntryList names;
    TRY(collect(*m_upper, names));
    for (size_t i = 0; i < names.size(); ++i) {
        std::string_view name = names[i].name.view();
        auto found = m_upper->lookup(name);
        if (!found) continue;
        if (is_reserved_name(name) || is_whiteout(**found)) TRY(m_upper->remove(name, RemoveKind::File));
    }
    return {};
}

// --- creating ---

ErrorOr<RefPtr<Vnode>> OverlayVnode::create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) {
    if (!is_directory()) return error(ENOTDIR);
    if (is_reserved_name(name)) return error(EPERM);
    ChangeScope changes(overlay());
    if (removed()) return error(ENOENT);
    if (lookup(name)) return error(EEXIST);
    TRY(copy_up_locked());
    Vnode* m_upper = upper();
    bool had_whiteout = TRY(prepare_upper_name(name));
    auto made = m_upper->create(name, mode, rdev, uid, gid);
    if (!made) {
        restore_whiteout(name, had_whiteout);
        return std::unexpected(made.error());
    }
    // A directory made where a lower one was removed starts empty: opaque.
    if (S_ISDIR(mode) && had_whiteout) {
        if (auto marked = (*made)->create(OVERLAY_OPAQUE_MARKER, S_IFREG, 0, 0, 0); !marked) {
            (void)m_upper->remove(name, RemoveKind::Directory);
            restore_whiteout(name, had_whiteout);
            return std::unexpected(marked.error());
        }
    }
    return adopt_child(name, *made);
}

ErrorOr<void> OverlayVnode::symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) {
    if (!is_directory()) return error(ENOTDIR);
    if (is_reserved_name(name)) return error(EPERM);
    ChangeScope changes(overlay());
    if (removed()) return error(ENOENT);
    if (lookup(name)) return error(EEXIST);
    TRY(copy_up_locked());
    bool had_whiteout = TRY(prepare_upper_name(name));
    auto made = upper()->symlink(name, target, uid, gid);
    if (!made) restore_whiteout(name, had_whiteout);
    SpinLockGuard guard(overlay().m_tree_lock);
    changed();
    return made;
}

// A hard link to a lower file copies the file up first (the new name links the copy).
ErrorOr<void> OverlayVnode::link(std::string_view name, Vnode& target) {
    if (!is_directory()) return error(ENOTDIR);
    if (is_reserved_name(name)) return error(EPERM);
    if (&target.fs() != &fs()) return error(EXDEV);
    ChangeScope changes(overlay());
    if (lookup(name)) return error(EEXIST);
    auto& source = static_cast<OverlayVnode&>(target);
    TRY(source.copy_up_locked());
    TRY(copy_up_locked());
    bool had_whiteout = TRY(prepare_upper_name(name));
    auto linked = upper()->link(name, *source.upper());
    if (!linked) restore_whiteout(name, had_whiteout);
    SpinLockGuard guard(overlay().m_tree_lock);
    changed();
    return linked;
}

ErrorOr<void> OverlayVnode::make_empty_directory(std::string_view name, mode_t mode) {
    if (!is_directory()) return error(ENOTDIR);
    if (is_reserved_name(name) || is_dot_or_dotdot(name)) return error(EINVAL);
    ChangeScope changes(overlay());
    TRY(copy_up_locked());
    bool had_whiteout = TRY(prepare_upper_name(name));
    bool lower_has = had_whiteout || (m_lower && m_lower->lookup(name));
    RefPtr<Vnode> made = TRY(upper()->create(name, S_IFDIR | (mode & 07777), 0, 0, 0));
    if (lower_has) TRY(made->create(OVERLAY_OPAQUE_MARKER, S_IFREG, 0, 0, 0));
    vfs::AttrChange chmod;  // the exact mode, sticky bit included
    chmod.mask = vfs::ATTR_MODE;
    chmod.mode = mode & 07777;
    TRY(made->setattr(chmod));
    RefPtr<Vnode> cached;  // dropped after the lock
    SpinLockGuard guard(overlay().m_tree_lock);
    if ((cached = find_child(name))) {
        auto& child = static_cast<OverlayVnode&>(*cached);
        child.mark_removed();
        forget_child(child);
    }
    changed();
    return {};
}

// --- removing ---

ErrorOr<void> OverlayVnode::remove(std::string_view name, RemoveKind kind) {
    if (!is_directory()) return error(ENOTDIR);
    if (is_reserved_name(name)) return error(ENOENT);
    ChangeScope changes(overlay());
    RefPtr<Vnode> found = TRY(lookup(name));
    auto& victim = static_cast<OverlayVnode&>(*found);
    if (kind == RemoveKind::Directory) {
        if (!victim.is_directory()) return error(ENOTDIR);
        if (!TRY(victim.is_empty())) return error(ENOTEMPTY);
    } else if (victim.is_directory()) {
        return error(EISDIR);
    }
    TRY(copy_up_locked());
    bool lower_has = m_lower && m_lower->lookup(name);
    if (victim.upper()) {
        if (kind == RemoveKind::Directory) TRY(victim.clear_upper_directory());
        TRY(upper()->remove(name, kind));
    }
    if (lower_has) TRY(make_whiteout(name));
    SpinLockGuard guard(overlay().m_tree_lock);
    victim.mark_removed();
    forget_child(victim);
    changed();
    return {};
}

// --- renaming ---

ErrorOr<void> OverlayVnode::rename(std::string_view old_name, Vnode& new_dir_vnode, std::string_view new_name,
                                   unsigned flags) {
    if (!is_directory() || !new_dir_vnode.is_directory()) return error(ENOTDIR);
    if (&new_dir_vnode.fs() != &fs()) return error(EXDEV);
    if (is_reserved_name(old_name)) return error(ENOENT);
    if (is_reserved_name(new_name)) return error(EPERM);
    auto& new_dir = static_cast<OverlayVnode&>(new_dir_vnode);
    ChangeScope changes(overlay());
    if (new_dir.removed()) return error(ENOENT);
    RefPtr<Vnode> source_ref = TRY(lookup(old_name));
    auto& source = static_cast<OverlayVnode&>(*source_ref);
    auto target_found = new_dir.lookup(new_name);
    if (!target_found && target_found.error().code != ENOENT) return std::unexpected(target_found.error());
    RefPtr<Vnode> target_ref = target_found ? *target_found : RefPtr<Vnode>();
    auto* target = static_cast<OverlayVnode*>(target_ref.get());
    if (target == &source) return {};
    if (source.is_directory() && source.m_lower) return error(EXDEV);  // no redirect_dir (directories keep it)
    bool source_lower_has = m_lower && m_lower->lookup(old_name);
    bool target_lower_has = new_dir.m_lower && new_dir.m_lower->lookup(new_name);
    if (flags & RENAME_EXCHANGE_FLAG) {
        if (!target) return error(ENOENT);
        if (source.has_lower() || target->has_lower() || source_lower_has || target_lower_has) return error(EXDEV);
    } else if (target) {
        if (flags & RENAME_NOREPLACE_FLAG) return error(EEXIST);
        if (source.is_directory()) {
            if (!target->is_directory()) return error(ENOTDIR);
            if (!TRY(target->is_empty())) return error(ENOTEMPTY);
        } else if (target->is_directory()) {
            return error(EISDIR);
        }
    }
    KString source_new_name = TRY(KString::from(new_name));
    KString target_new_name;
    if (flags & RENAME_EXCHANGE_FLAG) target_new_name = TRY(KString::from(old_name));
    TRY(source.copy_up_locked());
    TRY(copy_up_locked());
    TRY(new_dir.copy_up_locked());
    bool had_whiteout = false;
    if (!(flags & RENAME_EXCHANGE_FLAG)) {
        if (target && target->upper() && target->is_directory()) TRY(target->clear_upper_directory());
        if (TRY(new_dir.upper_has_whiteout(new_name))) {
            TRY(new_dir.upper()->remove(new_name, RemoveKind::File));
            had_whiteout = true;
        }
        // A directory that lands where a lower one is hidden must not show that one's entries.
        if (source.is_directory() && target_lower_has && !source.upper()->lookup(OVERLAY_OPAQUE_MARKER))
            TRY(source.upper()->create(OVERLAY_OPAQUE_MARKER, S_IFREG, 0, 0, 0));
    }
    auto renamed = upper()->rename(old_name, *new_dir.upper(), new_name, flags);
    if (!renamed) {
        new_dir.restore_whiteout(new_name, had_whiteout);
        return renamed;
    }
    if (source_lower_has && !(flags & RENAME_EXCHANGE_FLAG)) TRY(make_whiteout(old_name));

    // The old parent pointers and names, let go after the tree lock (the callers hold both
    // directories: never the last references).
    RefPtr<OverlayVnode> old_source_parent(&new_dir), old_target_parent(this);
    if (!source.is_directory()) source.m_lower_dropped = true;
    SpinLockGuard guard(overlay().m_tree_lock);
    forget_child(source);
    std::swap(source.m_parent, old_source_parent);
    source.m_name = static_cast<KString&&>(source_new_name);  // the old name freed after the lock
    new_dir.m_children.push_back(source);
    if (target) {
        new_dir.forget_child(*target);
        if (flags & RENAME_EXCHANGE_FLAG) {
            std::swap(target->m_parent, old_target_parent);
            target->m_name = static_cast<KString&&>(target_new_name);
            m_children.push_back(*target);
        } else {
            target->mark_removed();
        }
    }
    changed();
    return {};
}

// --- listing ---

// The upper layer's entries, then the lower layer's it neither has nor whites out. Built aside
// and swapped in at the end: the layers' readdir may block, and another thread may list this
// directory meanwhile.
ErrorOr<void> OverlayVnode::build_listing(EntryList& into) {
    EntryList listing, upper, whiteouts;
    Vnode* m_upper = this->upper();
    RefPtr<OverlayVnode> above = parent();
    TRY(listing.append(".", layer_ino(), DT_DIR));
    TRY(listing.append("..", above ? above->layer_ino() : layer_ino(), DT_DIR));
    if (m_upper) TRY(collect(*m_upper, upper));
    for (size_t i = 0; i < upper.size(); ++i) {
        std::string_view name = upper[i].name.view();
        if (is_reserved_name(name)) continue;
        if (upper[i].type == DT_CHR || upper[i].type == DT_UNKNOWN) {
            auto found = m_upper->lookup(name);
            if (found && is_whiteout(**found)) {
                TRY(whiteouts.append(name, 0, DT_CHR));
                continue;
            }
        }
        TRY(listing.append(name, upper[i].ino | OVERLAY_UPPER_INO_BIT, upper[i].type));
    }
    if (m_lower) {
        size_t upper_end = listing.size();
        EntryList lower;
        TRY(collect(*m_lower, lower));
        for (size_t i = 0; i < lower.size(); ++i) {
            std::string_view name = lower[i].name.view();
            if (whiteouts.contains(name) || is_reserved_name(name)) continue;
            bool shown_above = false;
            for (size_t j = 2; j < upper_end && !shown_above; ++j) shown_above = listing[j].name.view() == name;
            if (!shown_above) TRY(listing.append(name, lower[i].ino, lower[i].type));
        }
    }
    into.swap(listing);
    return {};
}

// A snapshot from cookie 0 on, as overlayfs keeps one per open directory: cookies stay indexes
// into it while the directory changes (rm -r unlinks while it lists, and the first unlink of a
// lower entry copies the directory up), and a listing started before a change goes on with the
// names it had.
ErrorOr<void> OverlayVnode::readdir(uint64_t& cookie, vfs::DirSink& sink) {
    if (!is_directory()) return error(ENOTDIR);
    // One listing at a time per directory (the snapshot is the directory's, as under the big
    // lock): held across the sink's copies to the app (a Mutex).
    sched::MutexLocker listing(m_listing_lock);
    if (cookie == 0 || !m_listing_built) {
        TRY(build_listing(m_listing));
        m_listing_built = true;
    }
    emit_entries(m_listing, cookie, sink);
    return {};
}

// getdents64: the snapshot is the open directory's (two threads listing one directory through
// two descriptions each go on with their own names; on one vnode's listing a listing started
// on another CPU would move their cookies), under the description's position lock.
ErrorOr<void> OverlayVnode::readdir_open(uint64_t& cookie, vfs::DirSink& sink, RefPtr<RefCounted>& listing) {
    if (!is_directory()) return error(ENOTDIR);
    if (cookie == 0 || !listing) {
        auto* made = mm::kcreate<Listing>();
        if (!made) return error(ENOMEM);
        RefPtr<RefCounted> fresh(made);
        TRY(build_listing(made->entries));
        listing = static_cast<RefPtr<RefCounted>&&>(fresh);
    }
    emit_entries(static_cast<Listing&>(*listing).entries, cookie, sink);
    return {};
}

}  // namespace xos::fs
