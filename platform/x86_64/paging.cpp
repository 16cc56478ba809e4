// Page tables. The upper half holds the direct map of RAM (and of the 32-bit MMIO hole),
// 2 MiB pages, with the image mapped W^X by section (text RX, read-only data R, data and bss
// RW, the rest NX): a 2 MiB page whose 4 KiB pages would all have the same rights stays one
// page with those rights, the few that straddle a section boundary get a page table, so an
// image of any size boots; layout.h has the whole layout. The lower half is the app region,
// mapped page by page on demand by libos. pvh_entry.S mapped only the first
// GiB, at 0 and in the direct map; init_paging drops the low alias.
#include <algorithm>
#include <cstring>

#include "xos/log.h"
#include "boot_info.h"
#include "console_tokens.h"
#include "cpu.h"
#include "layout.h"
#include "xos/libos.h"

extern "C" uint64_t xos_boot_pml4[512], xos_boot_pdpt[512];
extern "C" char __xos_image_start[], __xos_text_start[], __xos_text_end[], __xos_image_end[];

namespace xos::x86 {

namespace {

constexpr uint64_t PTE_P = 1, PTE_W = 2, PTE_PS = 0x80, PTE_NX = 1ull << 63;
constexpr uint64_t PTE_MAPPED_NO_ACCESS = 1ull << 9;  // software bit: a frame with P = 0
// Software bit: unmapped (P = 0), its frame released once the TLB shootdown is over (unmap_range).
constexpr uint64_t PTE_RELEASE_AFTER_FLUSH = 1ull << 10;
constexpr uint64_t PTE_ADDRESS = 0x000ffffffffff000ull;
constexpr uint64_t GIB = 1ull << 30, MIB2 = 2ull << 20, PAGE = 4096;
constexpr size_t MAX_GIB = 64;  // PD pages available for the direct map
// Page tables for the 2 MiB pages of the image that straddle a section boundary (the first,
// with page 0 not present, and those holding the ends of read-only data and text: 3 at most).
constexpr size_t LOW_PAGE_TABLES = 8;
constexpr uintptr_t DIRECT_MAP = XOS_DIRECT_MAP_BASE;
constexpr uintptr_t APP_BASE = XOS_APP_REGION_BASE;
constexpr uintptr_t APP_END = XOS_APP_REGION_END;
static_assert(APP_END <= (256ull << 39), "the app region is the lower half");
// The app half: PML4 slots [APP_SLOTS_BEGIN, APP_SLOTS_END) belong to the app's address space
// (each space has its own entries there; every other slot is the kernel's, copied into each
// space): the whole lower half.
constexpr size_t APP_SLOTS_BEGIN = 0, APP_SLOTS_END = 256;
static_assert(APP_BASE >= (uintptr_t(APP_SLOTS_BEGIN) << 39) && APP_END <= (uintptr_t(APP_SLOTS_END) << 39));

// Per CPU: the PML4 of its current app space (a TLB shootdown goes to the CPUs whose root it is).
uint64_t* g_roots[XOS_MAX_CPUS] = {xos_boot_pml4};
uint64_t*& current_root() { return g_roots[platform::cpu_index_unlocked()]; }
// Per CPU: the other CPUs that must drop TLB entries before the paging operation in progress on
// it completes. Per CPU because operations on different address spaces (each under its own
// address-space lock, not the big lock any more) run on several CPUs at once; an operation runs
// with interrupts off (under its space's lock), so it stays on its CPU.
uint32_t g_shootdown_mask[XOS_MAX_CPUS];
uint32_t& shootdown_mask() { return g_shootdown_mask[platform::cpu_index_unlocked()]; }

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

bool in_process_data(uintptr_t virt);
uint64_t* data_pte(uint64_t* root, uintptr_t virt, bool create);

// The page-table entry for `virt` in the app region (or the per-process data) of the space
// `root`; creates missing tables when `create`.
uint64_t* app_pte(uint64_t* root, uintptr_t virt, bool create) {
    if (in_process_data(virt)) return data_pte(root, virt, create);
    uint64_t* table = root;
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

// With several CPUs, the others whose current space is `root` may hold its TLB entries too:
// they are noted, and finish_shootdown() makes them flush.
void note_remote(uint64_t* root) {
    if (!xos_smp_active) return;
    unsigned self = platform::cpu_index_unlocked();
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (i != self && g_roots[i] == root) shootdown_mask() |= 1u << i;
}

// A TLB entry exists only for the current space (no PCIDs: loading CR3 flushes the rest).
void flush(uint64_t* root, uintptr_t virt) {
    if (root == current_root()) invlpg(virt);
    note_remote(root);
}

// The TLB shootdown (docs/locking.md): each CPU noted reloads its CR3 on an IPI (or while it
// spins for a lock) and clears its request; this waits for all, answering requests to this CPU
// meanwhile (two CPUs may shoot down each other's spaces at once), without a `pause` per round
// (under multi-threaded TCG each one takes QEMU's global lock).
void finish_shootdown() {
    uint32_t& pending = shootdown_mask();
    uint32_t mask = pending;
    if (!mask) return;
    pending = 0;
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i) {
        if (!(mask & (1u << i))) continue;
        __atomic_store_n(&xos_cpus[i].flush_request, 1, __ATOMIC_RELEASE);
        platform::send_ipi(i, platform::Ipi::TlbFlush);
    }
    unsigned self = platform::cpu_index_unlocked();
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i) {
        while ((mask & (1u << i)) && __atomic_load_n(&xos_cpus[i].flush_request, __ATOMIC_ACQUIRE)) {
            if (__atomic_load_n(&xos_cpus[self].flush_request, __ATOMIC_ACQUIRE)) {
                write_cr3(read_cr3());
                __atomic_store_n(&xos_cpus[self].flush_request, 0, __ATOMIC_RELEASE);
            }
        }
    }
}

// --- A linked image's per-process data (platform::process_data_range) ---
// The range lies in the image, so in the direct map's first GiB (PML4 slot 256, PDPT entry 0),
// within reach of the image's PC-relative code. A space that maps pages there gets its own PDPT
// for slot 256 and its own PD for that GiB (copies of the kernel's: every other entry still
// points to the kernel's tables, so they stay shared) and its own page table for each 2 MiB
// block the range touches, whose entries outside the range are the kernel's mapping of the block
// (the image's libos data and bss) and inside it the space's own pages. A space without them
// uses the kernel's tables, which map the image's original pages there, unused after boot.
constexpr size_t DIRECT_MAP_SLOT = (DIRECT_MAP >> 39) & 511;
uintptr_t g_data_start, g_data_end;  // page-aligned; empty: no per-process data

bool in_process_data(uintptr_t virt) { return virt >= g_data_start && virt < g_data_end; }
uint64_t kernel_slot_entry() { return physical(xos_boot_pdpt) | PTE_P | PTE_W; }
// By address: the CPU sets the accessed bit in the entries it walks.
bool has_own_data_tables(const uint64_t* root) {
    return (root[DIRECT_MAP_SLOT] & PTE_ADDRESS) != physical(xos_boot_pdpt);
}

// The kernel's 4 KiB entries for the 2 MiB block at `block` (virtual) of the first GiB.
void kernel_block_entries(uintptr_t block, uint64_t* out) {
    uint64_t pde = g_pd[0][(block >> 21) & 511];
    if (pde & PTE_PS) {
        uint64_t flags = pde & ~PTE_ADDRESS & ~PTE_PS;
        for (size_t i = 0; i < 512; ++i) out[i] = ((pde & PTE_ADDRESS) + i * PAGE) | flags;
    } else {
        memcpy(out, table_at(pde), PAGE);
    }
}

// Gives `root` its own tables for the range (see above); false without memory.
bool make_own_data_tables(uint64_t* root) {
    if (has_own_data_tables(root)) return true;
    uintptr_t pdpt_page = mm::allocate_page_table_page();
    uintptr_t pd_page = pdpt_page ? mm::allocate_page_table_page() : 0;
    if (!pd_page) {
        if (pdpt_page) mm::free_page_table_page(pdpt_page);
        return false;
    }
    uint64_t* pdpt = table_at(pdpt_page);
    uint64_t* pd = table_at(pd_page);
    memcpy(pdpt, xos_boot_pdpt, PAGE);
    memcpy(pd, g_pd[0], PAGE);
    for (uintptr_t block = g_data_start & ~(MIB2 - 1); block < g_data_end; block += MIB2) {
        uintptr_t table_page = mm::allocate_page_table_page();
        if (!table_page) {  // give back what this made
            for (uintptr_t b = g_data_start & ~(MIB2 - 1); b < block; b += MIB2)
                mm::free_page_table_page(pd[(b >> 21) & 511] & PTE_ADDRESS);
            mm::free_page_table_page(pd_page);
            mm::free_page_table_page(pdpt_page);
            return false;
        }
        uint64_t* table = table_at(table_page);
        kernel_block_entries(block, table);
        for (size_t i = 0; i < 512; ++i)
            if (in_process_data(block + i * PAGE)) table[i] = 0;
        pd[(block >> 21) & 511] = table_page | PTE_P | PTE_W;
    }
    pdpt[0] = pd_page | PTE_P | PTE_W;
    root[DIRECT_MAP_SLOT] = pdpt_page | PTE_P | PTE_W;
    if (root == current_root()) write_cr3(read_cr3());
    note_remote(root);
    finish_shootdown();
    return true;
}

// Frees what make_own_data_tables made (the pages mapped there must be unmapped already).
void drop_own_data_tables(uint64_t* root) {
    if (!has_own_data_tables(root)) return;
    uint64_t* pdpt = table_at(root[DIRECT_MAP_SLOT]);
    uint64_t* pd = table_at(pdpt[0]);
    for (uintptr_t block = g_data_start & ~(MIB2 - 1); block < g_data_end; block += MIB2)
        mm::free_page_table_page(pd[(block >> 21) & 511] & PTE_ADDRESS);
    mm::free_page_table_page(pdpt[0] & PTE_ADDRESS);
    mm::free_page_table_page(root[DIRECT_MAP_SLOT] & PTE_ADDRESS);
    root[DIRECT_MAP_SLOT] = kernel_slot_entry();
    if (root == current_root()) write_cr3(read_cr3());
    note_remote(root);
    finish_shootdown();
}

// The entry for `virt` in the per-process data of `root` (nullptr: the space has none there).
uint64_t* data_pte(uint64_t* root, uintptr_t virt, bool create) {
    if (!has_own_data_tables(root) && (!create || !make_own_data_tables(root))) return nullptr;
    uint64_t* pd = table_at(table_at(root[DIRECT_MAP_SLOT])[0]);
    return &table_at(pd[(virt >> 21) & 511])[(virt >> 12) & 511];
}

}  // namespace

