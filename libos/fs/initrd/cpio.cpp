#include "fs/initrd/cpio.h"

#include <cstring>

namespace xos::fs {

namespace {

constexpr size_t HEADER_SIZE = 110;

bool parse_hex(const std::byte* text, uint32_t& out) {
    uint32_t value = 0;
    for (int i = 0; i < 8; ++i) {
        char c = char(text[i]);
        int digit = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f'       ? c - 'a' + 10
            : c >= 'A' && c <= 'F'       ? c - 'A' + 10
                                         : -1;
        if (digit < 0) return false;
        value = value << 4 | uint32_t(digit);
    }
    out = value;
    return true;
}

size_t align4(size_t value) { return (value + 3) & ~size_t(3); }

}  // namespace

ErrorOr<bool> CpioReader::next(CpioEntry& entry) {
    if (m_offset + HEADER_SIZE > m_archive.size()) return error(EINVAL);
    const std::byte* header = m_archive.data() + m_offset;
    if (memcmp(header, "070701", 6) != 0 && memcmp(header, "070702", 6) != 0) return error(EINVAL);
    uint32_t fields[13];
    for (int i = 0; i < 13; ++i)
        if (!parse_hex(header + 6 + 8 * i, fields[i])) return error(EINVAL);
    uint32_t file_size = fields[6], name_size = fields[11];
    if (name_size == 0 || m_offset + HEADER_SIZE + name_size > m_archive.size()) return error(EINVAL);
    const char* name = reinterpret_cast<const char*>(header + HEADER_SIZE);
    if (name[name_size - 1] != '\0') return error(EINVAL);
    size_t data_offset = align4(m_offset + HEADER_SIZE + name_size);
    if (data_offset + file_size > m_archive.size()) return error(EINVAL);
    std::string_view stored(name, name_size - 1);
    if (stored == "TRAILER!!!") return false;
    while (stored.starts_with("./")) stored.remove_prefix(2);
    while (stored.starts_with("/")) stored.remove_prefix(1);
    entry = CpioEntry{.name = stored,
                      .mode = fields[1],
                      .uid = fields[2],
                      .gid = fields[3],
                      .mtime = fields[5],
                      .rdev_major = fields[9],
                      .rdev_minor = fields[10],
                      .data = m_archive.subspan(data_offset, file_size)};
    m_offset = align4(data_offset + file_size);
    return true;
}

}  // namespace xos::fs
