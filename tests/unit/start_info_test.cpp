// platform/x86_64/start_info.cpp: hvm_start_info as Xen's toolstack or QEMU's PVH loader lays it
// out (a start info, a command line, a memory map and a module in "physical memory", here a
// buffer standing for the first GiB), then each kind of corruption: the boot code must refuse
// it with a message (parse_boot_info then panics with 134) instead of reading out of bounds.
#include "start_info.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

using xos::x86::BootWindow;
using xos::x86::check_start_info;
using xos::x86::HvmMemmapEntry;
using xos::x86::HvmModlistEntry;
using xos::x86::HvmStartInfo;

namespace {

constexpr uint64_t INFO = 0x1000, CMDLINE = 0x2000, MEMMAP = 0x3000, MODLIST = 0x4000;
constexpr uint64_t WINDOW = 0x10000;

struct Boot {
    std::vector<unsigned char> memory = std::vector<unsigned char>(WINDOW);
    HvmStartInfo info{};

    Boot() {
        info.magic = xos::x86::HVM_START_MAGIC;
        info.version = 1;
        info.cmdline_paddr = CMDLINE;
        info.memmap_paddr = MEMMAP;
        info.memmap_entries = 3;
        const char* cmdline = "xos.argv0=hello xos.arg=first";
        memcpy(&memory[CMDLINE], cmdline, strlen(cmdline) + 1);
        // What Xen gives a 128 MiB PVH guest: RAM from 0, ACPI, the special pages.
        HvmMemmapEntry map[3] = {{0, 128 << 20, 1, 0}, {0xfc000000, 0x1000, 3, 0}, {0xfeff8000, 0x8000, 2, 0}};
        memcpy(&memory[MEMMAP], map, sizeof map);
    }
    void memmap(uint32_t index, HvmMemmapEntry entry) {
        memcpy(&memory[MEMMAP + index * sizeof entry], &entry, sizeof entry);
    }
    // The checker's answer ("" when it accepts).
    std::string check(uint64_t at = INFO, uint64_t window = WINDOW) {
        memcpy(&memory[INFO], &info, sizeof info);
        const char* problem = check_start_info(at, BootWindow{memory.data(), window});
        return problem ? problem : "";
    }
};

TEST(StartInfo, AcceptsWhatXenAndQemuGive) {
    Boot boot;
    EXPECT_EQ(boot.check(), "");
    boot.info.nr_modules = 1;  // a ramdisk
    boot.info.modlist_paddr = MODLIST;
    HvmModlistEntry module{0x8000, 0x1000, 0, 0};
    memcpy(&boot.memory[MODLIST], &module, sizeof module);
    EXPECT_EQ(boot.check(), "");
    boot.info.cmdline_paddr = 0;  // no command line
    EXPECT_EQ(boot.check(), "");
}

TEST(StartInfo, NoMemoryMapIsLegacyNotAnError) {
    Boot boot;
    boot.info.version = 0;  // the memory-map fields do not exist: CMOS is asked
    boot.info.memmap_paddr = 0xdeadbeef000;
    boot.info.memmap_entries = 99999;
    EXPECT_EQ(boot.check(), "");
    boot.info.version = 1;
    boot.info.memmap_paddr = 0;
    boot.info.memmap_entries = 0;
    EXPECT_EQ(boot.check(), "");
}

TEST(StartInfo, StartInfoItself) {
    Boot boot;
    EXPECT_EQ(boot.check(0), "no hvm_start_info (not started through PVH)");
    EXPECT_EQ(boot.check(WINDOW - 8), "hvm_start_info is outside the first GiB");
    EXPECT_EQ(boot.check(~0ull - 4), "hvm_start_info is outside the first GiB");
    boot.info.magic = 0x336ec579;
    EXPECT_EQ(boot.check(), "bad hvm_start_info magic");
    boot.info.magic = 0;
    EXPECT_EQ(boot.check(), "bad hvm_start_info magic");
}

TEST(StartInfo, CommandLine) {
    Boot boot;
    boot.info.cmdline_paddr = WINDOW;
    EXPECT_EQ(boot.check(), "the command line is outside the first GiB");
    boot.info.cmdline_paddr = ~0ull;
    EXPECT_EQ(boot.check(), "the command line is outside the first GiB");
    // No NUL before the end of the window.
    boot.info.cmdline_paddr = WINDOW - 16;
    memset(&boot.memory[WINDOW - 16], 'x', 16);
    EXPECT_EQ(boot.check(), "the command line runs past the first GiB");
    // 64 KiB without a NUL in a larger window.
    Boot big;
    big.memory.assign(4 * WINDOW, 0);
    big.info.memmap_paddr = 0;
    big.info.memmap_entries = 0;
    big.info.cmdline_paddr = WINDOW;
    memset(&big.memory[WINDOW], 'y', xos::x86::START_INFO_CMDLINE_MAX);
    EXPECT_EQ(big.check(INFO, 4 * WINDOW), "the command line is longer than 65535 bytes");
    big.memory[WINDOW + xos::x86::START_INFO_CMDLINE_MAX - 1] = 0;  // 65535 bytes and its NUL
    EXPECT_EQ(big.check(INFO, 4 * WINDOW), "");
}

TEST(StartInfo, MemoryMap) {
    Boot boot;
    boot.info.memmap_entries = 0;
    EXPECT_EQ(boot.check(), "the memory map has no entries");
    boot.info.memmap_entries = 129;
    EXPECT_EQ(boot.check(), "the memory map has too many entries (more than 128)");
    boot.info.memmap_entries = 0xffffffff;
    EXPECT_EQ(boot.check(), "the memory map has too many entries (more than 128)");
    boot.info.memmap_entries = 3;
    boot.info.memmap_paddr = 0;
    EXPECT_EQ(boot.check(), "the memory map has entries but no address");
    boot.info.memmap_paddr = WINDOW - 2 * sizeof(HvmMemmapEntry);  // 2 of the 3 entries inside
    EXPECT_EQ(boot.check(), "the memory map is outside the first GiB");
    boot.info.memmap_paddr = 1ull << 40;
    EXPECT_EQ(boot.check(), "the memory map is outside the first GiB");
    boot.info.memmap_paddr = ~0ull - 8;
    EXPECT_EQ(boot.check(), "the memory map is outside the first GiB");

    Boot wraps;
    wraps.memmap(1, {0xfffffffffffff000, 0x2000, 1, 0});
    EXPECT_EQ(wraps.check(), "a memory map entry wraps around");

    Boot no_ram;
    no_ram.memmap(0, {0, 128 << 20, 2, 0});  // reserved, not RAM
    EXPECT_EQ(no_ram.check(), "the memory map has no RAM");
    no_ram.memmap(0, {0, 0, 1, 0});  // RAM of size 0
    EXPECT_EQ(no_ram.check(), "the memory map has no RAM");
}

TEST(StartInfo, Modules) {
    Boot boot;
    boot.info.nr_modules = 17;
    boot.info.modlist_paddr = MODLIST;
    EXPECT_EQ(boot.check(), "too many modules (more than 16)");
    boot.info.nr_modules = 1;
    boot.info.modlist_paddr = 0;
    EXPECT_EQ(boot.check(), "the module list is outside the first GiB");
    boot.info.modlist_paddr = WINDOW - 8;
    EXPECT_EQ(boot.check(), "the module list is outside the first GiB");
    boot.info.modlist_paddr = MODLIST;
    HvmModlistEntry module{0xfffffffffffff000, 0x2000, 0, 0};
    memcpy(&boot.memory[MODLIST], &module, sizeof module);
    EXPECT_EQ(boot.check(), "a module's range wraps around");
}

}  // namespace