void init_paging() {
    uint64_t top = std::max<uint64_t>(ram_top(), 4 * GIB);
    size_t gibs = (top + GIB - 1) / GIB;
    if (gibs > MAX_GIB) {
        klog("xos: warning: only the first %zu GiB of RAM are mapped", MAX_GIB);
        gibs = MAX_GIB;
    }
    // The new tables are built whole before the boot PDPT points to them: until then this code
    // runs on pvh_entry.S's tables (the first GiB RWX), and g_pd[0] maps the image NX until the
    // loop below has given its blocks their rights. Linked in earlier, the image was NX for a
    // while and only TLB entries kept this code and the trap stubs running; a TLB flush in that
    // window (under Xen, any exit to the hypervisor can flush: Xen's timer, dom0 being run) made
    // the next instruction fetch fault, and the page-fault stub's own fetch fault again,
    // forever: the intermittent spin of docs/xen.md.
    // xos.boot_tlb_flushes (tests/image's boot-tlb-flushes): the TLB is flushed after each step
    // below, as an exit to the hypervisor may do at any moment; the boot must not notice.
    size_t unused;
    bool flush_steps = command_line_token("xos.boot_tlb_flushes", unused) != nullptr;
    auto step_done = [flush_steps] {
        if (flush_steps) write_cr3(read_cr3());
    };
    for (size_t g = 0; g < gibs; ++g) {
        for (size_t i = 0; i < 512; ++i) g_pd[g][i] = (g * GIB + i * MIB2) | PTE_P | PTE_W | PTE_PS | nx();
        step_done();
    }
    uintptr_t image_end = physical(__xos_image_end);
    size_t image_blocks = (image_end + MIB2 - 1) / MIB2, tables_used = 0;
    if (image_blocks > gibs * 512) panic("the image is larger than the direct map");
    for (size_t t = 0; t < image_blocks; ++t) {
        uint64_t flags = image_page_flags(t * MIB2);
        bool uniform = flags != 0;
        for (size_t i = 1; i < 512 && uniform; ++i) uniform = image_page_flags(t * MIB2 + i * PAGE) == flags;
        if (uniform) {
            g_pd[t / 512][t % 512] = (t * MIB2) | flags | PTE_PS;
            step_done();
            continue;
        }
        if (tables_used == LOW_PAGE_TABLES) panic("too many image sections for the boot page tables");
        uint64_t* table = g_low_pt[tables_used++];
        for (size_t i = 0; i < 512; ++i) {
            uintptr_t address = t * MIB2 + i * PAGE;
            table[i] = address | image_page_flags(address);
        }
        g_pd[t / 512][t % 512] = physical(table) | PTE_P | PTE_W;
        step_done();
    }
    for (size_t g = 0; g < gibs; ++g) xos_boot_pdpt[g] = physical(g_pd[g]) | PTE_P | PTE_W;
    write_cr3(read_cr3());  // the boot PD's translations go
    platform::ProcessDataRange data = platform::process_data_range();
    g_data_start = data.base;
    g_data_end = data.end;
    if (g_data_end > g_data_start && g_data_end - DIRECT_MAP > GIB) panic("the image's data is beyond its first GiB");
    // The boot code's alias of the first GiB at 0 goes: the lower half is the app's.
    xos_boot_pml4[0] = 0;
    write_cr3(read_cr3());
}

