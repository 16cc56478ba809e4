// overlay: a writable upper layer in memory (a ramfs) over a read-only lower layer (any file
// system: the host's root directory through 9p or hostfs, later a disk image), with Linux
// overlayfs's rules where a program can see them (docs/unmodified-binaries.md, "Root file
// system"). The lower layer is never written.
//
//   lookup:   upper first; a whiteout there hides the lower entry; a directory in both is merged
//             unless the upper one is opaque; a non-directory in the upper hides the lower entry.
//   readdir:  the upper's entries, then the lower's that the upper neither has nor whites out;
//             a snapshot taken at the start of a listing (cookie 0), as overlayfs's dir cache.
//   copy-up:  the first change to a lower file (open for writing, truncate, chmod, chown,
//             utimens, link) copies it, and the directories above it, into the upper layer:
//             data, mode, owner, times (the VFS has no extended attributes to copy).
//   unlink, rmdir of a lower entry: leave a whiteout in the upper layer.
//   rename:   within the overlay; a directory that exists in the lower layer cannot move (EXDEV,
//             as overlayfs without redirect_dir: mv then copies), nor can RENAME_EXCHANGE swap
//             entries that have lower parts.
//
// The upper layer's format is Linux's where it can be: a whiteout is a character device 0/0.
// An opaque directory (one made where a whiteout hid a lower directory) holds an empty file
// named ".wh..wh..opq" (the OCI image layers' marker; overlayfs keeps an extended attribute
// instead). Names starting with ".wh..wh." are the upper layer's own: lookup and readdir hide
// them (a lower file so named too) and programs cannot create them.
//
// Identity: one overlay vnode per name while it is referenced (a directory lists its children
// in use), so mount points, flock and the mmap page cache stay with the name. st_dev is the
// overlay's for every file; st_ino is the lower file's until the file is copied up, then the
// upper file's with bit 62 set (numbers of the two layers never collide); st_ino therefore
// changes at copy-up (overlayfs without xino keeps it; nothing here needs it).
//
// File data of both layers is mapped through the page cache (mm/file_cache.h), never the ramfs'
// own pages, so a mapping made before a copy-up keeps working after it. Portable; unit-tested
// on the host over two ramfs instances.
//
// Locking (docs/locking.md "The overlay"): the vnodes are thread_safe() and the file system
// walks_without_big_lock() when the lower layer's are (EROFS, ramfs; not 9p or hostfs, whose
// vnodes are the big lock's: the overlay then stays under it too). Per file system:
//   m_change_lock (sched::Mutex): every change of the tree (create, symlink, link, remove,
//     rename, make_empty_directory) and every copy-up, one at a time: a copy-up happens once per
//     file, and a change sees the layers as the changes before it left them.
//   m_tree_lock (SpinLock): the cache of vnodes in use (each directory's m_children), each
//     vnode's m_parent and m_name (changed under both locks, read under either), and the
//     generation count every change bumps when it is done: a lookup that ran the layers'
//     lookups while a change went on does not cache what it found (it looks again), and never
//     revives a vnode whose count went to 0 (RefCounted::try_ref).
// Per vnode: m_upper is set once (null to the copy, under m_change_lock) and read with an
// acquire load: a reader sees the lower file, or the upper one complete (a regular file is
// copied under a temporary name and renamed into place before m_upper is published); m_lower
// never changes while the vnode lives. m_listing_lock (sched::Mutex) holds a directory's merged
// listing across a readdir. Order: a vnode's m_io_lock; m_change_lock; m_listing_lock; the
// layers' locks (ramfs rename and directory locks, EROFS's m_lock, an upper file's m_io_lock);
// m_tree_lock (nothing taken under it but the heap).
#pragma once

#include "base/intrusive_list.h"
#include "base/kstring.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "fs/ramfs/ramfs.h"
#include "sched/mutex.h"
#include "vfs/vnode.h"

