// The image's UTS names: its host name (uname's nodename, /proc/sys/kernel/hostname) and NIS
// domain name. One image is one UTS namespace: xos.hostname= sets the host name at boot
// (xos-run --hostname; xos-oci passes config.json's hostname), and root inside may change both
// (sethostname(2), setdomainname(2)), as in a container's own UTS namespace.
#pragma once

#include <cstddef>
#include <string_view>

#include "base/error.h"

namespace xos::sys {

// Linux's __NEW_UTS_LEN: a name has at most 64 bytes.
constexpr size_t UTS_NAME_MAX = 64;

// EINVAL if `name` is longer than UTS_NAME_MAX. Empty names are allowed (Linux allows them).
ErrorOr<void> set_hostname(std::string_view name);
ErrorOr<void> set_domainname(std::string_view name);
// A copy of a name, taken under the names' lock: uname runs without the big lock
// (docs/locking.md "Cheap per-process syscalls") while sethostname may change it.
struct UtsNameCopy {
    char text[UTS_NAME_MAX + 1];
    size_t length;
    std::string_view view() const { return {text, length}; }
};
UtsNameCopy hostname();  // "xos" until set
UtsNameCopy domainname();  // "(none)" until set

}  // namespace xos::sys
