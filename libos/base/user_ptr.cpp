#include "base/user_ptr.h"

namespace xos {

namespace {

constexpr size_t MAX_REGIONS = 4;
UserRegion g_regions[MAX_REGIONS];
size_t g_region_count;
uintptr_t g_regions_low = 1, g_regions_high = 0;  // what the regions span (none: empty)
UserMemoryCheck g_memory_check;

constexpr int PROT_READ_BIT = 1, PROT_WRITE_BIT = 2;

bool allowed(uintptr_t address, size_t size, int prot) {
    if (size == 0) return true;  // nothing is touched (Linux's access_ok(p, 0) holds too)
    uintptr_t end = address + size;
    if (end < address) return false;  // wraps around
    if (address >= g_regions_low && end <= g_regions_high) {  // in the image: which part?
        for (size_t i = 0; i < g_region_count; ++i) {
            const UserRegion& region = g_regions[i];
            if (address >= region.base && end <= region.end) return (region.prot & prot) == prot;
        }
        return false;
    }
    return g_memory_check && g_memory_check(address, size, prot);
}

}  // namespace

void set_user_regions(std::span<const UserRegion> regions) {
    g_region_count = 0;
    for (const UserRegion& region : regions) {
        if (g_region_count == MAX_REGIONS) break;
        if (region.base >= region.end) continue;
        g_regions[g_region_count++] = region;
        if (g_region_count == 1 || region.base < g_regions_low) g_regions_low = region.base;
        if (g_region_count == 1 || region.end > g_regions_high) g_regions_high = region.end;
    }
    if (g_region_count == 0) g_regions_low = 1, g_regions_high = 0;
}

void set_user_memory_check(UserMemoryCheck check) { g_memory_check = check; }

bool user_range_ok(uintptr_t address, size_t size) { return allowed(address, size, PROT_READ_BIT); }
bool user_range_writable(uintptr_t address, size_t size) { return allowed(address, size, PROT_WRITE_BIT); }

ErrorOr<size_t> copy_string_from_user(char* to, UserPtr<const char> from, size_t capacity) {
    // A page at a time: a whole page is readable or not, so the copy never strays past the
    // page holding the NUL.
    size_t done = 0;
    while (done < capacity) {
        uintptr_t at = from.address() + done;
        size_t chunk = (((at | 4095) + 1) - at);
        if (chunk > capacity - done) chunk = capacity - done;
        TRY(copy_from_user(to + done, UserPtr<const void>(at), chunk));
        if (const void* nul = memchr(to + done, '\0', chunk)) return size_t(static_cast<const char*>(nul) - to);
        done += chunk;
    }
    return error(ENAMETOOLONG);
}

}  // namespace xos
