// The permission half of libos/base/user_ptr: which addresses are app memory (image regions by
// section, then the app-memory check), and the string copy's page-at-a-time walk. The fault-safe
// copy itself is exercised by tests/fuzz on the VM and hosted.
#include "base/user_ptr.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

using namespace xos;

namespace {

// A fake app region: [0x7000'0000'0000, +1 MiB) readable and writable, the rest nothing.
bool fake_app_memory(uintptr_t address, size_t size, int prot) {
    constexpr uintptr_t base = 0x700000000000, end = base + (1 << 20);
    return (prot & ~(PROT_READ | PROT_WRITE)) == 0 && address >= base && address + size <= end;
}

class UserPtrTest : public ::testing::Test {
protected:
    void SetUp() override {
        const UserRegion regions[] = {
            {0x100000, 0x120000, PROT_READ | PROT_EXEC},  // headers, rodata, text
            {0x120000, 0x121000, PROT_READ | PROT_WRITE},  // the app's data
            {0x130000, 0x131000, PROT_READ | PROT_WRITE},  // the app's bss (libos's data in between)
        };
        set_user_regions(regions);
        set_user_memory_check(fake_app_memory);
    }
    void TearDown() override {
        set_user_regions({});
        set_user_memory_check(nullptr);
    }
};

TEST_F(UserPtrTest, ImageRegionsBySection) {
    EXPECT_TRUE(user_range_ok(0x100000, 64));
    EXPECT_FALSE(user_range_writable(0x100000, 64));  // text and rodata: read only
    EXPECT_TRUE(user_range_writable(0x120000, 0x1000));
    EXPECT_FALSE(user_range_ok(0x121000, 16));  // libos's data and bss
    EXPECT_FALSE(user_range_writable(0x120ff0, 32));  // runs from the app's data into libos's
    EXPECT_TRUE(user_range_writable(0x130ff0, 16));
}

TEST_F(UserPtrTest, LowMemoryRamAndNonCanonicalAreNotAppMemory) {
    for (uintptr_t address : {uintptr_t(0x10), uintptr_t(0x1000), uintptr_t(0x200000), uintptr_t(0x8000000000000000)}) {
        EXPECT_FALSE(user_range_ok(address, 8)) << std::hex << address;
        EXPECT_FALSE(user_range_writable(address, 8)) << std::hex << address;
    }
    EXPECT_FALSE(user_range_ok(~uintptr_t(0) - 4, 16));  // wraps around
    EXPECT_TRUE(user_range_ok(0x10, 0));  // nothing touched
}

TEST_F(UserPtrTest, AppRegionGoesToTheMemoryCheck) {
    EXPECT_TRUE(user_range_writable(0x700000000000, 4096));
    EXPECT_FALSE(user_range_writable(0x700000000000 + (1 << 20) - 8, 16));
}

TEST_F(UserPtrTest, CopiesRefuseWhatTheCheckRefuses) {
    char buffer[16] = {};
    EXPECT_FALSE(copy_to_user(UserPtr<void>(0x100000), buffer, sizeof buffer));
    EXPECT_FALSE(copy_from_user(buffer, UserPtr<const void>(0x1000), sizeof buffer));
    EXPECT_EQ(copy_to_user(UserPtr<void>(0x100000), buffer, sizeof buffer).error().code, EFAULT);
}

TEST(UserString, StopsAtTheNulAndNeverCrossesIntoAnUnreadablePage) {
    // Two pages: the first readable, the second PROT_NONE; a string ending at the very end of
    // the first page must copy without touching the second.
    auto* pages = static_cast<char*>(mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(pages, MAP_FAILED);
    ASSERT_EQ(mprotect(pages + 4096, 4096, PROT_NONE), 0);
    char* text = pages + 4096 - 6;
    memcpy(text, "hello", 6);
    auto whole = [](uintptr_t address, size_t size, int) {
        return size <= 1 << 20 && address + size >= address;  // every address "mapped" for the check
    };
    set_user_memory_check(whole);
    char out[64];
    auto length = copy_string_from_user(out, UserPtr<const char>(reinterpret_cast<uintptr_t>(text)), sizeof out);
    ASSERT_TRUE(length);
    EXPECT_EQ(*length, 5u);
    EXPECT_STREQ(out, "hello");
    // No NUL within the capacity.
    memset(pages, 'x', 4096);
    auto too_long = copy_string_from_user(out, UserPtr<const char>(reinterpret_cast<uintptr_t>(pages)), sizeof out);
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code, ENAMETOOLONG);
    set_user_memory_check(nullptr);
    munmap(pages, 8192);
}

}  // namespace
