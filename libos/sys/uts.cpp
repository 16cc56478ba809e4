// Host and domain names (sys/uts.h): sethostname(2), setdomainname(2); uname(2) reads them
// (proc.cpp), and so does procfs' /proc/sys/kernel/{hostname,domainname}.
#include "sys/uts.h"

#include <cstring>

#include "sched/process.h"
#include "sys/handlers.h"

namespace xos::sys {

namespace {

struct UtsName {
    char text[UTS_NAME_MAX + 1];
    size_t length;
};

UtsName g_hostname{"xos", 3};
UtsName g_domainname{"(none)", 6};

ErrorOr<void> set(UtsName& name, std::string_view value) {
    if (value.size() > UTS_NAME_MAX) return error(EINVAL);
    memcpy(name.text, value.data(), value.size());
    name.text[value.size()] = '\0';
    name.length = value.size();
    return {};
}

// sethostname/setdomainname: CAP_SYS_ADMIN in the UTS namespace, which is root's in an image.
ErrorOr<long> set_from_user(UtsName& name, UserPtr<const char> text, size_t length) {
    if (sched::current_process().credentials.euid != 0) return error(EPERM);
    if (length > UTS_NAME_MAX) return error(EINVAL);
    char buffer[UTS_NAME_MAX];
    TRY(copy_from_user(buffer, UserPtr<const void>(text.address()), length));
    TRY(set(name, {buffer, length}));
    return 0;
}

}  // namespace

ErrorOr<void> set_hostname(std::string_view name) { return set(g_hostname, name); }
ErrorOr<void> set_domainname(std::string_view name) { return set(g_domainname, name); }
std::string_view hostname() { return {g_hostname.text, g_hostname.length}; }
std::string_view domainname() { return {g_domainname.text, g_domainname.length}; }

// Implements sethostname(2).
ErrorOr<long> sys_sethostname(UserPtr<const char> name, size_t length) {
    return set_from_user(g_hostname, name, length);
}

// Implements setdomainname(2).
ErrorOr<long> sys_setdomainname(UserPtr<const char> name, size_t length) {
    return set_from_user(g_domainname, name, length);
}

}  // namespace xos::sys
