// The final identity map: all RAM plus the 32-bit MMIO hole (LAPIC, IOAPIC, virtio-mmio), with
// 2 MiB pages, except the first 2 MiB which use 4 KiB pages so that page 0 stays unmapped and
// a null-pointer access faults. pvh_entry.S mapped only the first GiB.
#include <algorithm>
#include <cstring>

#include "base/klog.h"
#include "boot_info.h"
#include "cpu.h"

extern "C" uint64_t xos_boot_pml4[512], xos_boot_pdpt[512];

namespace xos::x86 {

namespace {

constexpr uint64_t PTE_P = 1, PTE_W = 2, PTE_PS = 0x80;
constexpr uint64_t GIB = 1ull << 30, MIB2 = 2ull << 20;
constexpr size_t MAX_GIB = 64;  // PD pages available for the identity map

alignas(4096) uint64_t g_pd[MAX_GIB][512];
alignas(4096) uint64_t g_low_pt[512];

}  // namespace

void init_paging() {
    uint64_t top = std::max<uint64_t>(ram_top(), 4 * GIB);
    size_t gibs = (top + GIB - 1) / GIB;
    if (gibs > MAX_GIB) {
        klog("xos: warning: only the first %zu GiB of RAM are mapped", MAX_GIB);
        gibs = MAX_GIB;
    }
    for (size_t g = 0; g < gibs; ++g) {
        for (size_t i = 0; i < 512; ++i) g_pd[g][i] = (g * GIB + i * MIB2) | PTE_P | PTE_W | PTE_PS;
        xos_boot_pdpt[g] = reinterpret_cast<uint64_t>(g_pd[g]) | PTE_P | PTE_W;
    }
    for (size_t i = 1; i < 512; ++i) g_low_pt[i] = (i * 4096) | PTE_P | PTE_W;
    g_low_pt[0] = 0;  // page 0: not present
    g_pd[0][0] = reinterpret_cast<uint64_t>(g_low_pt) | PTE_P | PTE_W;
    write_cr3(read_cr3());
}

}  // namespace xos::x86
