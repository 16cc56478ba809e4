// The checks on hvm_start_info (start_info.h) before anything it points to is read.
#include "start_info.h"

#include <cstring>

namespace xos::x86 {

namespace {

// [paddr, paddr + size) lies in the window (and does not wrap).
bool inside(BootWindow window, uint64_t paddr, uint64_t size) {
    return paddr <= window.size && size <= window.size - paddr;
}

}  // namespace

const char* check_start_info(uint64_t start_info, BootWindow window) {
    if (!start_info) return "no hvm_start_info (not started through PVH)";
    if (!inside(window, start_info, sizeof(HvmStartInfo))) return "hvm_start_info is outside the first GiB";
    HvmStartInfo info;
    memcpy(&info, window.base + start_info, sizeof info);
    if (info.magic != HVM_START_MAGIC) return "bad hvm_start_info magic";

    if (info.cmdline_paddr) {
        if (!inside(window, info.cmdline_paddr, 1)) return "the command line is outside the first GiB";
        uint64_t room = window.size - info.cmdline_paddr;
        size_t limit = room < START_INFO_CMDLINE_MAX ? size_t(room) : START_INFO_CMDLINE_MAX;
        const void* nul = memchr(window.base + info.cmdline_paddr, 0, limit);
        if (!nul) {
            return limit == START_INFO_CMDLINE_MAX ? "the command line is longer than 65535 bytes"
                                                   : "the command line runs past the first GiB";
        }
    }

    if (info.nr_modules) {
        if (info.nr_modules > START_INFO_MAX_MODULES) return "too many modules (more than 16)";
        if (!info.modlist_paddr ||
            !inside(window, info.modlist_paddr, uint64_t(info.nr_modules) * sizeof(HvmModlistEntry)))
            return "the module list is outside the first GiB";
        for (uint32_t i = 0; i < info.nr_modules; ++i) {
            HvmModlistEntry module;
            memcpy(&module, window.base + info.modlist_paddr + i * sizeof module, sizeof module);
            if (module.paddr + module.size < module.paddr) return "a module's range wraps around";
        }
    }

    if (info.version == 0 || (!info.memmap_paddr && !info.memmap_entries)) return nullptr;  // no memory map
    if (!info.memmap_entries) return "the memory map has no entries";
    if (!info.memmap_paddr) return "the memory map has entries but no address";
    if (info.memmap_entries > START_INFO_MAX_MEMMAP) return "the memory map has too many entries (more than 128)";
    if (!inside(window, info.memmap_paddr, uint64_t(info.memmap_entries) * sizeof(HvmMemmapEntry)))
        return "the memory map is outside the first GiB";
    bool ram = false;
    for (uint32_t i = 0; i < info.memmap_entries; ++i) {
        HvmMemmapEntry entry;
        memcpy(&entry, window.base + info.memmap_paddr + i * sizeof entry, sizeof entry);
        if (entry.addr + entry.size < entry.addr) return "a memory map entry wraps around";
        ram |= entry.type == HVM_MEMMAP_TYPE_RAM && entry.size;
    }
    if (!ram) return "the memory map has no RAM";
    return nullptr;
}

}  // namespace xos::x86
