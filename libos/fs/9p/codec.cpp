#include "fs/9p/codec.h"

#include <cstring>

#include "base/user_ptr.h"

namespace xos::p9 {

namespace {

template <typename T>
void store_le(std::byte* out, T value) {
    for (size_t i = 0; i < sizeof(T); ++i) out[i] = std::byte((uint64_t(value) >> (8 * i)) & 0xff);
}

template <typename T>
T load_le(const std::byte* in) {
    uint64_t value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) value |= uint64_t(in[i]) << (8 * i);
    return T(value);
}

}  // namespace

Writer::Writer(std::span<std::byte> buffer, uint8_t type, uint16_t tag) : m_buffer(buffer) {
    u32(0);  // size, patched by finish()
    u8(type);
    u16(tag);
}

bool Writer::reserve(size_t count) {
    if (m_error) return false;
    if (count > m_buffer.size() - m_used) {
        m_error = EMSGSIZE;
        return false;
    }
    return true;
}

Writer& Writer::u8(uint8_t value) {
    if (reserve(1)) m_buffer[m_used++] = std::byte(value);
    return *this;
}

Writer& Writer::u16(uint16_t value) {
    if (reserve(2)) store_le(&m_buffer[m_used], value), m_used += 2;
    return *this;
}

Writer& Writer::u32(uint32_t value) {
    if (reserve(4)) store_le(&m_buffer[m_used], value), m_used += 4;
    return *this;
}

Writer& Writer::u64(uint64_t value) {
    if (reserve(8)) store_le(&m_buffer[m_used], value), m_used += 8;
    return *this;
}

Writer& Writer::str(std::string_view text) {
    if (text.size() > 0xffff) {
        if (!m_error) m_error = ENAMETOOLONG;
        return *this;
    }
    u16(uint16_t(text.size()));
    return bytes(std::as_bytes(std::span(text.data(), text.size())));
}

Writer& Writer::bytes(std::span<const std::byte> data) {
    if (reserve(data.size()) && !data.empty()) {
        // The bytes may be the app's (Twrite), unmapped while the request waited for a slot.
        if (user_copy(&m_buffer[m_used], data.data(), data.size())) {
            m_error = EFAULT;
            return *this;
        }
        m_used += data.size();
    }
    return *this;
}

ErrorOr<size_t> Writer::finish() {
    if (m_error) return error(m_error);
    store_le(m_buffer.data(), uint32_t(m_used));
    return m_used;
}

const std::byte* Reader::take(size_t count) {
    if (!m_ok || count > m_data.size() - m_position) {
        m_ok = false;
        return nullptr;
    }
    const std::byte* at = m_data.data() + m_position;
    m_position += count;
    return at;
}

uint8_t Reader::u8() {
    const std::byte* at = take(1);
    return at ? uint8_t(*at) : 0;
}

uint16_t Reader::u16() {
    const std::byte* at = take(2);
    return at ? load_le<uint16_t>(at) : 0;
}

uint32_t Reader::u32() {
    const std::byte* at = take(4);
    return at ? load_le<uint32_t>(at) : 0;
}

uint64_t Reader::u64() {
    const std::byte* at = take(8);
    return at ? load_le<uint64_t>(at) : 0;
}

Qid Reader::qid() {
    Qid q;
    q.type = u8();
    q.version = u32();
    q.path = u64();
    return q;
}

std::string_view Reader::str() {
    uint16_t length = u16();
    const std::byte* at = take(length);
    return at ? std::string_view(reinterpret_cast<const char*>(at), length) : std::string_view();
}

std::span<const std::byte> Reader::bytes(size_t count) {
    const std::byte* at = take(count);
    return at ? std::span<const std::byte>(at, count) : std::span<const std::byte>();
}

ErrorOr<Reader> open_reply(std::span<const std::byte> reply, uint8_t expected, uint16_t tag) {
    Reader header(reply);
    uint32_t size = header.u32();
    uint8_t type = header.u8();
    uint16_t reply_tag = header.u16();
    if (!header.ok() || size < HEADER_SIZE || size > reply.size() || reply_tag != tag) return error(EPROTO);
    Reader body(reply.subspan(HEADER_SIZE, size - HEADER_SIZE));
    if (type == Rlerror) {
        uint32_t code = body.u32();
        if (!body.ok() || code == 0 || code > 4095) return error(EPROTO);
        return error(int(code));
    }
    if (type != expected) return error(EPROTO);
    return body;
}

Attr read_attr(Reader& r) {
    Attr a;
    a.valid = r.u64();
    a.qid = r.qid();
    a.mode = r.u32();
    a.uid = r.u32();
    a.gid = r.u32();
    a.nlink = r.u64();
    a.rdev = r.u64();
    a.size = r.u64();
    a.block_size = r.u64();
    a.blocks = r.u64();
    a.atime_sec = r.u64();
    a.atime_nsec = r.u64();
    a.mtime_sec = r.u64();
    a.mtime_nsec = r.u64();
    a.ctime_sec = r.u64();
    a.ctime_nsec = r.u64();
    a.btime_sec = r.u64();
    a.btime_nsec = r.u64();
    a.generation = r.u64();
    a.data_version = r.u64();
    return a;
}

Dirent read_dirent(Reader& r) {
    Dirent d;
    d.qid = r.qid();
    d.offset = r.u64();
    d.type = r.u8();
    d.name = r.str();
    return d;
}

StatFs read_statfs(Reader& r) {
    StatFs s;
    s.type = r.u32();
    s.block_size = r.u32();
    s.blocks = r.u64();
    s.blocks_free = r.u64();
    s.blocks_available = r.u64();
    s.files = r.u64();
    s.files_free = r.u64();
    s.fsid = r.u64();
    s.name_max = r.u32();
    return s;
}

}  // namespace xos::p9
