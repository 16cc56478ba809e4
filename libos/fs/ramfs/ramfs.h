// ramfs: the root file system, in memory. Directories are hash tables of entries (kept in
// creation order too, for stable getdents64 cookies); regular files keep their data in a
// PageTree (sparse); symlinks keep their text. Timestamps, permissions and ownership are
// stored and reported. Portable; unit-tested on the host.
//
// Locking (docs/locking.md "Files and directories"): its vnodes are thread_safe(). A file's
// page tree, size and block count are under its m_lock (a SpinLock, never held across a copy
// to or from app memory); its writes run under the vnode's m_io_lock (File::write_at), which
// truncate and allocate take too; reads take neither for the copy (several at once), and a
// page a truncate drops meanwhile is freed by the last reader (m_readers, m_deferred). A
// directory's entries are under its m_dir_lock (a sched::Mutex: readdir copies to the app).
#pragma once

#include "base/hash_table.h"
#include "base/kstring.h"
#include "base/spinlock.h"
#include "fs/ramfs/page_tree.h"
#include "vfs/vnode.h"

namespace xos::fs {

class RamDir;

class RamFs final : public vfs::Filesystem {
public:
    RamFs(const char* type_name = "tmpfs", uint64_t magic = 0x01021994);
    ~RamFs() override;

    // Fails (ENOMEM) only when the root directory cannot be allocated.
    ErrorOr<void> initialize(mode_t root_mode = 0755);
    RefPtr<vfs::Vnode> root() override;
    ErrorOr<vfs::FsStats> statfs() override;
    bool walks_without_big_lock() const override { return true; }

    // Pages of file data, for statfs and the size limit.
    // Changed by files and directories on several CPUs at once: atomic accesses only.
    size_t data_pages() const { return __atomic_load_n(&m_data_pages, __ATOMIC_RELAXED); }
    void add_data_pages(ptrdiff_t count) { __atomic_fetch_add(&m_data_pages, size_t(count), __ATOMIC_RELAXED); }
    size_t nodes() const { return __atomic_load_n(&m_nodes, __ATOMIC_RELAXED); }
    void add_nodes(ptrdiff_t count) { __atomic_fetch_add(&m_nodes, size_t(count), __ATOMIC_RELAXED); }
    // Free memory in pages, for statfs's "available" (set by the kernel; unit tests leave it null).
    static inline size_t (*free_pages_hook)() = nullptr;

    // The size limit (tmpfs' size=): file data beyond `pages` pages fails with ENOSPC, so that a
    // full file system leaves the rest of memory to the program. NO_LIMIT (the default): only
    // memory limits it. statfs reports the limit as the size, as tmpfs does.
    static constexpr size_t NO_LIMIT = ~size_t(0);
    void set_size_limit(size_t pages) { m_page_limit = pages; }
    size_t size_limit() const { return m_page_limit; }
    // How many more data pages the limit allows.
    size_t pages_left() const {
        size_t used = data_pages();
        return used < m_page_limit ? m_page_limit - used : 0;
    }

    // A regular file that is in no directory (memfd_create, O_TMPFILE).
    ErrorOr<RefPtr<vfs::Vnode>> create_unlinked_file(mode_t mode);

    // Linux's s_vfs_rename_mutex: held by a rename between two directories and by rmdir, so
    // that the ancestor check of a directory's move (no directory into its own subtree) reads
    // parent pointers that no other rename or rmdir changes meanwhile. Before the directory locks.
    sched::Mutex& rename_lock() { return m_rename_lock; }

private:
    RefPtr<RamDir> m_root;
    sched::Mutex m_rename_lock;
    size_t m_page_limit = NO_LIMIT;
    size_t m_data_pages = 0;
    size_t m_nodes = 0;
};

class RamFile final : public vfs::Vnode {
public:
    RamFile(RamFs& fs, mode_t mode) : Vnode(fs, fs.allocate_ino(), mode) {}
    ~RamFile() override;

