// The PVH boot ABI's struct hvm_start_info (Xen's public/arch-x86/hvm/start_info.h) and the
// checks made on it before boot_info.cpp reads it: portable code, so that a host unit test
// (tests/unit/start_info_test.cpp) can hand it corrupt start infos.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::x86 {

struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;  // version >= 1
    uint32_t memmap_entries;
    uint32_t reserved;
};
struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
constexpr uint32_t HVM_START_MAGIC = 0x336ec578;
constexpr uint32_t HVM_MEMMAP_TYPE_RAM = 1;

constexpr size_t START_INFO_CMDLINE_MAX = 64 * 1024;  // with its NUL
constexpr uint32_t START_INFO_MAX_MEMMAP = 128;  // E820's usual limit; Xen and QEMU give < 10
constexpr uint32_t START_INFO_MAX_MODULES = 16;

// Physical memory [0, size) as the boot code can read it: at `base` (the direct map while
// pvh_entry.S's tables map the first GiB; a buffer in the unit test).
struct BootWindow {
    const unsigned char* base;
    uint64_t size;
};

// nullptr if the start info at physical `start_info` can be read (everything it points to lies
// in `window`, counts within limits, no range wraps, the memory map has RAM); else what is wrong.
// A version 0 start info, or one without a memory map, is fine (the caller falls back to CMOS).
const char* check_start_info(uint64_t start_info, BootWindow window);

}  // namespace xos::x86
