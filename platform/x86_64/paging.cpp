// Page tables. The upper half holds the direct map of RAM (and of the 32-bit MMIO hole),
// 2 MiB pages, with 4 KiB pages around the image so that it is mapped W^X by section (text RX,
// read-only data R, data and bss RW, the rest NX); layout.h has the whole layout. The lower half
// is the app region, mapped page by page on demand by libos. pvh_entry.S mapped only the first
// GiB, at 0 and in the direct map; init_paging drops the low alias.
#include <algorithm>
#include <cstring>

#include "xos/log.h"
#include "boot_info.h"
#include "cpu.h"
#include "layout.h"
#include "xos/libos.h"

extern "C" uint64_t xos_boot_pml4[512], xos_boot_pdpt[512];
extern "C" char __xos_image_start[], __xos_text_start[], __xos_text_end[], __xos_image_end[];

namespace xos::x86 {

namespace {

constexpr uint64_t PTE_P = 1, PTE_W = 2, PTE_PS = 0x80, PTE_NX = 1ull << 63;
constexpr uint64_t PTE_MAPPED_NO_ACCESS = 1ull << 9;  // software bit: a frame with P = 0
constexpr uint64_t PTE_ADDRESS = 0x000ffffffffff000ull;
constexpr uint64_t GIB = 1ull << 30, MIB2 = 2ull << 20, PAGE = 4096;
constexpr size_t MAX_GIB = 64;  // PD pages available for the direct map
constexpr size_t LOW_PAGE_TABLES = 16;  // 4 KiB mappings for the first 32 MiB at most
constexpr uintptr_t DIRECT_MAP = XOS_DIRECT_MAP_BASE;
constexpr uintptr_t APP_BASE = XOS_APP_REGION_BASE;
constexpr uintptr_t APP_END = XOS_APP_REGION_END;
static_assert(APP_END <= (256ull << 39), "the app region is the lower half");

alignas(4096) uint64_t g_pd[MAX_GIB][512];
alignas(4096) uint64_t g_low_pt[LOW_PAGE_TABLES][512];

uint64_t* table_at(uint64_t entry) { return static_cast<uint64_t*>(platform::phys_to_virt(entry & PTE_ADDRESS)); }
uint64_t physical(const void* pointer) { return platform::virt_to_phys(pointer); }

uint64_t nx() { return features().nx ? PTE_NX : 0; }

// The page at physical `phys` in the image area, by section.
uint64_t image_page_flags(uintptr_t phys) {
    auto a = [](char* symbol) { return reinterpret_cast<uintptr_t>(symbol); };
    if (phys == 0) return 0;  // not present
    uintptr_t address = phys + DIRECT_MAP;
    if (address >= a(__xos_text_start) && address < a(__xos_text_end)) return PTE_P;  // RX
    if (address >= a(__xos_image_start) && address < a(__xos_text_start)) return PTE_P | nx();  // R
    return PTE_P | PTE_W | nx();  // low memory, data, bss, and RAM after the image
}

uint64_t leaf_flags(uint32_t access) {
    if (!access) return PTE_MAPPED_NO_ACCESS;
    uint64_t flags = PTE_P;
    if (access & platform::PAGE_WRITE) flags |= PTE_W;
    if (!(access & platform::PAGE_EXEC)) flags |= nx();
    return flags;
}

// The page-table entry for `virt` in the app region; creates missing tables when `create`.
uint64_t* app_pte(uintptr_t virt, bool create) {
    uint64_t* table = xos_boot_pml4;
    for (int shift : {39, 30, 21}) {
        uint64_t& entry = table[(virt >> shift) & 511];
        if (!(entry & PTE_P)) {
            if (!create) return nullptr;
            uintptr_t page = mm::allocate_page_table_page();
            if (!page) return nullptr;
            entry = page | PTE_P | PTE_W;  // permissions are decided at the leaf
        }
        table = table_at(entry);
    }
    return &table[(virt >> 12) & 511];
}

}  // namespace

void init_paging() {
    uint64_t top = std::max<uint64_t>(ram_top(), 4 * GIB);
    size_t gibs = (top + GIB - 1) / GIB;
    if (gibs > MAX_GIB) {
        klog("xos: warning: only the first %zu GiB of RAM are mapped", MAX_GIB);
        gibs = MAX_GIB;
    }
    for (size_t g = 0; g < gibs; ++g) {
        for (size_t i = 0; i < 512; ++i) g_pd[g][i] = (g * GIB + i * MIB2) | PTE_P | PTE_W | PTE_PS | nx();
        xos_boot_pdpt[g] = physical(g_pd[g]) | PTE_P | PTE_W;
    }
    uintptr_t image_end = physical(__xos_image_end);
    size_t low_tables = (image_end + MIB2 - 1) / MIB2;
    if (low_tables > LOW_PAGE_TABLES) panic("image too large for the boot page tables");
    for (size_t t = 0; t < low_tables; ++t) {
        for (size_t i = 0; i < 512; ++i) {
            uintptr_t address = t * MIB2 + i * PAGE;
            g_low_pt[t][i] = address | image_page_flags(address);
        }
        g_pd[0][t] = physical(g_low_pt[t]) | PTE_P | PTE_W;
    }
    // The boot code's alias of the first GiB at 0 goes: the lower half is the app's.
    xos_boot_pml4[0] = 0;
    write_cr3(read_cr3());
}

bool map_device_memory(uintptr_t base, size_t size) {
    constexpr uint64_t PTE_PWT = 8, PTE_PCD = 16;
    if (base + size < base || base + size > (1ull << 46)) return false;  // beyond the direct map's slots
    uintptr_t end = DIRECT_MAP + base + size;
    for (uintptr_t virt = (DIRECT_MAP + base) & ~(PAGE - 1); virt < end;) {
        uint64_t* table = xos_boot_pml4;
        bool covered = false;
        for (int shift : {39, 30, 21}) {
            uint64_t& entry = table[(virt >> shift) & 511];
            if ((entry & PTE_P) && (entry & PTE_PS)) {  // inside a large page of the direct map
                virt = (virt | ((1ull << shift) - 1)) + 1;
                covered = true;
                break;
            }
            if (!(entry & PTE_P)) {
                uintptr_t page = mm::allocate_page_table_page();
                if (!page) return false;
                entry = page | PTE_P | PTE_W;
            }
            table = table_at(entry);
        }
        if (covered) continue;
        uint64_t& pte = table[(virt >> 12) & 511];
        if (!(pte & PTE_P)) {
            pte = (virt - DIRECT_MAP) | PTE_P | PTE_W | PTE_PCD | PTE_PWT | nx();
            invlpg(virt);
        }
        virt += PAGE;
    }
    return true;
}

}  // namespace xos::x86

