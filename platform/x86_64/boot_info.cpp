// PVH start_info parsing: memory map, command line, modules.
#include "boot_info.h"

#include <algorithm>
#include <cstring>

#include "xos/log.h"
#include "cpu.h"

extern "C" char __xos_image_start[], __xos_image_end[];

namespace xos::x86 {

namespace {

constexpr size_t MAX_RANGES = 64;
constexpr size_t CMDLINE_MAX = START_INFO_CMDLINE_MAX;
constexpr uintptr_t PAGE = 4096;

platform::MemoryRange g_free[MAX_RANGES];
size_t g_free_count;
uintptr_t g_ram_top;
char g_cmdline[CMDLINE_MAX];
uintptr_t g_rsdp;  // start_info's ACPI RSDP (physical), 0 if it gave none

// Boot data the loader placed in RAM that we must not hand out (modules, for example).
platform::MemoryRange g_reserved[MAX_RANGES];
size_t g_reserved_count;

void reserve(uintptr_t base, size_t size) {
    if (size && g_reserved_count < MAX_RANGES) g_reserved[g_reserved_count++] = {base, size};
}

// Adds [base, end) to the free list minus every reserved range (recursively splitting).
void add_free(uintptr_t base, uintptr_t end, size_t first_reserved = 0) {
    base = (base + PAGE - 1) & ~(PAGE - 1);
    end &= ~(PAGE - 1);
    if (base >= end) return;
    for (size_t i = first_reserved; i < g_reserved_count; ++i) {
        uintptr_t rb = g_reserved[i].base & ~(PAGE - 1);
        uintptr_t re = g_reserved[i].end();
        if (re <= base || rb >= end) continue;
        add_free(base, rb, i + 1);
        add_free(re, end, i + 1);
        return;
    }
    if (g_free_count == MAX_RANGES) {
        klog("xos: warning: too many memory ranges, ignoring %#lx-%#lx", base, end);
        return;
    }
    g_free[g_free_count++] = {base, end - base};
}

// The loader's own data in RAM: hvm_start_info, the command line, the memory map. QEMU puts them
// below 1 MiB (under the image, never handed out), Xen's toolstack right after the image, in
// what becomes free memory. libos takes free memory to be zero (mm/frames.cpp), so once read
// they are cleared (clear_boot_data).
constexpr size_t MAX_BOOT_DATA = 4;
platform::MemoryRange g_boot_data[MAX_BOOT_DATA];
size_t g_boot_data_count;

void note_boot_data(uintptr_t base, size_t size) {
    if (size && g_boot_data_count < MAX_BOOT_DATA) g_boot_data[g_boot_data_count++] = {base, size};
}

bool overlaps_reserved(uintptr_t base, uintptr_t end) {
    for (size_t i = 0; i < g_reserved_count; ++i)
        if (base < g_reserved[i].end() && g_reserved[i].base < end) return true;
    return false;
}

void clear_boot_data() {
    for (size_t i = 0; i < g_boot_data_count; ++i) {
        uintptr_t base = g_boot_data[i].base, end = g_boot_data[i].end();
        if (!overlaps_reserved(base, end)) memset(platform::phys_to_virt(base), 0, end - base);
    }
}

// Fallback when the loader gives no memory map: QEMU's CMOS holds the RAM size.
void memory_from_cmos(uintptr_t* below_4g, uintptr_t* above_4g) {
    auto cmos = [](uint8_t reg) {
        outb(0x70, reg);
        return uint64_t(inb(0x71));
    };
    uint64_t above_16m = (cmos(0x34) | (cmos(0x35) << 8)) * 65536;
    *below_4g = above_16m ? 16 * 1024 * 1024 + above_16m : (cmos(0x30) | (cmos(0x31) << 8)) * 1024 + 1024 * 1024;
    *above_4g = (cmos(0x5b) | (cmos(0x5c) << 8) | (cmos(0x5d) << 16)) * 65536;
}

}  // namespace

void parse_boot_info(uintptr_t start_info) {
    // The boot data must be in the first GiB, which pvh_entry.S mapped (the direct map comes
    // later): check_start_info makes sure of that, and of the counts, before anything is read.
    BootWindow window{static_cast<const unsigned char*>(platform::phys_to_virt(0)), 1ull << 30};
    if (const char* problem = check_start_info(start_info, window)) {
        klog("xos: fatal: bad PVH start info: %s", problem);
        platform::shutdown(platform::ExitKind::Crash, 134, "bad PVH start info");
    }
    const auto* info = static_cast<const HvmStartInfo*>(platform::phys_to_virt(start_info));
    g_rsdp = info->rsdp_paddr;
    if (info->cmdline_paddr) {
        const char* cmdline = static_cast<const char*>(platform::phys_to_virt(info->cmdline_paddr));
        size_t n = strnlen(cmdline, CMDLINE_MAX);  // < CMDLINE_MAX: checked
        memcpy(g_cmdline, cmdline, n + 1);
        note_boot_data(info->cmdline_paddr, n + 1);
    }
    note_boot_data(start_info, sizeof(HvmStartInfo));

    // Everything below the end of the image (low memory with the loader's data, the image
    // itself with its page tables and stacks) is never handed out.
    reserve(0, platform::virt_to_phys(__xos_image_end));
    if (info->nr_modules && info->modlist_paddr) {
        auto* modules = static_cast<const HvmModlistEntry*>(platform::phys_to_virt(info->modlist_paddr));
        reserve(info->modlist_paddr, info->nr_modules * sizeof(HvmModlistEntry));
        for (uint32_t i = 0; i < info->nr_modules; ++i) reserve(modules[i].paddr, modules[i].size);
    }

    if (info->version >= 1 && info->memmap_paddr && info->memmap_entries) {
        auto* map = static_cast<const HvmMemmapEntry*>(platform::phys_to_virt(info->memmap_paddr));
        note_boot_data(info->memmap_paddr, info->memmap_entries * sizeof(HvmMemmapEntry));
        for (uint32_t i = 0; i < info->memmap_entries; ++i) {
            if (map[i].type != HVM_MEMMAP_TYPE_RAM) continue;
            add_free(map[i].addr, map[i].addr + map[i].size);
            g_ram_top = std::max<uintptr_t>(g_ram_top, map[i].addr + map[i].size);
        }
    } else {
        uintptr_t below, above;
        memory_from_cmos(&below, &above);
        add_free(0, below);
        g_ram_top = below;
        if (above) {
            add_free(4ull << 30, (4ull << 30) + above);
            g_ram_top = (4ull << 30) + above;
        }
    }
    std::sort(g_free, g_free + g_free_count, [](auto& a, auto& b) { return a.base < b.base; });
    clear_boot_data();  // `info` is not read after this
}

uintptr_t ram_top() { return g_ram_top; }
uintptr_t rsdp_address() { return g_rsdp; }

}  // namespace xos::x86

namespace xos::platform {

std::span<const MemoryRange> free_memory() { return {x86::g_free, x86::g_free_count}; }

MemoryRange addressable_memory() {
    // The direct map from the image on (page 0 and low memory below the image are no syscall's
    // business) up to the end of RAM.
    auto start = reinterpret_cast<uintptr_t>(__xos_image_start);
    return {start, reinterpret_cast<uintptr_t>(phys_to_virt(x86::g_ram_top)) - start};
}

const char* command_line() { return x86::g_cmdline; }

}  // namespace xos::platform