    bool thread_safe() const override { return true; }
    ErrorOr<vfs::Attributes> getattr() override;
    // Without the big lock: the size through truncate, the rest under m_lock (as getattr reads).
    ErrorOr<void> setattr(const vfs::AttrChange& change) override;
    ErrorOr<size_t> read(uint64_t offset, std::span<std::byte> buffer) override;
    ErrorOr<size_t> write(uint64_t offset, std::span<const std::byte> data) override;
    ErrorOr<void> truncate(uint64_t size) override;
    ErrorOr<void> allocate(int mode, uint64_t offset, uint64_t length) override;
    // mmap maps these pages directly (ENOSPC past the size limit: the fault is then SIGBUS).
    bool has_data_pages() const override { return true; }
    ErrorOr<std::byte*> data_page(uint64_t index, bool create) override;
    // memfd seals (F_ADD_SEALS, sys/file_open.cpp): write, truncate and allocate honour
    // F_SEAL_WRITE/FUTURE_WRITE, F_SEAL_SHRINK and F_SEAL_GROW as Linux's shmem does.
    uint32_t seals() const { return m_seals; }
    void set_seals(uint32_t seals) { m_seals = seals; }

private:
    RamFs& ramfs() const { return static_cast<RamFs&>(fs()); }
    // True if the page at `index` exists or the size limit allows one more page beyond the
    // `added` this operation has created so far (the file system's count is updated at its end).
    bool within_limit(uint64_t index, size_t added) const REQUIRES(m_lock);
    void update_blocks() REQUIRES(m_lock);
    // The page at `index` for a write, created if absent (counted in the file system's pages).
    ErrorOr<std::byte*> page_for_write(uint64_t index, PageTree::NewPage new_page, size_t& added);
    ErrorOr<void> truncate_locked(uint64_t size);
    mutable SpinLock m_lock;
    PageTree m_pages GUARDED_BY(m_lock);
    // Reads copy from pages with m_lock let go and without m_io_lock (several readers at once):
    // a truncate meanwhile puts the pages it drops on m_deferred, which the last reader frees.
    unsigned m_readers GUARDED_BY(m_lock) = 0;
    void* m_deferred GUARDED_BY(m_lock) = nullptr;
    uint32_t m_seals = 0;
};

class RamSymlink final : public vfs::Vnode {
public:
    RamSymlink(RamFs& fs, KString target);
    bool thread_safe() const override { return true; }  // the target never changes
    ErrorOr<KString> readlink() override;

private:
    KString m_target;
};

// FIFOs, sockets and device nodes: attributes only; opening is the VFS's business.
class RamSpecial final : public vfs::Vnode {
public:
    RamSpecial(RamFs& fs, mode_t mode, dev_t rdev) : Vnode(fs, fs.allocate_ino(), mode) { m_attr.rdev = rdev; }
    bool thread_safe() const override { return true; }  // attributes only; opening takes the big lock
};

class RamDir final : public vfs::Vnode {
public:
    RamDir(RamFs& fs, mode_t mode, RamDir* parent);
    ~RamDir() override;

    bool thread_safe() const override { return true; }
    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    ErrorOr<RefPtr<vfs::Vnode>> create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) override;
    ErrorOr<void> symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) override;
    ErrorOr<void> link(std::string_view name, vfs::Vnode& target) override;
    ErrorOr<void> remove(std::string_view name, vfs::RemoveKind kind) override;
    ErrorOr<void> rename(std::string_view old_name, vfs::Vnode& new_dir, std::string_view new_name,
                         unsigned flags) override;
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;

    bool empty() const NO_THREAD_SAFETY_ANALYSIS { return m_first == nullptr; }
    size_t entry_count() const NO_THREAD_SAFETY_ANALYSIS { return m_by_name.size(); }

private:
    struct Entry {
        HashTableNode hash_node;
        Entry* prev = nullptr;  // creation order, for readdir
        Entry* next = nullptr;
        KString name;
        RefPtr<vfs::Vnode> node;
        uint64_t cookie;
    };
    struct EntryTraits {
        static std::string_view key_of(const Entry& entry) { return entry.name.view(); }
        static size_t hash(std::string_view key) { return hash_bytes(key); }
        static bool equal(std::string_view a, std::string_view b) { return a == b; }
    };

    RamFs& ramfs() const { return static_cast<RamFs&>(fs()); }
    Entry* find(std::string_view name) const REQUIRES(m_dir_lock) { return m_by_name.find(name); }
    ErrorOr<void> add(std::string_view name, RefPtr<vfs::Vnode> node) REQUIRES(m_dir_lock);
    void unlink_entry(Entry& entry) REQUIRES(m_dir_lock);  // unlinks and frees the entry (not the node)
    ErrorOr<void> rename_locked(std::string_view old_name, RamDir& new_dir, std::string_view new_name, unsigned flags)
        NO_THREAD_SAFETY_ANALYSIS;  // this directory's lock and new_dir's are held (one lock if the same)
    // Sets a subdirectory's parent under its lock (rename, rmdir); its parents' locks are held.
    static void set_parent(RamDir& dir, RamDir* parent);
    static void drop_link(vfs::Vnode& node, RamDir* from);
    bool is_ancestor_or_self(const RamDir& of) const;  // true if this is `of` or above it

    // Lock order: two directories' locks (rename) by address, then a moved subdirectory's.
    sched::Mutex m_dir_lock;
    IntrusiveHashTable<Entry, &Entry::hash_node, EntryTraits> m_by_name GUARDED_BY(m_dir_lock);
    Entry* m_first GUARDED_BY(m_dir_lock) = nullptr;
    Entry* m_last GUARDED_BY(m_dir_lock) = nullptr;
    // Null for the root and once removed (a linked directory never outlives its parent).
    // Changed under the big lock, the parents' locks and this one's; read under this one's.
    RamDir* m_parent;
    uint64_t m_next_cookie GUARDED_BY(m_dir_lock) = 3;  // 0: ".", 1: "..", 2...: entries
};

}  // namespace xos::fs