namespace xos::platform {

void* phys_to_virt(uintptr_t phys) { return reinterpret_cast<void*>(phys + x86::DIRECT_MAP); }

uintptr_t virt_to_phys(const void* virt) { return reinterpret_cast<uintptr_t>(virt) - x86::DIRECT_MAP; }

MemoryRange app_region() { return {x86::APP_BASE, x86::APP_END - x86::APP_BASE}; }

bool map_page(uintptr_t virt, uintptr_t phys, uint32_t access) {
    uint64_t* pte = x86::app_pte(virt, true);
    if (!pte) return false;
    *pte = phys | x86::leaf_flags(access);
    x86::invlpg(virt);
    return true;
}

uintptr_t mapped_page(uintptr_t virt) {
    uint64_t* pte = x86::app_pte(virt, false);
    if (!pte || !(*pte & (x86::PTE_P | x86::PTE_MAPPED_NO_ACCESS))) return 0;
    return *pte & x86::PTE_ADDRESS;
}

namespace {

// Visits the leaf entries of [start, end) that exist, skipping absent tables wholesale.
template <typename Fn>
void for_each_leaf(uintptr_t start, uintptr_t end, Fn&& fn) {
    for (uintptr_t virt = start; virt < end;) {
        uint64_t* table = xos_boot_pml4;
        bool missing = false;
        for (int shift : {39, 30, 21}) {
            uint64_t entry = table[(virt >> shift) & 511];
            if (!(entry & x86::PTE_P)) {
                virt = (virt + (1ull << shift)) & ~((1ull << shift) - 1);  // skip the whole span
                missing = true;
                break;
            }
            table = x86::table_at(entry);
        }
        if (missing) continue;
        uintptr_t table_end = std::min<uintptr_t>(end, (virt | ((1ull << 21) - 1)) + 1);
        for (; virt < table_end; virt += x86::PAGE) {
            uint64_t& pte = table[(virt >> 12) & 511];
            if (pte & (x86::PTE_P | x86::PTE_MAPPED_NO_ACCESS)) fn(virt, pte);
        }
    }
}

}  // namespace

void unmap_range(uintptr_t start, uintptr_t end, void (*release)(uintptr_t phys, void* context), void* context) {
    for_each_leaf(start, end, [&](uintptr_t virt, uint64_t& pte) {
        uintptr_t phys = pte & x86::PTE_ADDRESS;
        pte = 0;
        x86::invlpg(virt);
        release(phys, context);
    });
}

void protect_range(uintptr_t start, uintptr_t end, uint32_t access) {
    for_each_leaf(start, end, [&](uintptr_t virt, uint64_t& pte) {
        pte = (pte & x86::PTE_ADDRESS) | x86::leaf_flags(access);
        x86::invlpg(virt);
    });
}

}  // namespace xos::platform
