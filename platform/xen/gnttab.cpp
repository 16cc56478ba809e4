// Grant tables v1 (gnttab.h). Entries 0-7 are reserved (the toolstack fills 0 and 1 for the
// console and xenstore pages); the rest form a free list threaded through an array.
#include "xen/gnttab.h"

#include <cerrno>

#include "xos/log.h"
#include "xen/hypercall.h"
#include "xos/platform.h"

namespace xos::xen::gnttab {

namespace {

constexpr uint32_t FRAMES = 4;  // 4 pages of 512 entries: 2048 references
constexpr grant_ref_t ENTRIES = FRAMES * 4096 / sizeof(grant_entry_v1);

alignas(4096) char g_frames[FRAMES][4096];
grant_entry_v1* g_table;
grant_ref_t g_next_free[ENTRIES];  // the free list: each free entry names the next, 0 ends it
grant_ref_t g_free_head;

}  // namespace

bool init() {
    gnttab_query_size size{DOMID_SELF, 0, 0, 0};
    hypercall(HYPERVISOR_grant_table_op, GNTTABOP_query_size, reinterpret_cast<uint64_t>(&size), 1);
    uint32_t frames = FRAMES;
    if (size.status == 0 && size.max_nr_frames && size.max_nr_frames < frames) frames = size.max_nr_frames;
    for (uint32_t i = 0; i < frames; ++i) {
        xen_add_to_physmap map{DOMID_SELF, 0, XENMAPSPACE_grant_table, i, platform::virt_to_phys(g_frames[i]) >> 12};
        if (long rc = hypercall(HYPERVISOR_memory_op, XENMEM_add_to_physmap, reinterpret_cast<uint64_t>(&map))) {
            klog("xen: grant table: cannot map frame %u (XENMEM_add_to_physmap: %ld)", i, rc);
            if (i == 0) return false;
            frames = i;
            break;
        }
    }
    g_table = reinterpret_cast<grant_entry_v1*>(g_frames);
    grant_ref_t entries = frames * 4096 / sizeof(grant_entry_v1);
    g_free_head = 0;
    for (grant_ref_t ref = entries - 1; ref >= GNTTAB_NR_RESERVED_ENTRIES; --ref) {
        g_next_free[ref] = g_free_head;
        g_free_head = ref;
    }
    return true;
}

long grant_access(domid_t domain, uintptr_t frame_address, Access access) {
    if (!g_table) return -ENODEV;
    platform::InterruptGuard no_interrupts;
    grant_ref_t ref = g_free_head;
    if (!ref) return -ENOSPC;
    g_free_head = g_next_free[ref];
    grant_entry_v1& entry = g_table[ref];
    entry.domid = domain;
    entry.frame = uint32_t(frame_address >> 12);
    // The flags last: they make the entry valid.
    uint16_t flags = GTF_permit_access | (access == Access::ReadOnly ? GTF_readonly : 0);
    __atomic_store_n(&entry.flags, flags, __ATOMIC_RELEASE);
    return ref;
}

bool end_access(grant_ref_t ref) {
    if (!g_table || ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= ENTRIES) return false;
    grant_entry_v1& entry = g_table[ref];
    uint16_t flags = __atomic_load_n(&entry.flags, __ATOMIC_ACQUIRE);
    do {
        if (flags & (GTF_reading | GTF_writing)) return false;  // still mapped by the other side
    } while (
        !__atomic_compare_exchange_n(&entry.flags, &flags, uint16_t(0), false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));
    platform::InterruptGuard no_interrupts;
    g_next_free[ref] = g_free_head;
    g_free_head = ref;
    return true;
}

}  // namespace xos::xen::gnttab
