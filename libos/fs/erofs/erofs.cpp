#include "fs/erofs/erofs.h"

#include "fs/erofs/lz4.h"

#include <dirent.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <cstdarg>
#include <cstdio>

#include "base/klog.h"
#include "base/user_ptr.h"
#include "base/verify.h"
#include "mm/heap.h"

namespace xos::erofs {

namespace {

constexpr uint64_t SYMLINK_MAX = 4095;  // PATH_MAX - 1, as Linux's erofs refuses longer targets
constexpr uint64_t SIZE_MAX_ALLOWED = uint64_t(1) << 62;
constexpr unsigned CHUNK_BITS_MAX = 40;  // 1 TiB chunks; mkfs.erofs makes up to the file size

uint64_t div_round_up(uint64_t value, uint64_t unit) { return value / unit + (value % unit != 0); }

unsigned char dirent_type(uint8_t file_type) {
    switch (file_type) {
    case FT_REG_FILE: return DT_REG;
    case FT_DIR: return DT_DIR;
    case FT_CHRDEV: return DT_CHR;
    case FT_BLKDEV: return DT_BLK;
    case FT_FIFO: return DT_FIFO;
    case FT_SOCK: return DT_SOCK;
    case FT_SYMLINK: return DT_LNK;
    default: return DT_UNKNOWN;
    }
}

// The names of incompatible feature bits, for the refusal's log line.
const char* incompat_name(uint32_t bit) {
    switch (bit) {
    case FEATURE_INCOMPAT_ZERO_PADDING: return "zero_padding";
    case FEATURE_INCOMPAT_COMPR_CFGS: return "compr_cfgs/big_pcluster";
    case FEATURE_INCOMPAT_CHUNKED_FILE: return "chunked_file";
    case FEATURE_INCOMPAT_DEVICE_TABLE: return "device_table/compr_head2";
    case FEATURE_INCOMPAT_ZTAILPACKING: return "ztailpacking";
    case FEATURE_INCOMPAT_FRAGMENTS: return "fragments/dedupe";
    case FEATURE_INCOMPAT_XATTR_PREFIXES: return "xattr_prefixes";
    default: return "unknown";
    }
}

const std::byte g_zeros[4096] = {};

}  // namespace

uint32_t crc32c(uint32_t crc, std::span<const std::byte> data) {
    for (std::byte b : data) {
        crc ^= uint8_t(b);
        for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return crc;
}

// --- the file system ---

ErofsFs::ErofsFs(ErofsDevice& device) : Filesystem("erofs", MAGIC), m_device(device) {
    set_mount_flags(vfs::MOUNT_READ_ONLY);
}

// Unmounted: nobody else sees it.
ErofsFs::~ErofsFs() NO_THREAD_SAFETY_ANALYSIS {
    m_root = nullptr;
    for (CacheSlot& slot : m_cache)
        if (slot.data) mm::free_pages(slot.data, 1);
    if (m_z_data) mm::free_pages(m_z_data, Z_CACHE_PAGES);
}

std::unexpected<Error> ErofsFs::corrupt(const char* format, ...) {
    char line[200];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    klog("erofs %s: %s", m_device.name(), line);
    return std::unexpected(Error{EIO});
}

ErrorOr<void> ErofsFs::initialize() {
    uint64_t device_size = m_device.size();
    if (device_size < SUPER_OFFSET + SUPER_SIZE) {
        klog("erofs %s: not an EROFS image (%llu bytes, too small for a superblock)", m_device.name(),
             (unsigned long long)device_size);
        return error(EINVAL);
    }
    // The superblock's block, for the checksum (4096 bytes, the only block size accepted).
    auto* first = static_cast<std::byte*>(mm::alloc_pages(1));
    if (!first) return error(ENOMEM);
    struct Free {
        std::byte* page;
        ~Free() { mm::free_pages(page, 1); }
    } free_first{first};
    size_t head = device_size < 4096 ? size_t(device_size) : 4096;
    if (auto read = m_device.read(0, {first, head}); !read) {
        klog("erofs %s: cannot read the superblock: errno %d", m_device.name(), read.error().code);
        return error(EIO);
    }
    const std::byte* super = first + SUPER_OFFSET;
    if (load32(super + sb::MAGIC) != SUPER_MAGIC) {
        klog("erofs %s: not an EROFS image (magic %#x)", m_device.name(), load32(super + sb::MAGIC));
        return error(EINVAL);
    }
    m_blkszbits = uint8_t(super[sb::BLKSZBITS]);
    if (m_blkszbits != 12) {
        klog("erofs %s: block size 2^%u is not supported (only 4096)", m_device.name(), m_blkszbits);
        return error(EINVAL);
    }
    uint32_t compat = load32(super + sb::FEATURE_COMPAT);
    if (compat & FEATURE_COMPAT_SB_CHKSUM) {
        if (head < 4096) return corrupt("image truncated inside its first block");
        uint32_t expected = load32(super + sb::CHECKSUM);
        memset(first + SUPER_OFFSET + sb::CHECKSUM, 0, 4);
        uint32_t actual = crc32c(~0u, {first + SUPER_OFFSET, 4096 - SUPER_OFFSET});
        if (actual != expected) return corrupt("superblock checksum mismatch (%#x, computed %#x)", expected, actual);
    }
    m_feature_incompat = load32(super + sb::FEATURE_INCOMPAT);
    if (uint32_t unknown = m_feature_incompat & ~SUPPORTED_INCOMPAT) {
        uint32_t bit = unknown & -unknown;
        klog("erofs %s: unsupported incompatible feature %s (%#x; features %#x)%s", m_device.name(), incompat_name(bit),
             bit, m_feature_incompat,
             bit == FEATURE_INCOMPAT_COMPR_CFGS || bit == FEATURE_INCOMPAT_ZTAILPACKING ||
                     bit == FEATURE_INCOMPAT_FRAGMENTS
                 ? ": make the image without compression (mkfs.erofs without -z)"
                 : "");
        return error(EINVAL);
    }
    if (load16(super + sb::EXTRA_DEVICES) != 0 || uint8_t(super[sb::DIRBLKBITS]) != 0) {
        klog("erofs %s: multiple devices or large directory blocks are not supported", m_device.name());
        return error(EINVAL);
    }
    m_blocks = load32(super + sb::BLOCKS);
    if (m_blocks > device_size >> m_blkszbits)
        return corrupt("image truncated: %llu blocks of %u bytes, the device has %llu bytes",
                       (unsigned long long)m_blocks, block_size(), (unsigned long long)device_size);
    uint32_t meta_blkaddr = load32(super + sb::META_BLKADDR);
    if (meta_blkaddr >= m_blocks)
        return corrupt("metadata block %u beyond the image's %llu blocks", meta_blkaddr, (unsigned long long)m_blocks);
    m_meta_offset = uint64_t(meta_blkaddr) << m_blkszbits;
    m_root_nid = load16(super + sb::ROOT_NID);
    m_inodes = load64(super + sb::INOS);
    m_build_time = {int64_t(load64(super + sb::BUILD_TIME)), int64_t(load32(super + sb::BUILD_TIME_NSEC))};
    if (m_build_time.nsec >= 1000000000) m_build_time.nsec = 0;

    {
        sched::MutexLocker locker(m_lock);
        m_root = TRY(vnode(m_root_nid));
    }
    if (!m_root->is_directory())
        return corrupt("the root inode %llu is not a directory", (unsigned long long)m_root_nid);
    return {};
}

RefPtr<vfs::Vnode> ErofsFs::root() { return m_root; }

ErrorOr<vfs::FsStats> ErofsFs::statfs() {
    return vfs::FsStats{.magic = MAGIC,
                        .block_size = block_size(),
                        .blocks = m_blocks,
                        .blocks_free = 0,
                        .blocks_available = 0,
                        .files = m_inodes,
                        .files_free = 0,
                        .name_max = MAX_NAME_LENGTH,
                        .flags = ST_RDONLY};
}

ErrorOr<const std::byte*> ErofsFs::cached_block(uint64_t block) {
    if (block >= m_blocks)
        return corrupt("block %llu beyond the image's %llu blocks", (unsigned long long)block,
                       (unsigned long long)m_blocks);
    CacheSlot* victim = nullptr;
    for (CacheSlot& slot : m_cache) {
        if (slot.loading) continue;
        if (slot.block == block) {
            slot.last_use = ++m_cache_clock;
            return slot.data;
        }
        if (!victim || slot.last_use < victim->last_use) victim = &slot;
    }
    if (!victim) return corrupt("too many threads reading metadata at once");
    if (!victim->data) victim->data = static_cast<std::byte*>(mm::alloc_pages(1));
    if (!victim->data) return error(ENOMEM);
    // Another thread may run while the device works: the slot is out of everyone's reach.
    victim->loading = true;
    victim->block = block;
    auto read = m_device.read(block << m_blkszbits, {victim->data, block_size()});
    victim->loading = false;
    if (!read) {
        victim->block = ~uint64_t(0);
        victim->last_use = 0;
        return corrupt("cannot read block %llu: errno %d", (unsigned long long)block, read.error().code);
    }
    victim->last_use = ++m_cache_clock;
    return victim->data;
}

ErrorOr<void> ErofsFs::read_meta(uint64_t offset, std::span<std::byte> out) {
    size_t done = 0;
    while (done < out.size()) {
        uint64_t at = offset + done;
        const std::byte* block = TRY(cached_block(at >> m_blkszbits));
        size_t within = size_t(at & (block_size() - 1));
        size_t n = block_size() - within < out.size() - done ? block_size() - within : out.size() - done;
        memcpy(out.data() + done, block + within, n);
        done += n;
    }
    return {};
}

namespace {

// A new reference to a vnode whose count try_ref() has raised already.
RefPtr<ErofsVnode> adopt(ErofsVnode* vnode) {
    RefPtr<ErofsVnode> held(vnode);
    vnode->unref();  // try_ref's: `held` keeps one
    return held;
}

}  // namespace

ErrorOr<RefPtr<ErofsVnode>> ErofsFs::vnode(uint64_t nid) {
    // A vnode in the table whose last reference went on another CPU (count 0, its destructor
    // about to remove it) is not revived: it leaves the table here, and a new one is made.
    auto live = [&]() REQUIRES(m_vnodes_lock) -> ErofsVnode* {
        ErofsVnode* existing = m_vnodes.find(nid);
        if (!existing) return nullptr;
        if (existing->try_ref()) return existing;
        m_vnodes.remove(*existing);
        existing->m_cached = false;
        return nullptr;
    };
    {
        SpinLockGuard guard(m_vnodes_lock);
        if (ErofsVnode* existing = live()) return adopt(existing);
    }
    ErofsVnode* vnode = mm::kcreate<ErofsVnode>(*this, nid, 0);
    if (!vnode) return error(ENOMEM);
    RefPtr<ErofsVnode> held(vnode);
    TRY(load_inode(*vnode));
    {
        SpinLockGuard guard(m_vnodes_lock);
        // m_lock keeps other loads out, but a drop may have happened meanwhile (above).
        if (ErofsVnode* existing = live()) return adopt(existing);
        TRY(m_vnodes.insert(*vnode));
        vnode->m_cached = true;
    }
    return held;
}

void ErofsFs::forget(ErofsVnode& vnode) {
    SpinLockGuard guard(m_vnodes_lock);
    if (!vnode.m_cached) return;  // a lookup took it out of the table already (vnode())
    m_vnodes.remove(vnode);
    vnode.m_cached = false;
}

ErrorOr<void> ErofsFs::load_inode(ErofsVnode& vnode) {
    const uint64_t nid = vnode.nid();
    const uint64_t image_bytes = m_blocks << m_blkszbits;
    if (nid > (image_bytes - m_meta_offset - COMPACT_INODE_SIZE) >> ISLOT_BITS)
        return corrupt("inode %llu beyond the image", (unsigned long long)nid);
    const uint64_t at = m_meta_offset + (nid << ISLOT_BITS);
    std::byte raw[EXTENDED_INODE_SIZE];
    TRY(read_meta(at, {raw, COMPACT_INODE_SIZE}));
    uint16_t format = load16(raw + inode::FORMAT);
    if (format & ~0xFu) return corrupt("inode %llu: unknown format %#x", (unsigned long long)nid, format);
    bool extended = format & 1;
    auto layout = Layout((format >> 1) & 7);
    size_t inode_size = extended ? EXTENDED_INODE_SIZE : COMPACT_INODE_SIZE;
    if (extended) {
        if (at + EXTENDED_INODE_SIZE > image_bytes)
            return corrupt("inode %llu beyond the image", (unsigned long long)nid);
        TRY(read_meta(at + COMPACT_INODE_SIZE, {raw + COMPACT_INODE_SIZE, EXTENDED_INODE_SIZE - COMPACT_INODE_SIZE}));
    }
    vfs::Attributes& attr = vnode.m_attr;
    mode_t mode = load16(raw + inode::MODE);
    uint32_t u;
    if (extended) {
        attr.size = load64(raw + inode::E_SIZE);
        u = load32(raw + inode::E_U);
        attr.uid = load32(raw + inode::E_UID);
        attr.gid = load32(raw + inode::E_GID);
        attr.mtime = {int64_t(load64(raw + inode::E_MTIME)), int64_t(load32(raw + inode::E_MTIME_NSEC))};
        if (attr.mtime.nsec >= 1000000000) attr.mtime.nsec = 0;
        attr.nlink = load32(raw + inode::E_NLINK);
    } else {
        attr.size = load32(raw + inode::C_SIZE);
        u = load32(raw + inode::C_U);
        attr.uid = load16(raw + inode::C_UID);
        attr.gid = load16(raw + inode::C_GID);
        attr.mtime = m_build_time;
        attr.nlink = load16(raw + inode::C_NLINK);
    }
    attr.atime = attr.ctime = attr.btime = attr.mtime;
    attr.block_size = block_size();
    attr.mode = mode;
    attr.ino = nid;
    switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK: break;
    case S_IFCHR:
    case S_IFBLK:
        // Linux's new_decode_dev: major in bits 8-19, minor in bits 0-7 and 20-31.
        attr.rdev = makedev((u & 0xfff00) >> 8, (u & 0xff) | ((u >> 12) & 0xfff00));
        attr.size = 0;
        break;
    case S_IFIFO:
    case S_IFSOCK: attr.size = 0; break;
    default: return corrupt("inode %llu: bad mode %#o", (unsigned long long)nid, unsigned(mode));
    }
    if (attr.size > SIZE_MAX_ALLOWED)
        return corrupt("inode %llu: size %llu", (unsigned long long)nid, (unsigned long long)attr.size);
    if (S_ISLNK(mode) && (attr.size == 0 || attr.size > SYMLINK_MAX))
        return corrupt("inode %llu: symlink of %llu bytes", (unsigned long long)nid, (unsigned long long)attr.size);

    vnode.m_layout = layout;
    vnode.m_inline_offset = at + inode_size + xattr_ibody_size(load16(raw + inode::XATTR_ICOUNT));
    const uint64_t bs = block_size();
    const uint64_t nblocks = div_round_up(attr.size, bs);
    attr.blocks = nblocks * (bs / 512);
    if (!S_ISREG(mode) && !S_ISDIR(mode) && !S_ISLNK(mode)) return {};  // no data
    switch (layout) {
    case Layout::FlatPlain:
    case Layout::FlatInline: {
        vnode.m_raw_blkaddr = u;
        uint64_t full = layout == Layout::FlatInline && nblocks ? nblocks - 1 : nblocks;
        if (full && (u >= m_blocks || full > m_blocks - u))
            return corrupt("inode %llu: data blocks %u+%llu beyond the image", (unsigned long long)nid, u,
                           (unsigned long long)full);
        if (layout == Layout::FlatInline && attr.size) {
            uint64_t tail = attr.size - full * bs;
            if ((vnode.m_inline_offset & (bs - 1)) + tail > bs || vnode.m_inline_offset + tail > image_bytes)
                return corrupt("inode %llu: inline data crosses a block", (unsigned long long)nid);
        }
        break;
    }
    case Layout::ChunkBased: {
        uint32_t chunk_format = u & 0xffff;
        unsigned chunk_bits = m_blkszbits + (chunk_format & CHUNK_FORMAT_BLKBITS_MASK);
        if (chunk_format & ~CHUNK_FORMAT_ALL || chunk_bits > CHUNK_BITS_MAX)
            return corrupt("inode %llu: bad chunk format %#x", (unsigned long long)nid, unsigned(chunk_format));
        vnode.m_chunk_format = chunk_format;
        uint64_t unit = chunk_format & CHUNK_FORMAT_INDEXES ? 8 : 4;
        uint64_t table = (vnode.m_inline_offset + unit - 1) / unit * unit;
        uint64_t chunks = div_round_up(attr.size, uint64_t(1) << chunk_bits);
        if (table > image_bytes || chunks > (image_bytes - table) / unit)
            return corrupt("inode %llu: chunk table beyond the image", (unsigned long long)nid);
        break;
    }
    case Layout::CompressedFull:
    case Layout::CompressedCompact: {
        attr.blocks = uint64_t(u) * (bs / 512);
        std::byte header[MAP_HEADER_SIZE];
        TRY(read_meta((vnode.m_inline_offset + 7) / 8 * 8, header));
        vnode.m_z_advise = load16(header + map_header::ADVISE);
        // LZ4 for head 1, 4 KiB lclusters, and no advice but the compacted 2-byte indexes.
        vnode.m_z_supported = (uint8_t(header[map_header::ALGORITHM_TYPE]) & 0xf) == 0 &&
            (uint8_t(header[map_header::CLUSTER_BITS]) & 7) == 0 && !(vnode.m_z_advise & ~ADVISE_COMPACTED_2B);
        break;
    }
    default: return corrupt("inode %llu: unknown data layout %u", (unsigned long long)nid, unsigned(layout));
    }
    if ((S_ISDIR(mode) || S_ISLNK(mode)) && (layout == Layout::CompressedFull || layout == Layout::CompressedCompact))
        return corrupt("inode %llu: compressed directory or symlink", (unsigned long long)nid);
    return {};
}

// --- vnodes ---

ErofsVnode::ErofsVnode(ErofsFs& fs, uint64_t nid, mode_t mode) : Vnode(fs, nid, mode), m_nid(nid) {}

ErofsVnode::~ErofsVnode() { erofs().forget(*this); }

ErofsFs& ErofsVnode::erofs() const { return static_cast<ErofsFs&>(fs()); }

ErrorOr<ErofsVnode::Extent> ErofsVnode::map(uint64_t offset) {
    ErofsFs& fs = erofs();
    VERIFY_HELD(fs.m_lock);  // the caller's: a vnode operation (see erofs.h)
    const uint64_t bs = fs.block_size();
    const uint64_t size = m_attr.size;
    VERIFY(offset < size);
    switch (m_layout) {
    case Layout::FlatPlain: return Extent{(uint64_t(m_raw_blkaddr) << fs.m_blkszbits) + offset, size - offset};
    case Layout::FlatInline: {
        uint64_t full = (div_round_up(size, bs) - 1) * bs;
        if (offset < full) return Extent{(uint64_t(m_raw_blkaddr) << fs.m_blkszbits) + offset, full - offset};
        return Extent{m_inline_offset + (offset - full), size - offset};
    }
    case Layout::ChunkBased: {
        unsigned chunk_bits = fs.m_blkszbits + (m_chunk_format & CHUNK_FORMAT_BLKBITS_MASK);
        bool indexes = m_chunk_format & CHUNK_FORMAT_INDEXES;
        uint64_t unit = indexes ? 8 : 4;
        uint64_t table = (m_inline_offset + unit - 1) / unit * unit;
        uint64_t chunk = offset >> chunk_bits;
        std::byte entry[8];
        TRY(fs.read_meta(table + chunk * unit, {entry, size_t(unit)}));
        uint32_t blkaddr = indexes ? load32(entry + 4) : load32(entry);
        if (indexes && load16(entry + 2) != 0)
            return fs.corrupt("inode %llu: chunk %llu on device %u (one device only)", (unsigned long long)m_nid,
                              (unsigned long long)chunk, load16(entry + 2));
        uint64_t within = offset - (chunk << chunk_bits);
        uint64_t length = (uint64_t(1) << chunk_bits) - within;
        if (length > size - offset) length = size - offset;
        if (blkaddr == NULL_ADDR) return Extent{HOLE, length};
        uint64_t physical = (uint64_t(blkaddr) << fs.m_blkszbits) + within;
        if (physical + length > fs.m_blocks << fs.m_blkszbits)
            return fs.corrupt("inode %llu: chunk %llu at block %u beyond the image", (unsigned long long)m_nid,
                              (unsigned long long)chunk, blkaddr);
        return Extent{physical, length};
    }
    default: VERIFY_NOT_REACHED();  // compressed files are read by read_compressed
    }
}

ErrorOr<ErofsVnode::Lcluster> ErofsVnode::load_lcluster(uint64_t lcn) {
    ErofsFs& fs = erofs();
    VERIFY_HELD(fs.m_lock);  // the caller's: a vnode operation (see erofs.h)
    const uint64_t total = div_round_up(m_attr.size, uint64_t(1) << LCLUSTER_BITS);
    if (lcn >= total)
        return fs.corrupt("inode %llu: lcluster %llu beyond the file", (unsigned long long)m_nid,
                          (unsigned long long)lcn);
    const uint64_t base = (m_inline_offset + 7) / 8 * 8;  // the map header
    Lcluster out{};
    if (m_layout == Layout::CompressedFull) {
        std::byte entry[LEGACY_INDEX_SIZE];
        TRY(fs.read_meta(base + MAP_HEADER_SIZE + LEGACY_HEADER_PADDING + lcn * LEGACY_INDEX_SIZE, entry));
        out.type = load16(entry) & 3;
        if (out.type == LCLUSTER_NONHEAD) {
            out.clusterofs = 1u << LCLUSTER_BITS;
            out.delta0 = load16(entry + 4);
        } else {
            out.clusterofs = load16(entry + 2);
            out.pblk = load32(entry + 4);
        }
        return out;
    }
    // Compacted: 4-byte entries up to 32-byte alignment, then (COMPACTED_2B) 2-byte ones in
    // whole packs of 16, then 4-byte ones again.
    const uint64_t ebase = base + MAP_HEADER_SIZE;
    uint64_t initial = (32 - ebase % 32) / 4;
    if (initial == 8) initial = 0;
    uint64_t compacted_2b = (m_z_advise & ADVISE_COMPACTED_2B) && initial < total ? (total - initial) / 16 * 16 : 0;
    uint64_t pos = ebase, index = lcn;
    unsigned shift = 2;
    if (index >= initial) {
        pos += initial * 4;
        index -= initial;
        if (index < compacted_2b) {
            shift = 1;
        } else {
            pos += compacted_2b * 2;
            index -= compacted_2b;
        }
    }
    pos += index << shift;
    const unsigned count = shift == 2 ? 2 : 16;  // entries per pack
    const size_t pack_size = size_t(count) << shift;  // 8 or 32 bytes, the last 4 a block address
    const uint64_t pack = pos / pack_size * pack_size;
    std::byte in[32 + 4] = {};
    TRY(fs.read_meta(pack, {in, pack_size}));
    const unsigned bits = unsigned(pack_size - 4) * 8 / count;
    auto decode = [&](int at, uint8_t& type) {
        unsigned bit = bits * unsigned(at);
        uint32_t value = load32(in + bit / 8) >> (bit % 8);
        type = (value >> LCLUSTER_BITS) & 3;
        return value & ((1u << LCLUSTER_BITS) - 1);
    };
    int at = int((pos - pack) >> shift);
    uint32_t low = decode(at, out.type);
    if (out.type == LCLUSTER_NONHEAD) {
        out.clusterofs = 1u << LCLUSTER_BITS;
        if (low & COMPACTED_D0_CBLKCNT)
            return fs.corrupt("inode %llu: big pcluster index (not enabled)", (unsigned long long)m_nid);
        if (at + 1 != int(count)) {
            out.delta0 = low;
            return out;
        }
        // The last entry of a pack holds delta[1]: delta[0] comes from the one before.
        uint8_t previous_type;
        uint32_t previous = decode(at - 1, previous_type);
        if (previous_type != LCLUSTER_NONHEAD) previous = 0;
        out.delta0 = previous + 1;
        return out;
    }
    out.clusterofs = low;
    // A head's block: the pack's base address plus the heads up to it in the pack.
    uint64_t blocks = 1;
    for (int i = at; i > 0;) {
        --i;
        uint8_t type;
        uint32_t value = decode(i, type);
        if (type == LCLUSTER_NONHEAD) i -= int(value);
        if (i >= 0) ++blocks;
    }
    out.pblk = load32(in + pack_size - 4) + blocks;
    return out;
}

ErrorOr<size_t> ErofsVnode::read_compressed(uint64_t offset, std::span<std::byte> buffer, bool user) {
    ErofsFs& fs = erofs();
    VERIFY_HELD(fs.m_lock);  // the caller's: a vnode operation (see erofs.h)
    if (!m_z_supported) {
        klog("erofs %s: inode %llu is compressed in a way this reader does not decode (only LZ4, 4 KiB "
             "clusters)",
             fs.device().name(), (unsigned long long)m_nid);
        return error(EOPNOTSUPP);
    }
    constexpr uint64_t LCLUSTER = uint64_t(1) << LCLUSTER_BITS;
    uint64_t lcn = offset >> LCLUSTER_BITS;
    Lcluster head = TRY(load_lcluster(lcn));
    uint64_t end = (lcn + 1) * LCLUSTER;
    uint64_t distance = 0;
    if (head.type == LCLUSTER_NONHEAD) {
        distance = head.delta0;
    } else if (head.type != LCLUSTER_RESERVED && head.clusterofs > (offset & (LCLUSTER - 1))) {
        end = lcn * LCLUSTER + head.clusterofs;  // the offset is in the previous pcluster's tail
        distance = 1;
    }
    // Back to the head lcluster of the extent (each step goes back at least one lcluster).
    for (uint64_t at = lcn; distance;) {
        if (distance > at)
            return fs.corrupt("inode %llu: lcluster %llu looks back beyond the file", (unsigned long long)m_nid,
                              (unsigned long long)at);
        at -= distance;
        head = TRY(load_lcluster(at));
        lcn = at;
        distance = head.type == LCLUSTER_NONHEAD ? head.delta0 : 0;
        if (head.type == LCLUSTER_NONHEAD && !distance)
            return fs.corrupt("inode %llu: lcluster %llu has no head", (unsigned long long)m_nid,
                              (unsigned long long)at);
    }
    if (head.type == LCLUSTER_RESERVED || head.clusterofs >= LCLUSTER)
        return fs.corrupt("inode %llu: bad head lcluster %llu", (unsigned long long)m_nid, (unsigned long long)lcn);
    uint64_t start = lcn * LCLUSTER + head.clusterofs;
    if (end > m_attr.size) end = m_attr.size;
    if (start > offset || offset >= end || head.pblk >= fs.m_blocks)
        return fs.corrupt("inode %llu: bad extent %llu-%llu at block %llu for offset %llu", (unsigned long long)m_nid,
                          (unsigned long long)start, (unsigned long long)end, (unsigned long long)head.pblk,
                          (unsigned long long)offset);
    const uint64_t wanted = end - start;
    const size_t n = buffer.size() < end - offset ? buffer.size() : size_t(end - offset);
    const uint64_t bs = fs.block_size();
    if (head.type == LCLUSTER_PLAIN) {  // stored as it is, from the block's start
        if (wanted > bs)
            return fs.corrupt("inode %llu: plain extent of %llu bytes", (unsigned long long)m_nid,
                              (unsigned long long)wanted);
        TRY(fs.device().read(head.pblk * bs + (offset - start), buffer.first(n)));
        return n;
    }
    if (fs.m_z_block != head.pblk || fs.m_z_size < wanted) {
        if (!fs.m_z_data) fs.m_z_data = static_cast<std::byte*>(mm::alloc_pages(ErofsFs::Z_CACHE_PAGES));
        if (!fs.m_z_data) return error(ENOMEM);
        fs.m_z_block = ~uint64_t(0);
        const std::byte* block = TRY(fs.cached_block(head.pblk));
        std::span<const std::byte> in(block, bs);
        bool padded = fs.m_feature_incompat & FEATURE_INCOMPAT_ZERO_PADDING;
        if (padded) {  // the LZ4 block ends the pcluster, after zeros
            size_t zeros = 0;
            while (zeros < in.size() && in[zeros] == std::byte{0}) ++zeros;
            in = in.subspan(zeros);
        }
        // Padded blocks hold exactly one LZ4 block: decode it whole, once, for the lclusters that
        // follow. Else only what is wanted (the block's end may be anything).
        size_t capacity = padded ? ErofsFs::Z_CACHE_PAGES * 4096 : size_t(wanted);
        auto produced = in.empty() ? std::nullopt : lz4_decompress_partial(in, {fs.m_z_data, capacity});
        if (!produced || *produced < wanted)
            return fs.corrupt("inode %llu: the pcluster at block %llu does not decompress to %llu bytes",
                              (unsigned long long)m_nid, (unsigned long long)head.pblk, (unsigned long long)wanted);
        fs.m_z_block = head.pblk;
        fs.m_z_size = *produced;
    }
    const std::byte* from = fs.m_z_data + (offset - start);
    if (user) {
        if (user_copy(buffer.data(), from, n)) return error(EFAULT);
    } else {
        memcpy(buffer.data(), from, n);
    }
    return n;
}

ErrorOr<size_t> ErofsVnode::read_to(uint64_t offset, std::span<std::byte> buffer, bool user) {
    const uint64_t size = m_attr.size;
    if (offset >= size || buffer.empty()) return 0;
    size_t total = buffer.size() < size - offset ? buffer.size() : size_t(size - offset);
    size_t done = 0;
    if (m_layout == Layout::CompressedFull || m_layout == Layout::CompressedCompact) {
        while (done < total) {
            auto n = read_compressed(offset + done, buffer.subspan(done, total - done), user);
            if (!n) {
                if (done && n.error().code == EFAULT) return done;
                return std::unexpected(n.error());
            }
            done += *n;
        }
        return done;
    }
    while (done < total) {
        Extent extent = TRY(map(offset + done));
        size_t n = extent.length < total - done ? size_t(extent.length) : total - done;
        if (extent.physical == HOLE) {
            for (size_t zeroed = 0; zeroed < n;) {
                size_t piece = n - zeroed < sizeof g_zeros ? n - zeroed : sizeof g_zeros;
                if (user ? user_copy(buffer.data() + done + zeroed, g_zeros, piece) != 0
                         : (memset(buffer.data() + done + zeroed, 0, piece), false)) {
                    if (done + zeroed) return done + zeroed;
                    return error(EFAULT);
                }
                zeroed += piece;
            }
        } else if (auto read = erofs().device().read(extent.physical, buffer.subspan(done, n)); !read) {
            if (read.error().code == EFAULT) {
                if (done) return done;
                return error(EFAULT);
            }
            return erofs().corrupt("inode %llu: cannot read %zu bytes at %llu: errno %d", (unsigned long long)m_nid, n,
                                   (unsigned long long)extent.physical, read.error().code);
        }
        done += n;
    }
    return done;
}

ErrorOr<void> ErofsVnode::read_internal(uint64_t offset, std::span<std::byte> buffer) {
    size_t n = TRY(read_to(offset, buffer, false));
    if (n != buffer.size()) return error(EIO);
    return {};
}

ErrorOr<size_t> ErofsVnode::read(uint64_t offset, std::span<std::byte> buffer) {
    if (is_directory()) return error(EISDIR);
    if (!is_regular()) return error(EINVAL);
    sched::MutexLocker locker(erofs().m_lock);
    return read_to(offset, buffer, true);
}

ErrorOr<KString> ErofsVnode::readlink() {
    if (!is_symlink()) return error(EINVAL);
    size_t size = size_t(m_attr.size);  // 1..SYMLINK_MAX (load_inode)
    char* text = static_cast<char*>(mm::kmalloc(size));
    if (!text) return error(ENOMEM);
    sched::MutexLocker locker(erofs().m_lock);
    auto read = read_internal(0, {reinterpret_cast<std::byte*>(text), size});
    auto result = read ? KString::from({text, size}) : ErrorOr<KString>(std::unexpected(read.error()));
    mm::kfree(text);
    return result;
}

// --- directories ---

uint64_t ErofsVnode::dir_block_count() const { return div_round_up(m_attr.size, erofs().block_size()); }

ErrorOr<ErofsVnode::DirBlock> ErofsVnode::dir_block(uint64_t index) {
    ErofsFs& fs = erofs();
    VERIFY_HELD(fs.m_lock);  // the caller's: a vnode operation (see erofs.h)
    const uint64_t bs = fs.block_size();
    uint64_t offset = index * bs;
    size_t size = m_attr.size - offset < bs ? size_t(m_attr.size - offset) : size_t(bs);
    Extent extent = TRY(map(offset));
    if (extent.physical == HOLE || extent.length < size || (extent.physical & (bs - 1)) + size > bs)
        return fs.corrupt("directory %llu: block %llu is not stored whole", (unsigned long long)m_nid,
                          (unsigned long long)index);
    const std::byte* block = TRY(fs.cached_block(extent.physical >> fs.m_blkszbits));
    block += extent.physical & (bs - 1);
    size_t first_name = size >= DIRENT_SIZE ? load16(block + dirent::NAMEOFF) : 0;
    if (first_name < DIRENT_SIZE || first_name % DIRENT_SIZE || first_name >= size)
        return fs.corrupt("directory %llu: block %llu has a bad first entry", (unsigned long long)m_nid,
                          (unsigned long long)index);
    return DirBlock{block, size, first_name / DIRENT_SIZE};
}

std::string_view ErofsVnode::dirent_name(const DirBlock& block, size_t i) const {
    size_t start = load16(block.data + i * DIRENT_SIZE + dirent::NAMEOFF);
    size_t end = i + 1 < block.count ? load16(block.data + (i + 1) * DIRENT_SIZE + dirent::NAMEOFF) : block.size;
    if (start < block.count * DIRENT_SIZE || start >= end || end > block.size) return {};
    const char* name = reinterpret_cast<const char*>(block.data + start);
    size_t length = end - start;
    if (i + 1 == block.count) length = strnlen(name, length);  // the last name may be padded
    if (length > MAX_NAME_LENGTH) return {};
    return {name, length};
}

ErrorOr<RefPtr<vfs::Vnode>> ErofsVnode::lookup(std::string_view name) {
    if (!is_directory()) return error(ENOTDIR);
    if (name.empty() || name.size() > MAX_NAME_LENGTH) return error(ENOENT);
    ErofsFs& fs = erofs();
    sched::MutexLocker locker(fs.m_lock);
    uint64_t low = 0, high = dir_block_count();  // search [low, high)
    while (low < high) {
        uint64_t middle = low + (high - low) / 2;
        DirBlock block = TRY(dir_block(middle));
        std::string_view first = dirent_name(block, 0);
        std::string_view last = dirent_name(block, block.count - 1);
        if (first.empty() || last.empty())
            return erofs().corrupt("directory %llu: block %llu has a bad name", (unsigned long long)m_nid,
                                   (unsigned long long)middle);
        if (name < first) {
            high = middle;
        } else if (name > last) {
            low = middle + 1;
        } else {
            size_t lo = 0, hi = block.count;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                std::string_view candidate = dirent_name(block, mid);
                if (candidate.empty())
                    return erofs().corrupt("directory %llu: block %llu has a bad name", (unsigned long long)m_nid,
                                           (unsigned long long)middle);
                int order = name.compare(candidate);
                if (order == 0) {
                    uint64_t nid = load64(block.data + mid * DIRENT_SIZE + dirent::NID);
                    return RefPtr<vfs::Vnode>(TRY(fs.vnode(nid)));
                }
                if (order < 0)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            return error(ENOENT);
        }
    }
    return error(ENOENT);
}

// Cookies are byte positions in the directory: block * block size + entry * 12.
ErrorOr<void> ErofsVnode::readdir(uint64_t& cookie, vfs::DirSink& sink) {
    if (!is_directory()) return error(ENOTDIR);
    const uint64_t bs = erofs().block_size();
    const uint64_t blocks = dir_block_count();
    char name[MAX_NAME_LENGTH];
    sched::MutexLocker locker(erofs().m_lock);  // held across the sink (a copy to the app)
    while (cookie / bs < blocks) {
        uint64_t index = cookie / bs;
        size_t entry = size_t(cookie % bs) / DIRENT_SIZE;
        DirBlock block = TRY(dir_block(index));
        if (entry >= block.count) {  // a stale cookie: the next block
            cookie = (index + 1) * bs;
            continue;
        }
        std::string_view found = dirent_name(block, entry);
        if (found.empty())
            return erofs().corrupt("directory %llu: block %llu has a bad name", (unsigned long long)m_nid,
                                   (unsigned long long)index);
        // The block may be evicted if the sink blocks: emit a copy.
        memcpy(name, found.data(), found.size());
        const std::byte* raw = block.data + entry * DIRENT_SIZE;
        uint64_t next = entry + 1 < block.count ? index * bs + (entry + 1) * DIRENT_SIZE : (index + 1) * bs;
        vfs::DirEntry out{.ino = load64(raw + dirent::NID),
                          .next_cookie = next,
                          .type = dirent_type(uint8_t(raw[dirent::FILE_TYPE])),
                          .name = {name, found.size()}};
        if (!sink.emit(out)) return {};
        cookie = next;
    }
    return {};
}

// --- a read-only file system ---

ErrorOr<void> ErofsVnode::setattr(const vfs::AttrChange&) { return error(EROFS); }
ErrorOr<RefPtr<vfs::Vnode>> ErofsVnode::create(std::string_view, mode_t, dev_t, uid_t, gid_t) { return error(EROFS); }
ErrorOr<void> ErofsVnode::symlink(std::string_view, std::string_view, uid_t, gid_t) { return error(EROFS); }
ErrorOr<void> ErofsVnode::link(std::string_view, vfs::Vnode&) { return error(EROFS); }
ErrorOr<void> ErofsVnode::remove(std::string_view, vfs::RemoveKind) { return error(EROFS); }
ErrorOr<void> ErofsVnode::rename(std::string_view, vfs::Vnode&, std::string_view, unsigned) { return error(EROFS); }
ErrorOr<size_t> ErofsVnode::write(uint64_t, std::span<const std::byte>) { return error(EROFS); }
ErrorOr<void> ErofsVnode::truncate(uint64_t) { return error(EROFS); }
ErrorOr<void> ErofsVnode::allocate(int, uint64_t, uint64_t) { return error(EROFS); }

}  // namespace xos::erofs
