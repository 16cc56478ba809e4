// EROFS, read-only: an image made by mkfs.erofs (erofs-utils) on a disk, as the lower layer of
// the root (xos-run --root-image, fs/boot.cpp) or mounted anywhere. Portable: it reads through
// an ErofsDevice (a block device file in the kernel, a byte buffer in the host unit tests).
//
// Understood: the superblock (magic, crc32c checksum when SB_CHKSUM is set, block size 4096;
// unknown incompatible features are refused by name), compact and extended inodes, the data
// layouts flat-plain, flat-inline (tail packed after the inode) and chunk-based (4-byte block
// addresses or 8-byte indexes, holes), directories (lookup by binary search over the sorted
// blocks, then within the block), regular files, symlinks, device nodes, FIFOs and sockets;
// mode, uid/gid, nlink, mtime (the build time for compact inodes), st_blocks; LZ4-compressed
// files (mkfs.erofs -zlz4 or -zlz4hc: legacy or compacted indexes, one-block pclusters, zero
// padding); other compression settings fail to read with EOPNOTSUPP and a log line, and the
// features they need are refused at mount. Extended attributes are not read (ENODATA, as for
// every file system here).
//
// Corruption: every offset, size, block address, nid and dirent is checked against the device
// and the format before it is used; a bad one gives EIO and one log line naming the inode,
// never a crash. No operation loops more than the image's own sizes allow.
//
// Data reads go straight from the device into the caller's buffer (the device copies with the
// fault-safe user copy); metadata (inodes, directory blocks, chunk tables, inline tails) goes
// through a small block cache. One vnode per nid while referenced, so hard links are one vnode
// and one page cache (mm/file_cache.h) when mapped.
//
// Locking (docs/locking.md "Files and directories"): the vnodes are thread_safe() and the file
// system walks_without_big_lock(). One sched::Mutex per file system (m_lock) is held by every
// vnode operation that reads the image (lookup, readdir, read, readlink): it guards the block
// cache and the decompression cache, and the device's reads take the big lock inside it (the
// disk's driver is the big lock's; a big-lock holder that wants m_lock sleeps, giving the big
// lock up, so the two never wait for each other in a cycle). The table of vnodes by nid has a
// SpinLock (m_vnodes_lock) and is revive-safe: a lookup takes a reference only on a vnode whose
// count is not 0 (RefCounted::try_ref), and unlinks a dying one it finds (its destructor then
// leaves the table alone), so a last reference dropped on one CPU (a lock-free path walk) and a
// lookup on another never meet in one vnode. Attributes and layout are set before a vnode is
// published and never change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"
#include "base/hash_table.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "fs/erofs/format.h"
#include "sched/mutex.h"
#include "vfs/vnode.h"

namespace xos::erofs {

// Where the image is read from.
class ErofsDevice {
public:
    // Size in bytes.
    virtual uint64_t size() const = 0;
    // Reads exactly `buffer.size()` bytes at `offset` (within size()). `buffer` may be the
    // app's: copy into it with the fault-safe user copy (EFAULT if it faults).
    virtual ErrorOr<void> read(uint64_t offset, std::span<std::byte> buffer) = 0;
    // "/dev/vda": for log lines.
    virtual const char* name() const = 0;

protected:
    ~ErofsDevice() = default;
};

class ErofsFs;

class ErofsVnode final : public vfs::Vnode {
public:
    ErofsVnode(ErofsFs& fs, uint64_t nid, mode_t mode);
    ~ErofsVnode() override;

    uint64_t nid() const { return m_nid; }

    ErrorOr<void> setattr(const vfs::AttrChange& change) override;
    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    ErrorOr<RefPtr<vfs::Vnode>> create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) override;
    ErrorOr<void> symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) override;
    ErrorOr<void> link(std::string_view name, vfs::Vnode& target) override;
    ErrorOr<void> remove(std::string_view name, vfs::RemoveKind kind) override;
    ErrorOr<void> rename(std::string_view old_name, vfs::Vnode& new_dir, std::string_view new_name,
                         unsigned flags) override;
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;
    ErrorOr<size_t> read(uint64_t offset, std::span<std::byte> buffer) override;
    ErrorOr<size_t> write(uint64_t offset, std::span<const std::byte> data) override;
    ErrorOr<void> truncate(uint64_t size) override;
    ErrorOr<void> allocate(int mode, uint64_t offset, uint64_t length) override;
    bool mappable() const override { return is_regular(); }  // through the page cache
    bool thread_safe() const override { return true; }  // the file system's m_lock (above)
    ErrorOr<KString> readlink() override;

    HashTableNode cache_node;

