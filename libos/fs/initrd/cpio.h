// A reader of "newc" cpio archives (the Linux initramfs format, what xos-build --rootfs packs).
// Portable; unit-tested on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/error.h"

namespace xos::fs {

struct CpioEntry {
    std::string_view name;  // as stored: relative, without a leading "./" or "/"
    uint32_t mode;
    uint32_t uid, gid;
    uint64_t mtime;
    uint32_t rdev_major, rdev_minor;
    std::span<const std::byte> data;  // file contents or symlink target
};

class CpioReader {
public:
    explicit CpioReader(std::span<const std::byte> archive) : m_archive(archive) {}
    // The next entry; false at the trailer. EINVAL on a malformed archive.
    ErrorOr<bool> next(CpioEntry& entry);

private:
    std::span<const std::byte> m_archive;
    size_t m_offset = 0;
};

}  // namespace xos::fs
