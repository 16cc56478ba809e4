// Host and domain names (sys/uts.h): sethostname(2), setdomainname(2); uname(2) reads them
// (proc.cpp), and so does procfs' /proc/sys/kernel/{hostname,domainname}.
#include "sys/uts.h"

#include <cstring>

#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "sched/process.h"
#include "sys/handlers.h"

namespace xos::sys {

namespace {

using UtsName = UtsNameCopy;

// Guards both names: uname copies them without the big lock.
constinit SpinLock g_uts_lock;
UtsName g_hostname GUARDED_BY(g_uts_lock){"xos", 3};
UtsName g_domainname GUARDED_BY(g_uts_lock){"(none)", 6};

ErrorOr<void> set(UtsName& name, std::string_view value) REQUIRES(g_uts_lock) {
    if (value.size() > UTS_NAME_MAX) return error(EINVAL);
    memcpy(name.text, value.data(), value.size());
    name.text[value.size()] = '\0';
    name.length = value.size();
    return {};
}

// sethostname/setdomainname: CAP_SYS_ADMIN in the UTS namespace, which is root's in an image.
ErrorOr<long> set_from_user(ErrorOr<void> (*set_name)(std::string_view), UserPtr<const char> text, size_t length) {
    if (sched::current_process().credentials.euid != 0) return error(EPERM);
    if (length > UTS_NAME_MAX) return error(EINVAL);
    char buffer[UTS_NAME_MAX];
    TRY(copy_from_user(buffer, UserPtr<const void>(text.address()), length));
    TRY(set_name({buffer, length}));
    return 0;
}

}  // namespace

ErrorOr<void> set_hostname(std::string_view name) {
    SpinLockGuard guard(g_uts_lock);
    return set(g_hostname, name);
}
ErrorOr<void> set_domainname(std::string_view name) {
    SpinLockGuard guard(g_uts_lock);
    return set(g_domainname, name);
}
UtsNameCopy hostname() {
    SpinLockGuard guard(g_uts_lock);
    return g_hostname;
}
UtsNameCopy domainname() {
    SpinLockGuard guard(g_uts_lock);
    return g_domainname;
}

// Implements sethostname(2).
ErrorOr<long> sys_sethostname(UserPtr<const char> name, size_t length) {
    return set_from_user(&set_hostname, name, length);
}

// Implements setdomainname(2).
ErrorOr<long> sys_setdomainname(UserPtr<const char> name, size_t length) {
    return set_from_user(&set_domainname, name, length);
}

}  // namespace xos::sys