void load_cpu_root(unsigned cpu, uint64_t* root) {
    g_roots[cpu] = root;
    write_cr3(physical(root));
}

bool map_device_memory(uintptr_t base, size_t size) {
    constexpr uint64_t PTE_PWT = 8, PTE_PCD = 16;
    if (base + size < base || base + size > (1ull << 46)) return false;  // beyond the direct map's slots
    uintptr_t end = DIRECT_MAP + base + size;
    for (uintptr_t virt = (DIRECT_MAP + base) & ~(PAGE - 1); virt < end;) {
        // The kernel's tables (the boot space may have its own PDPT for the direct map's slot).
        bool kernel_slot = ((virt >> 39) & 511) == DIRECT_MAP_SLOT;
        uint64_t* table = kernel_slot ? xos_boot_pdpt : xos_boot_pml4;
        bool covered = false;
        for (int shift : {39, 30, 21}) {
            if (shift == 39 && kernel_slot) continue;
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

struct AppSpace {};  // a PML4 page

void* phys_to_virt(uintptr_t phys) { return reinterpret_cast<void*>(phys + x86::DIRECT_MAP); }

uintptr_t virt_to_phys(const void* virt) { return reinterpret_cast<uintptr_t>(virt) - x86::DIRECT_MAP; }

namespace {

uint64_t* root_of(AppSpace* space) { return reinterpret_cast<uint64_t*>(space); }
AppSpace* space_of(uint64_t* root) { return reinterpret_cast<AppSpace*>(root); }

// Visits the leaf entries of [start, end) that exist, skipping absent tables wholesale.
template <typename Fn>
void for_each_leaf(uint64_t* root, uintptr_t start, uintptr_t end, Fn&& fn,
                   uint64_t present = x86::PTE_P | x86::PTE_MAPPED_NO_ACCESS) {
    for (uintptr_t virt = start; virt < end;) {
        if (x86::in_process_data(virt)) {  // small: page by page
            uint64_t* pte = x86::data_pte(root, virt, false);
            if (!pte) return;  // nothing of this space there (ranges never span it and the app region)
            if (*pte & present) fn(virt, *pte);
            virt += x86::PAGE;
            continue;
        }
        uint64_t* table = root;
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
            if (pte & present) fn(virt, pte);
        }
    }
}

uint32_t access_of(uint64_t pte) {
    if (!(pte & x86::PTE_P)) return 0;
    uint32_t access = PAGE_READ;
    if (pte & x86::PTE_W) access |= PAGE_WRITE;
    if (!(pte & x86::PTE_NX)) access |= PAGE_EXEC;
    return access;
}

// Frees the tables below `table` (a table of `level`: 3 = PDPT, 2 = PD, 1 = PT) and the table.
void free_table(uintptr_t phys, int level) {
    if (level > 1) {
        uint64_t* table = x86::table_at(phys);
        for (size_t i = 0; i < 512; ++i)
            if (table[i] & x86::PTE_P) free_table(table[i] & x86::PTE_ADDRESS, level - 1);
    }
    mm::free_page_table_page(phys);
}

}  // namespace

MemoryRange app_region() { return {x86::APP_BASE, x86::APP_END - x86::APP_BASE}; }

// Nothing to drop: a space sees the image's own pages there only until it maps pages of its own.
void release_image_process_data() {}

AppSpace* boot_app_space() { return space_of(xos_boot_pml4); }

AppSpace* create_app_space() {
    uintptr_t page = mm::allocate_page_table_page();
    if (!page) return nullptr;
    uint64_t* root = x86::table_at(page);
    for (size_t i = 0; i < 512; ++i)
        if (i < x86::APP_SLOTS_BEGIN || i >= x86::APP_SLOTS_END) root[i] = xos_boot_pml4[i];
    root[x86::DIRECT_MAP_SLOT] = x86::kernel_slot_entry();  // not the boot space's own copy
    return space_of(root);
}

void destroy_app_space(AppSpace* space) {
    uint64_t* root = root_of(space);
    for (uint64_t* in_use : x86::g_roots)
        if (root == in_use) panic("destroying an address space a CPU runs in");
    for (size_t i = x86::APP_SLOTS_BEGIN; i < x86::APP_SLOTS_END; ++i) {
        if (root[i] & x86::PTE_P) free_table(root[i] & x86::PTE_ADDRESS, 3);
        root[i] = 0;
    }
    x86::drop_own_data_tables(root);
    if (root != xos_boot_pml4) mm::free_page_table_page(x86::physical(root));
}

void activate_app_space(AppSpace* space) {
    uint64_t* root = root_of(space);
    if (root == x86::current_root()) return;
    x86::current_root() = root;
    x86::write_cr3(x86::physical(root));
}

AppSpace* current_app_space() { return space_of(x86::current_root()); }

// Only the CPUs whose current space is this one can run its code; the others reload CR3 (a
// serializing instruction) before they run it (activate_app_space). The shootdown's answer is
// a CR3 reload too, on the IPI or in a spin-wait.
void sync_cores() {
    if (!xos_smp_active) return;
    x86::note_remote(x86::current_root());
    x86::finish_shootdown();
}

bool map_page(AppSpace* space, uintptr_t virt, uintptr_t phys, uint32_t access) {
    uint64_t* pte = x86::app_pte(root_of(space), virt, true);
    if (!pte) return false;
    bool was_mapped = *pte & x86::PTE_P;
    *pte = phys | x86::leaf_flags(access);
    if (was_mapped) {  // another CPU may hold the old entry (a new one it would fault in)
        x86::flush(root_of(space), virt);
        x86::finish_shootdown();
    }
    return true;
}

uintptr_t mapped_page(AppSpace* space, uintptr_t virt, uint32_t* access) {
    uint64_t* pte = x86::app_pte(root_of(space), virt, false);
    if (!pte || !(*pte & (x86::PTE_P | x86::PTE_MAPPED_NO_ACCESS))) return 0;
    if (access) *access = access_of(*pte);
    return *pte & x86::PTE_ADDRESS;
}

void unmap_range(AppSpace* space, uintptr_t start, uintptr_t end, void (*release)(uintptr_t phys, void* context),
                 void* context) {
    uint64_t* root = root_of(space);
    if (!xos_smp_active) {
        for_each_leaf(root, start, end, [&](uintptr_t virt, uint64_t& pte) {
            uintptr_t phys = pte & x86::PTE_ADDRESS;
            pte = 0;
            x86::flush(root, virt);
            release(phys, context);
        });
        return;
    }
    // Another CPU may still write through a TLB entry until the shootdown is over: the frames
    // are released after it (else one could be handed out again, on a third CPU, and written
    // through the stale entry).
    for_each_leaf(root, start, end, [&](uintptr_t virt, uint64_t& pte) {
        pte = (pte & x86::PTE_ADDRESS) | x86::PTE_RELEASE_AFTER_FLUSH;
        x86::flush(root, virt);
    });
    x86::finish_shootdown();
    for_each_leaf(
        root, start, end,
        [&](uintptr_t, uint64_t& pte) {
            uintptr_t phys = pte & x86::PTE_ADDRESS;
            pte = 0;
            release(phys, context);
        },
        x86::PTE_RELEASE_AFTER_FLUSH);
}

void protect_range(AppSpace* space, uintptr_t start, uintptr_t end, uint32_t access) {
    uint64_t* root = root_of(space);
    for_each_leaf(root, start, end, [&](uintptr_t virt, uint64_t& pte) {
        pte = (pte & x86::PTE_ADDRESS) | x86::leaf_flags(access);
        x86::flush(root, virt);
    });
    x86::finish_shootdown();
}

void for_each_mapped(AppSpace* space, uintptr_t start, uintptr_t end,
                     void (*visit)(uintptr_t virt, uintptr_t phys, void* context), void* context) {
    for_each_leaf(root_of(space), start, end,
                  [&](uintptr_t virt, uint64_t& pte) { visit(virt, pte & x86::PTE_ADDRESS, context); });
}

}  // namespace xos::platform
