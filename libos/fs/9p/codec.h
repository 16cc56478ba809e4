// 9P2000.L messages: encoding T-messages and decoding R-messages (little-endian fields,
// strings as u16 length + bytes, every message framed as size[4] type[1] tag[2]). Portable,
// unit-tested on the host; the client (client.h) builds on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/error.h"

namespace xos::p9 {

enum MessageType : uint8_t {
    Tlerror = 6,
    Rlerror,
    Tstatfs = 8,
    Rstatfs,
    Tlopen = 12,
    Rlopen,
    Tlcreate = 14,
    Rlcreate,
    Tsymlink = 16,
    Rsymlink,
    Tmknod = 18,
    Rmknod,
    Treadlink = 22,
    Rreadlink,
    Tgetattr = 24,
    Rgetattr,
    Tsetattr = 26,
    Rsetattr,
    Treaddir = 40,
    Rreaddir,
    Tfsync = 50,
    Rfsync,
    Tlink = 70,
    Rlink,
    Tmkdir = 72,
    Rmkdir,
    Trenameat = 74,
    Rrenameat,
    Tunlinkat = 76,
    Runlinkat,
    Tversion = 100,
    Rversion,
    Tattach = 104,
    Rattach,
    Tflush = 108,
    Rflush,
    Twalk = 110,
    Rwalk,
    Tread = 116,
    Rread,
    Twrite = 118,
    Rwrite,
    Tclunk = 120,
    Rclunk,
};

constexpr uint32_t NOFID = 0xffffffff;
constexpr uint16_t NOTAG = 0xffff;
constexpr size_t HEADER_SIZE = 7;  // size[4] type[1] tag[2]
constexpr size_t READ_OVERHEAD = 11;  // Rread: header + count[4]
constexpr size_t WRITE_OVERHEAD = 23;  // Twrite: header + fid[4] offset[8] count[4]
constexpr size_t READDIR_OVERHEAD = 11;  // Rreaddir: header + count[4]
constexpr size_t MAX_WALK_NAMES = 16;  // MAXWELEM

// Tgetattr request mask / Rgetattr valid bits.
constexpr uint64_t GETATTR_BASIC = 0x7ff;  // mode..blocks, times, nlink, uid, gid, ino, size
constexpr uint64_t GETATTR_ALL = 0x3fff;

// Tsetattr valid bits.
enum SetattrValid : uint32_t {
    SETATTR_MODE = 0x1,
    SETATTR_UID = 0x2,
    SETATTR_GID = 0x4,
    SETATTR_SIZE = 0x8,
    SETATTR_ATIME = 0x10,
    SETATTR_MTIME = 0x20,
    SETATTR_CTIME = 0x40,
    SETATTR_ATIME_SET = 0x80,
    SETATTR_MTIME_SET = 0x100,
};

struct Qid {
    uint8_t type = 0;
    uint32_t version = 0;
    uint64_t path = 0;
};

// Appends fields to a message being built in `buffer`. Overflow is sticky and reported by
// finish(), so a build sequence needs no checks of its own.
class Writer {
public:
    Writer(std::span<std::byte> buffer, uint8_t type, uint16_t tag);

    Writer& u8(uint8_t value);
    Writer& u16(uint16_t value);
    Writer& u32(uint32_t value);
    Writer& u64(uint64_t value);
    Writer& str(std::string_view text);  // ENAMETOOLONG at finish() beyond 65535 bytes
    Writer& bytes(std::span<const std::byte> data);

    // Writes the size field; the message's length, or EMSGSIZE (it does not fit the buffer)
    // or ENAMETOOLONG.
    ErrorOr<size_t> finish();

private:
    bool reserve(size_t count);
    std::span<std::byte> m_buffer;
    size_t m_used = 0;
    int m_error = 0;
};

// Reads fields of a received message. Reading past the end is sticky (ok() turns false and
// reads return zeros), so a parse sequence checks once at the end.
class Reader {
public:
    explicit Reader(std::span<const std::byte> body) : m_data(body) {}

    uint8_t u8();
    uint16_t u16();
    uint32_t u32();
    uint64_t u64();
    Qid qid();
    std::string_view str();
    std::span<const std::byte> bytes(size_t count);

    bool ok() const { return m_ok; }
    size_t remaining() const { return m_data.size() - m_position; }

private:
    const std::byte* take(size_t count);
    std::span<const std::byte> m_data;
    size_t m_position = 0;
    bool m_ok = true;
};

// Checks a reply's framing against the request (`expected` R-type and `tag`) and returns a
// reader over its body. An Rlerror becomes its errno; anything malformed is EPROTO.
ErrorOr<Reader> open_reply(std::span<const std::byte> reply, uint8_t expected, uint16_t tag);

// Rgetattr's body.
struct Attr {
    uint64_t valid;
    Qid qid;
    uint32_t mode, uid, gid;
    uint64_t nlink, rdev, size, block_size, blocks;
    uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, btime_sec, btime_nsec;
    uint64_t generation, data_version;
};
Attr read_attr(Reader& reader);

// One Rreaddir entry.
struct Dirent {
    Qid qid;
    uint64_t offset;  // where the next Treaddir resumes after this entry
    uint8_t type;  // DT_*
    std::string_view name;
};
Dirent read_dirent(Reader& reader);

// Rstatfs's body.
struct StatFs {
    uint32_t type, block_size;
    uint64_t blocks, blocks_free, blocks_available, files, files_free, fsid;
    uint32_t name_max;
};
StatFs read_statfs(Reader& reader);

}  // namespace xos::p9
