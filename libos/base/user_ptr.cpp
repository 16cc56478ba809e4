#include "base/user_ptr.h"

namespace xos {

namespace {
UserRange g_user_range{4096, 0};
}

void set_user_range(UserRange range) { g_user_range = range; }

bool user_range_ok(uintptr_t address, size_t size) {
    if (address < g_user_range.lowest || address > g_user_range.highest) return false;
    return size <= g_user_range.highest - address;  // no wrap-around past the top
}

}  // namespace xos
