// Identity and limits (user and group ids: credentials.cpp).
#include <asm/prctl.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include <cstddef>
#include <cstring>

#include "mm/memory.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sys/handlers.h"
#include "sys/uts.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

void copy_field(char* field, size_t size, std::string_view value) {
    size_t length = value.size() < size - 1 ? value.size() : size - 1;
    memcpy(field, value.data(), length);
    field[length] = '\0';
}

}  // namespace

// Implements arch_prctl(2).
ErrorOr<long> sys_arch_prctl(int code, uintptr_t address) {
    switch (code) {
    case ARCH_SET_FS:
        // Canonical: the linked app's TLS is in the image, which on the VM is in the upper half.
        if ((address >> 47) != 0 && (address >> 47) != 0x1ffff) return error(EPERM);
        platform::set_thread_pointer(address);
        return 0;
    case ARCH_GET_FS: TRY(write_user(UserPtr<unsigned long>(address), platform::thread_pointer())); return 0;
    default: return error(EINVAL);
    }
}

// Implements sysinfo(2): uptime, the RAM libos manages (as /proc/meminfo), no swap, the
// number of threads as "procs". GNU sort sizes its buffer from it.
ErrorOr<long> sys_sysinfo(UserPtr<struct sysinfo> out) {
    struct sysinfo info{};
    info.uptime = long(platform::monotonic_ns() / 1000000000);
    info.totalram = mm::address_space().free_bytes() + mm::address_space().mapped_bytes();
    info.freeram = mm::free_memory_bytes();
    info.procs = uint16_t(sched::thread_count());
    info.mem_unit = 1;
    // The kernel's struct sysinfo ends after mem_unit (112 bytes); musl's adds 256 reserved
    // bytes, which would overrun glibc's (GNU sort's stack).
    constexpr size_t KERNEL_SYSINFO_BYTES = 112;
    static_assert(offsetof(struct sysinfo, mem_unit) + sizeof info.mem_unit <= KERNEL_SYSINFO_BYTES);
    TRY(copy_to_user(UserPtr<void>(out.address()), &info, KERNEL_SYSINFO_BYTES));
    return 0;
}

// Implements uname(2). Apps check for "Linux"; the release says what they really run on.
ErrorOr<long> sys_uname(UserPtr<struct utsname> out) {
    struct utsname u{};
    copy_field(u.sysname, sizeof u.sysname, "Linux");
    copy_field(u.nodename, sizeof u.nodename, hostname().view());
    copy_field(u.release, sizeof u.release, "6.1.0-xos");
    copy_field(u.version, sizeof u.version, "#1 SMP xos 0.1.0");
    copy_field(u.machine, sizeof u.machine, "x86_64");
    copy_field(u.domainname, sizeof u.domainname, domainname().view());
    TRY(write_user(out, u));
    return 0;
}

// Implements getrandom(2).
ErrorOr<long> sys_getrandom(UserPtr<void> buffer, size_t count, unsigned flags) {
    if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | 0x4 /* GRND_INSECURE */)) return error(EINVAL);
    if (count > 33554431) count = 33554431;  // Linux caps one call at 32 MiB - 1
    if (!user_range_writable(buffer.address(), count)) return error(EFAULT);
    // Through a libos buffer: the platform's entropy source writes with plain stores (or a host
    // syscall), which must never see a bad app address.
    // Zeroed first: on hosted the chunk may be on an app thread's stack page not touched yet,
    // which the host's getrandom cannot fault in (EFAULT); the stores here do.
    std::byte chunk[1024]{};
    for (size_t done = 0; done < count;) {
        size_t n = count - done < sizeof chunk ? count - done : sizeof chunk;
        platform::entropy(chunk, n);
        auto copied = copy_to_user(UserPtr<void>(buffer.address() + done), chunk, n);
        if (!copied) {
            if (done) return long(done);
            return std::unexpected(copied.error());
        }
        done += n;
    }
    return long(count);
}

}  // namespace xos::sys
