// ramfs: the root file system, in memory. Directories are hash tables of entries (kept in
// creation order too, for stable getdents64 cookies); regular files keep their data in a
// PageTree (sparse); symlinks keep their text. Timestamps, permissions and ownership are
// stored and reported. Portable; unit-tested on the host.
#pragma once

#include "base/hash_table.h"
#include "base/kstring.h"
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

    // Pages of file data, for statfs and the size limit.
    size_t m_data_pages = 0;
    size_t m_nodes = 0;
    // Free memory in pages, for statfs's "available" (set by the kernel; unit tests leave it null).
    static inline size_t (*free_pages_hook)() = nullptr;

    // The size limit (tmpfs' size=): file data beyond `pages` pages fails with ENOSPC, so that a
    // full file system leaves the rest of memory to the program. NO_LIMIT (the default): only
    // memory limits it. statfs reports the limit as the size, as tmpfs does.
    static constexpr size_t NO_LIMIT = ~size_t(0);
    void set_size_limit(size_t pages) { m_page_limit = pages; }
    size_t size_limit() const { return m_page_limit; }
    // How many more data pages the limit allows.
    size_t pages_left() const { return m_data_pages < m_page_limit ? m_page_limit - m_data_pages : 0; }

    // A regular file that is in no directory (memfd_create, O_TMPFILE).
    ErrorOr<RefPtr<vfs::Vnode>> create_unlinked_file(mode_t mode);

private:
    RefPtr<RamDir> m_root;
    size_t m_page_limit = NO_LIMIT;
};

class RamFile final : public vfs::Vnode {
public:
    RamFile(RamFs& fs, mode_t mode) : Vnode(fs, fs.allocate_ino(), mode) {}
    ~RamFile() override;

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
    bool within_limit(uint64_t index, size_t added) const;
    void update_blocks();
    PageTree m_pages;
    uint32_t m_seals = 0;
};

class RamSymlink final : public vfs::Vnode {
public:
    RamSymlink(RamFs& fs, KString target);
    ErrorOr<KString> readlink() override;

private:
    KString m_target;
};

// FIFOs, sockets and device nodes: attributes only; opening is the VFS's business.
class RamSpecial final : public vfs::Vnode {
public:
    RamSpecial(RamFs& fs, mode_t mode, dev_t rdev) : Vnode(fs, fs.allocate_ino(), mode) { m_attr.rdev = rdev; }
};

class RamDir final : public vfs::Vnode {
public:
    RamDir(RamFs& fs, mode_t mode, RamDir* parent);
    ~RamDir() override;

    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    ErrorOr<RefPtr<vfs::Vnode>> create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) override;
    ErrorOr<void> symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) override;
    ErrorOr<void> link(std::string_view name, vfs::Vnode& target) override;
    ErrorOr<void> remove(std::string_view name, vfs::RemoveKind kind) override;
    ErrorOr<void> rename(std::string_view old_name, vfs::Vnode& new_dir, std::string_view new_name,
                         unsigned flags) override;
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;

    bool empty() const { return m_first == nullptr; }
    size_t entry_count() const { return m_by_name.size(); }

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
    Entry* find(std::string_view name) const { return m_by_name.find(name); }
    ErrorOr<void> add(std::string_view name, RefPtr<vfs::Vnode> node);
    void unlink_entry(Entry& entry);  // unlinks and frees the entry (not the node)
    static void drop_link(vfs::Vnode& node, RamDir* from);
    bool is_ancestor_or_self(const RamDir& of) const;  // true if this is `of` or above it

    IntrusiveHashTable<Entry, &Entry::hash_node, EntryTraits> m_by_name;
    Entry* m_first = nullptr;
    Entry* m_last = nullptr;
    RamDir* m_parent;  // null for the root and once removed (a linked directory never outlives its parent)
    uint64_t m_next_cookie = 3;  // 0: ".", 1: "..", 2...: entries
};

}  // namespace xos::fs