namespace xos::fs {

class OverlayFs;

inline constexpr std::string_view OVERLAY_OPAQUE_MARKER = ".wh..wh..opq";
// Names the upper layer keeps for itself (the marker, copies in progress): hidden from lookup
// and readdir (in both layers), refused to programs.
inline constexpr std::string_view OVERLAY_RESERVED_PREFIX = ".wh..wh.";
inline constexpr uint64_t OVERLAY_UPPER_INO_BIT = uint64_t(1) << 62;
inline constexpr uint64_t OVERLAYFS_SUPER_MAGIC = 0x794c7630;

// The upper layer's conventions (portable rules, unit-tested).
bool is_whiteout(const vfs::Vnode& vnode);  // a character device 0/0
bool is_reserved_name(std::string_view name);  // names the upper layer uses for itself

class OverlayVnode final : public vfs::Vnode {
public:
    OverlayVnode(OverlayFs& fs, OverlayVnode* parent, KString name, RefPtr<Vnode> upper, RefPtr<Vnode> lower);
    ~OverlayVnode() override;

    // Set once (copy-up) and never cleared while the vnode lives: an acquire load.
    Vnode* upper() const { return __atomic_load_n(&m_upper, __ATOMIC_ACQUIRE); }
    Vnode* lower() const { return m_lower.get(); }
    // The layer that answers for this file now: the upper one once it exists.
    Vnode& real() const {
        Vnode* up = upper();
        return up ? *up : *m_lower;
    }

    bool thread_safe() const override;

    ErrorOr<vfs::Attributes> getattr() override;
    ErrorOr<void> setattr(const vfs::AttrChange& change) override;

    ErrorOr<RefPtr<Vnode>> lookup(std::string_view name) override;
    ErrorOr<RefPtr<Vnode>> create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) override;
    ErrorOr<void> symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) override;
    ErrorOr<void> link(std::string_view name, Vnode& target) override;
    ErrorOr<void> remove(std::string_view name, vfs::RemoveKind kind) override;
    ErrorOr<void> rename(std::string_view old_name, Vnode& new_dir, std::string_view new_name, unsigned flags) override;
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;
    ErrorOr<void> readdir_open(uint64_t& cookie, vfs::DirSink& sink, RefPtr<RefCounted>& listing) override;

    ErrorOr<size_t> read(uint64_t offset, std::span<std::byte> buffer) override;
    ErrorOr<size_t> write(uint64_t offset, std::span<const std::byte> data) override;
    ErrorOr<void> truncate(uint64_t size) override;
    ErrorOr<void> allocate(int mode, uint64_t offset, uint64_t length) override;
    ErrorOr<void> sync() override;
    bool mappable() const override { return real().mappable(); }  // through the page cache
    ErrorOr<KString> readlink() override;
    ErrorOr<RefPtr<vfs::File>> open(int flags) override;

    // Makes this file (and the directories above it) exist in the upper layer.
    ErrorOr<void> copy_up();
    // The same with the file system's m_change_lock held.
    ErrorOr<void> copy_up_locked();
    // Makes `name` an empty directory of the upper layer, hiding whatever the lower layer has
    // there (the program's /tmp: fs/boot.cpp). EEXIST if the upper layer has it already.
    ErrorOr<void> make_empty_directory(std::string_view name, mode_t mode);

    IntrusiveListNode child_node;  // in the parent's list of children in use

private:
    OverlayFs& overlay() const;
    uint64_t layer_ino() const;
    // A live child cached under `name`, with a new reference (null if none); m_tree_lock held.
    RefPtr<Vnode> find_child(std::string_view name);
    void forget_child(OverlayVnode& child);  // unlinked or renamed away; m_tree_lock held
    RefPtr<OverlayVnode> parent() const;  // under m_tree_lock
    bool removed() const { return __atomic_load_n(&m_removed, __ATOMIC_RELAXED); }
    void mark_removed();  // m_tree_lock held
    // The lower layer still answers for the file's identity (a renamed file's does not).
    bool has_lower() const { return m_lower && !m_lower_dropped; }
    ErrorOr<RefPtr<Vnode>> lookup_uncached(std::string_view name);
    ErrorOr<void> look_in_layers(std::string_view name, RefPtr<Vnode>& upper_out, RefPtr<Vnode>& lower_out);
    // The end of a change of the tree (m_tree_lock held): lookups that ran meanwhile look again.
    void changed();
    // Caches `made` (a new upper entry) as the child `name`, unless a lookup cached one first.
    ErrorOr<RefPtr<Vnode>> adopt_child(std::string_view name, RefPtr<Vnode> made);
    ErrorOr<bool> upper_has_whiteout(std::string_view name);
    ErrorOr<bool> is_empty();  // no visible entries (rmdir, rename over a directory)
    ErrorOr<void> clear_upper_directory();  // removes the whiteouts and marker it holds
    ErrorOr<void> make_whiteout(std::string_view name);
    // Before making `name` in the upper layer: removes a whiteout there (true if there was one,
    // so a directory made in its place must be opaque).
    ErrorOr<bool> prepare_upper_name(std::string_view name);
    void restore_whiteout(std::string_view name, bool had_whiteout);

