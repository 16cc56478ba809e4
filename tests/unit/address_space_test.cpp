#include "mm/address_space.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>

using namespace xos::mm;

namespace {

// 8 MiB of zeroed, page-aligned host memory standing in for RAM.
struct FakeRam {
    static constexpr size_t SIZE = 8 << 20;
    uint8_t* bytes = static_cast<uint8_t*>(std::aligned_alloc(PAGE_SIZE, SIZE));
    FakeRam() { memset(bytes, 0, SIZE); }
    ~FakeRam() { std::free(bytes); }
    uintptr_t base() const { return reinterpret_cast<uintptr_t>(bytes); }
};

struct AddressSpaceTest : testing::Test {
    FakeRam ram;
    std::unique_ptr<AddressSpace> space = std::make_unique<AddressSpace>();
    void SetUp() override {
        ASSERT_TRUE(space->add_free_memory(ram.base(), FakeRam::SIZE));
        space->place_break();
    }
};

}  // namespace

TEST_F(AddressSpaceTest, MapUnmapReturnsMemoryZeroed) {
    size_t free_before = space->free_bytes();
    auto a = space->map_anonymous(0, 10000, Placement::Anywhere);
    ASSERT_TRUE(a);
    EXPECT_EQ(space->free_bytes(), free_before - 3 * PAGE_SIZE);
    memset(reinterpret_cast<void*>(*a), 0xab, 10000);
    ASSERT_TRUE(space->unmap(*a, 10000));
    EXPECT_EQ(space->free_bytes(), free_before);
    auto b = space->map_anonymous(0, 10000, Placement::Anywhere);
    ASSERT_TRUE(b);
    for (size_t i = 0; i < 3 * PAGE_SIZE; ++i) ASSERT_EQ(reinterpret_cast<uint8_t*>(*b)[i], 0) << i;
}

TEST_F(AddressSpaceTest, PartialUnmapSplits) {
    auto a = space->map_anonymous(0, 4 * PAGE_SIZE, Placement::Anywhere);
    ASSERT_TRUE(a);
    ASSERT_TRUE(space->unmap(*a + PAGE_SIZE, PAGE_SIZE));
    EXPECT_TRUE(space->check_mapped(*a, PAGE_SIZE));
    EXPECT_FALSE(space->check_mapped(*a + PAGE_SIZE, PAGE_SIZE));
    EXPECT_TRUE(space->check_mapped(*a + 2 * PAGE_SIZE, 2 * PAGE_SIZE));
    EXPECT_EQ(space->unmap(*a + 1, PAGE_SIZE).error().code, EINVAL);
    EXPECT_EQ(space->unmap(*a, 0).error().code, EINVAL);
}

TEST_F(AddressSpaceTest, FixedPlacement) {
    auto a = space->map_anonymous(0, 2 * PAGE_SIZE, Placement::Anywhere);
    ASSERT_TRUE(a);
    reinterpret_cast<uint8_t*>(*a)[0] = 7;
    EXPECT_EQ(space->map_anonymous(*a, PAGE_SIZE, Placement::FixedNoReplace).error().code, EEXIST);
    auto again = space->map_anonymous(*a, PAGE_SIZE, Placement::Fixed);  // replaces: zero-filled
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *a);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(*a)[0], 0);
    EXPECT_EQ(space->map_anonymous(*a + 1, PAGE_SIZE, Placement::Fixed).error().code, EINVAL);
    // Outside managed memory (e.g. the image): refused.
    EXPECT_EQ(space->map_anonymous(ram.base() + FakeRam::SIZE, PAGE_SIZE, Placement::Fixed).error().code, ENOMEM);
}

TEST_F(AddressSpaceTest, RemapGrowsInPlaceOrMoves) {
    auto a = space->map_anonymous(0, PAGE_SIZE, Placement::Anywhere);
    ASSERT_TRUE(a);
    reinterpret_cast<uint8_t*>(*a)[10] = 42;
    auto grown = space->remap(*a, PAGE_SIZE, 3 * PAGE_SIZE, false);
    ASSERT_TRUE(grown);
    EXPECT_EQ(*grown, *a);
    auto blocker = space->map_anonymous(*a + 3 * PAGE_SIZE, PAGE_SIZE, Placement::Fixed);
    ASSERT_TRUE(blocker);
    EXPECT_EQ(space->remap(*a, 3 * PAGE_SIZE, 5 * PAGE_SIZE, false).error().code, ENOMEM);
    auto moved = space->remap(*a, 3 * PAGE_SIZE, 5 * PAGE_SIZE, true);
    ASSERT_TRUE(moved);
    EXPECT_NE(*moved, *a);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(*moved)[10], 42);
    EXPECT_FALSE(space->check_mapped(*a, PAGE_SIZE));
}

TEST_F(AddressSpaceTest, BreakGrowsAndShrinks) {
    uintptr_t base = space->set_break(0);
    ASSERT_NE(base, 0u);
    EXPECT_EQ(space->set_break(base + 100), base + 100);
    reinterpret_cast<uint8_t*>(base)[99] = 1;
    EXPECT_EQ(space->set_break(base + 3 * PAGE_SIZE), base + 3 * PAGE_SIZE);
    EXPECT_EQ(space->set_break(base + 50), base + 50);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(base)[99], 0);  // bytes above a lowered break are cleared
    EXPECT_EQ(space->set_break(base - PAGE_SIZE), base + 50);  // below the start: refused
    EXPECT_EQ(space->set_break(base + (1ull << 40)), base + 50);  // too big: unchanged
}

TEST_F(AddressSpaceTest, ManyCyclesDoNotLeak) {
    size_t free_before = space->free_bytes();
    for (int i = 0; i < 10000; ++i) {
        auto a = space->map_anonymous(0, (i % 7 + 1) * PAGE_SIZE, Placement::Anywhere);
        ASSERT_TRUE(a);
        ASSERT_TRUE(space->unmap(*a, (i % 7 + 1) * PAGE_SIZE));
    }
    EXPECT_EQ(space->free_bytes(), free_before);
}

TEST_F(AddressSpaceTest, OutOfMemoryIsAnError) {
    auto huge = space->map_anonymous(0, 64 << 20, Placement::Anywhere);
    ASSERT_FALSE(huge);
    EXPECT_EQ(huge.error().code, ENOMEM);
    EXPECT_EQ(space->map_anonymous(0, SIZE_MAX, Placement::Anywhere).error().code, ENOMEM);
    EXPECT_EQ(space->map_anonymous(0, 0, Placement::Anywhere).error().code, EINVAL);
}