private:
    friend class ErofsFs;

    // A piece of the file: `length` bytes from a logical offset are at `physical` on the device
    // (HOLE: zeros).
    static constexpr uint64_t HOLE = ~uint64_t(0);
    struct Extent {
        uint64_t physical;
        uint64_t length;
    };
    ErofsFs& erofs() const;
    ErrorOr<Extent> map(uint64_t offset);
    // Reads file bytes [offset, offset + buffer.size()) (within the size) into a kernel buffer.
    ErrorOr<void> read_internal(uint64_t offset, std::span<std::byte> buffer);
    ErrorOr<size_t> read_to(uint64_t offset, std::span<std::byte> buffer, bool user);
    // Compressed files: the index of lcluster `lcn`, and the bytes from `offset` to the end of
    // its lcluster's extent (at most buffer.size()).
    struct Lcluster {
        uint8_t type;
        uint32_t clusterofs;
        uint32_t delta0;
        uint64_t pblk;
    };
    ErrorOr<Lcluster> load_lcluster(uint64_t lcn);
    ErrorOr<size_t> read_compressed(uint64_t offset, std::span<std::byte> buffer, bool user);
    // Directory block `index`: its bytes through the block cache (valid until the next call
    // that may block) and the number of entries, checked.
    struct DirBlock {
        const std::byte* data;
        size_t size;
        size_t count;
    };
    ErrorOr<DirBlock> dir_block(uint64_t index);
    std::string_view dirent_name(const DirBlock& block, size_t i) const;
    uint64_t dir_block_count() const;

    uint64_t m_nid;
    Layout m_layout = Layout::FlatPlain;
    uint32_t m_raw_blkaddr = 0;  // flat layouts: the first data block
    uint32_t m_chunk_format = 0;  // chunk-based
    uint64_t m_inline_offset = 0;  // device offset after the inode and its xattrs
    uint16_t m_z_advise = 0;  // compressed: the map header's advise bits
    bool m_z_supported = false;  // compressed: LZ4, 4 KiB lclusters, no big pclusters
    bool m_cached = false;  // in the file system's table of vnodes (under its m_vnodes_lock)
};

class ErofsFs final : public vfs::Filesystem {
public:
    static constexpr uint64_t MAGIC = SUPER_MAGIC;

    explicit ErofsFs(ErofsDevice& device);
    ~ErofsFs() override;

    // Reads and checks the superblock and the root inode: EINVAL for something that is not an
    // EROFS image or uses a feature this reader lacks, EIO for a damaged one (both logged).
    ErrorOr<void> initialize();
    RefPtr<vfs::Vnode> root() override;
    ErrorOr<vfs::FsStats> statfs() override;
    bool walks_without_big_lock() const override { return true; }  // revive-safe table (above)

    // The vnode of inode `nid` (one per nid while referenced).
    ErrorOr<RefPtr<ErofsVnode>> vnode(uint64_t nid) REQUIRES(m_lock);

    uint32_t block_size() const { return 1u << m_blkszbits; }
    uint64_t blocks() const { return m_blocks; }
    ErofsDevice& device() { return m_device; }

    // Reads `out.size()` bytes of metadata at device offset `offset` through the block cache.
    ErrorOr<void> read_meta(uint64_t offset, std::span<std::byte> out) REQUIRES(m_lock);
    // Block `block` through the cache (valid until the next call that may block, or m_lock is let go).
    ErrorOr<const std::byte*> cached_block(uint64_t block) REQUIRES(m_lock);

    // Held by the vnodes' operations that read the image (see the top of this file).
    sched::Mutex m_lock;
    // Logs "erofs <device>: <what>" and returns EIO.
    [[gnu::format(printf, 2, 3)]] std::unexpected<Error> corrupt(const char* format, ...);

private:
    friend class ErofsVnode;
    struct CacheSlot {
        uint64_t block = ~uint64_t(0);
        std::byte* data = nullptr;
        uint64_t last_use = 0;
        bool loading = false;
    };
    static constexpr size_t CACHE_SLOTS = 32;

    ErrorOr<void> load_inode(ErofsVnode& vnode) REQUIRES(m_lock);
    void forget(ErofsVnode& vnode);

    struct VnodeTraits {
        static uint64_t key_of(const ErofsVnode& vnode) { return vnode.nid(); }
        static size_t hash(uint64_t nid) { return size_t(nid * 0x9E3779B97F4A7C15ull >> 20); }
        static bool equal(uint64_t a, uint64_t b) { return a == b; }
    };

    ErofsDevice& m_device;
    unsigned m_blkszbits = 12;
    uint64_t m_blocks = 0;
    uint64_t m_meta_offset = 0;  // device offset of nid 0
    uint64_t m_root_nid = 0;
    uint64_t m_inodes = 0;
    vfs::Timestamp m_build_time;
    uint32_t m_feature_incompat = 0;
    RefPtr<ErofsVnode> m_root;
    SpinLock m_vnodes_lock;
    IntrusiveHashTable<ErofsVnode, &ErofsVnode::cache_node, VnodeTraits> m_vnodes GUARDED_BY(m_vnodes_lock);
    CacheSlot m_cache[CACHE_SLOTS] GUARDED_BY(m_lock);
    uint64_t m_cache_clock GUARDED_BY(m_lock) = 0;
    // The last pcluster decompressed (sequential reads of a compressed file decompress each
    // pcluster once): its block, and its data (Z_CACHE_PAGES, allocated on first use).
    static constexpr size_t Z_CACHE_PAGES = 272;  // > 4096 * 255 + 4096: LZ4's largest expansion of a block
    uint64_t m_z_block GUARDED_BY(m_lock) = ~uint64_t(0);
    std::byte* m_z_data GUARDED_BY(m_lock) = nullptr;
    size_t m_z_size GUARDED_BY(m_lock) = 0;
};

// crc32c (Castagnoli, reflected) continuing from `crc` with no final inversion, as Linux's
// crc32c() and the superblock checksum use it.
uint32_t crc32c(uint32_t crc, std::span<const std::byte> data);

}  // namespace xos::erofs
