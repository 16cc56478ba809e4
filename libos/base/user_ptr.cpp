#include "base/user_ptr.h"

namespace xos {

namespace {
UserRange g_user_range{4096, 0};
UserMemoryCheck g_memory_check;

bool in_identity_range(uintptr_t address, size_t size) {
    if (address < g_user_range.lowest || address > g_user_range.highest) return false;
    return size <= g_user_range.highest - address;  // no wrap-around past the top
}

constexpr int PROT_READ_BIT = 1, PROT_WRITE_BIT = 2;
}  // namespace

void set_user_range(UserRange range) { g_user_range = range; }
void set_user_memory_check(UserMemoryCheck check) { g_memory_check = check; }

bool user_range_ok(uintptr_t address, size_t size) {
    return in_identity_range(address, size) || (g_memory_check && g_memory_check(address, size, PROT_READ_BIT));
}

bool user_range_writable(uintptr_t address, size_t size) {
    return in_identity_range(address, size) || (g_memory_check && g_memory_check(address, size, PROT_WRITE_BIT));
}

}  // namespace xos