public:
    // A growable array of directory entries (the merged listing; names being collected).
    class EntryList {
    public:
        struct Entry {
            KString name;
            uint64_t ino;
            unsigned char type;
        };
        EntryList() = default;
        EntryList(const EntryList&) = delete;
        EntryList& operator=(const EntryList&) = delete;
        ~EntryList() { clear(); }
        ErrorOr<void> append(std::string_view name, uint64_t ino, unsigned char type);
        bool contains(std::string_view name) const;
        void clear();
        void swap(EntryList& other);
        size_t size() const { return m_size; }
        const Entry& operator[](size_t index) const { return m_entries[index]; }

    private:
        Entry* m_entries = nullptr;
        size_t m_size = 0;
        size_t m_capacity = 0;
    };

    // A snapshot of the merged listing, kept by an open directory (readdir_open).
    struct Listing final : RefCounted {
        EntryList entries;
    };

private:
    ErrorOr<void> build_listing(EntryList& into);

private:
    // m_parent, m_name, m_children: the file system's m_tree_lock (m_parent and m_name are
    // changed under its m_change_lock too, and read under either).
    RefPtr<OverlayVnode> m_parent;  // null for the root
    KString m_name;
    Vnode* m_upper = nullptr;  // a reference; set once, under m_change_lock (upper())
    const RefPtr<Vnode> m_lower;  // never changes (readers use it without a lock)
    bool m_lower_dropped = false;  // a renamed file: the lower one is not its any more (m_change_lock)
    IntrusiveList<OverlayVnode, &OverlayVnode::child_node> m_children;  // not owned
    // The merged listing readdir (not through an open file: rmdir's emptiness check, getcwd)
    // works from (built at cookie 0; cookie n is entry n).
    sched::Mutex m_listing_lock;
    EntryList m_listing GUARDED_BY(m_listing_lock);
    bool m_listing_built GUARDED_BY(m_listing_lock) = false;
    bool m_removed = false;  // unlinked, or replaced by a rename: set under both locks, read atomically

    friend class OverlayFs;
};

class OverlayFs final : public vfs::Filesystem {
public:
    // `lower_root`: a directory of any file system, never written. `upper`: an initialized ramfs
    // (its size limit is the overlay's), owned by the caller.
    OverlayFs(RefPtr<vfs::Vnode> lower_root, RamFs& upper);
    ~OverlayFs() override;

    ErrorOr<void> initialize();
    RefPtr<vfs::Vnode> root() override;
    ErrorOr<vfs::FsStats> statfs() override;
    ErrorOr<void> sync() override { return m_lower_root->fs().sync(); }

    RamFs& upper_fs() const { return m_upper; }
    uint64_t next_copy_number() REQUIRES(m_change_lock) { return m_copies++; }  // names of copies in progress
    // Whether the layers' vnodes may be called, held and dropped without the big lock (the
    // lower layer's say so; the upper is a ramfs): then the overlay's too.
    bool walks_without_big_lock() const override { return m_thread_safe; }
    bool thread_safe() const { return m_thread_safe; }

    // See the locking comment at the top.
    sched::Mutex m_change_lock;
    SpinLock m_tree_lock;
    uint64_t m_generation GUARDED_BY(m_tree_lock) = 0;

private:
    RefPtr<vfs::Vnode> m_lower_root;
    RamFs& m_upper;
    RefPtr<OverlayVnode> m_root;
    uint64_t m_copies GUARDED_BY(m_change_lock) = 0;
    bool m_thread_safe;
};

}  // namespace xos::fs
