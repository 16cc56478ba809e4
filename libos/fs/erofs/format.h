// The EROFS on-disk format (as Linux's fs/erofs/erofs_fs.h and erofs-utils define it): the
// constants and field offsets the reader uses. Everything on disk is little-endian; fields are
// read with load16/32/64 from byte buffers, never by casting to packed structs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace xos::erofs {

inline uint16_t load16(const std::byte* p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;  // x86_64 is little-endian, as the format
}
inline uint32_t load32(const std::byte* p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
inline uint64_t load64(const std::byte* p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// The superblock: 128 bytes at byte 1024 of the device.
constexpr uint64_t SUPER_OFFSET = 1024;
constexpr size_t SUPER_SIZE = 128;
constexpr uint32_t SUPER_MAGIC = 0xE0F5E1E2;
namespace sb {
constexpr size_t MAGIC = 0;  // le32
constexpr size_t CHECKSUM = 4;  // le32: crc32c of the superblock's block from SUPER_OFFSET, this field zero
constexpr size_t FEATURE_COMPAT = 8;  // le32
constexpr size_t BLKSZBITS = 12;  // u8
constexpr size_t EXTSLOTS = 13;  // u8
constexpr size_t ROOT_NID = 14;  // le16
constexpr size_t INOS = 16;  // le64
constexpr size_t BUILD_TIME = 24;  // le64: the mtime of every compact inode
constexpr size_t BUILD_TIME_NSEC = 32;  // le32
constexpr size_t BLOCKS = 36;  // le32
constexpr size_t META_BLKADDR = 40;  // le32: where nid 0 is
constexpr size_t XATTR_BLKADDR = 44;  // le32
constexpr size_t VOLUME_NAME = 64;  // 16 bytes
constexpr size_t FEATURE_INCOMPAT = 80;  // le32
constexpr size_t EXTRA_DEVICES = 86;  // le16
constexpr size_t DIRBLKBITS = 90;  // u8: directory blocks are (block size << dirblkbits)
}  // namespace sb

constexpr uint32_t FEATURE_COMPAT_SB_CHKSUM = 0x1;
constexpr uint32_t FEATURE_COMPAT_MTIME = 0x2;

constexpr uint32_t FEATURE_INCOMPAT_ZERO_PADDING = 0x01;  // compressed data only (lz4_0padding)
constexpr uint32_t FEATURE_INCOMPAT_COMPR_CFGS = 0x02;  // also BIG_PCLUSTER
constexpr uint32_t FEATURE_INCOMPAT_CHUNKED_FILE = 0x04;
constexpr uint32_t FEATURE_INCOMPAT_DEVICE_TABLE = 0x08;  // also COMPR_HEAD2
constexpr uint32_t FEATURE_INCOMPAT_ZTAILPACKING = 0x10;
constexpr uint32_t FEATURE_INCOMPAT_FRAGMENTS = 0x20;  // also DEDUPE
constexpr uint32_t FEATURE_INCOMPAT_XATTR_PREFIXES = 0x40;
// What this reader understands: uncompressed layouts (flat, inline tails, chunks); the zero
// padding flag only changes how compressed data is laid out.
constexpr uint32_t SUPPORTED_INCOMPAT = FEATURE_INCOMPAT_ZERO_PADDING | FEATURE_INCOMPAT_CHUNKED_FILE;

// Inodes: 32-byte slots from meta_blkaddr on, numbered by nid. i_format bit 0: compact (32
// bytes) or extended (64); bits 1-3: the data layout.
constexpr unsigned ISLOT_BITS = 5;
constexpr size_t COMPACT_INODE_SIZE = 32;
constexpr size_t EXTENDED_INODE_SIZE = 64;
namespace inode {
constexpr size_t FORMAT = 0;  // le16
constexpr size_t XATTR_ICOUNT = 2;  // le16
constexpr size_t MODE = 4;  // le16
// Compact:
constexpr size_t C_NLINK = 6;  // le16
constexpr size_t C_SIZE = 8;  // le32
constexpr size_t C_U = 16;  // le32: raw_blkaddr, rdev or chunk format
constexpr size_t C_UID = 24;  // le16
constexpr size_t C_GID = 26;  // le16
// Extended:
constexpr size_t E_SIZE = 8;  // le64
constexpr size_t E_U = 16;  // le32
constexpr size_t E_UID = 24;  // le32
constexpr size_t E_GID = 28;  // le32
constexpr size_t E_MTIME = 32;  // le64
constexpr size_t E_MTIME_NSEC = 40;  // le32
constexpr size_t E_NLINK = 44;  // le32
}  // namespace inode

enum class Layout : unsigned {
    FlatPlain = 0,
    CompressedFull = 1,
    FlatInline = 2,
    CompressedCompact = 3,
    ChunkBased = 4,
};

// The inline xattr area after the inode: a 12-byte header and (icount - 1) 4-byte slots.
constexpr size_t XATTR_IBODY_HEADER_SIZE = 12;
inline size_t xattr_ibody_size(uint16_t icount) {
    return icount ? XATTR_IBODY_HEADER_SIZE + (size_t(icount) - 1) * 4 : 0;
}

// Chunk-based files: i_u's low 16 bits are the chunk format; the chunk table follows the inode
// and its xattrs (aligned to its entry size): 4-byte block addresses, or 8-byte indexes
// {advise le16, device_id le16, blkaddr le32}. NULL_ADDR is a hole.
constexpr uint32_t CHUNK_FORMAT_BLKBITS_MASK = 0x1f;
constexpr uint32_t CHUNK_FORMAT_INDEXES = 0x20;
constexpr uint32_t CHUNK_FORMAT_ALL = CHUNK_FORMAT_BLKBITS_MASK | CHUNK_FORMAT_INDEXES;
constexpr uint32_t NULL_ADDR = 0xFFFFFFFF;

// Directory blocks: an array of 12-byte dirents {nid le64, nameoff le16, file_type u8,
// reserved u8}, then the names (not NUL-terminated, except that the last one of a block may be
// followed by NULs). The first dirent's nameoff / 12 is the block's entry count; entries are
// sorted by name within a block and blocks by their names.
constexpr size_t DIRENT_SIZE = 12;
namespace dirent {
constexpr size_t NID = 0;
constexpr size_t NAMEOFF = 8;
constexpr size_t FILE_TYPE = 10;
}  // namespace dirent
constexpr size_t MAX_NAME_LENGTH = 255;

enum FileType : uint8_t {
    FT_UNKNOWN = 0,
    FT_REG_FILE = 1,
    FT_DIR = 2,
    FT_CHRDEV = 3,
    FT_BLKDEV = 4,
    FT_FIFO = 5,
    FT_SOCK = 6,
    FT_SYMLINK = 7,
};

}  // namespace xos::erofs

namespace xos::erofs {

// Compressed files (mkfs.erofs -zlz4 / -zlz4hc): the file is cut into 4 KiB logical clusters
// (lclusters); each physical cluster (pcluster: one block without big pclusters) holds the LZ4
// block that decompresses to the data from its head lcluster's clusterofs up to the next head.
// After the inode and its xattrs, aligned to 8: the map header {reserved le32, advise le16,
// algorithmtype u8, clusterbits u8}, then one index per lcluster: legacy 8-byte entries {advise
// le16 (type in bits 0-1), clusterofs le16, blkaddr le32 | delta[0] le16, delta[1] le16} after 8
// more bytes of padding, or compacted packs (Z_EROFS_ADVISE_COMPACTED_2B: 2-byte entries in
// 32-byte packs of 16, after 4-byte ones up to 32-byte alignment; else 4-byte entries in 8-byte
// packs of 2), each pack ending with the le32 block address its heads count from.
constexpr size_t MAP_HEADER_SIZE = 8;
namespace map_header {
constexpr size_t ADVISE = 4;  // le16
constexpr size_t ALGORITHM_TYPE = 6;  // u8: head 1's in bits 0-3 (0: LZ4)
constexpr size_t CLUSTER_BITS = 7;  // u8: lclusterbits - 12 in bits 0-2
}  // namespace map_header
constexpr uint16_t ADVISE_COMPACTED_2B = 0x0001;
constexpr size_t LEGACY_INDEX_SIZE = 8;
constexpr size_t LEGACY_HEADER_PADDING = 8;
constexpr unsigned LCLUSTER_BITS = 12;
enum LclusterType : uint8_t { LCLUSTER_PLAIN = 0, LCLUSTER_HEAD = 1, LCLUSTER_NONHEAD = 2, LCLUSTER_RESERVED = 3 };
// A compacted NONHEAD entry with this bit counts compressed blocks (big pclusters only).
constexpr uint32_t COMPACTED_D0_CBLKCNT = 1u << 11;

}  // namespace xos::erofs
