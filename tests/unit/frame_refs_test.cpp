// The reference counts behind fork's copy on write (libos/mm/frame_refs.h).
#include "mm/frame_refs.h"

#include <gtest/gtest.h>

#include <vector>

namespace xos::mm {
namespace {

constexpr uintptr_t BASE = 0x100000, END = BASE + 64 * 4096;

struct Refs : ::testing::Test {
    std::vector<uint32_t> table = std::vector<uint32_t>(FrameRefs::table_entries(BASE, END));
    FrameRefs refs;
    void SetUp() override { refs.init(BASE, END, table.data()); }
};

TEST_F(Refs, AFreshFrameHasOneOwner) {
    EXPECT_FALSE(refs.shared(BASE));
    EXPECT_EQ(refs.count(BASE), 1u);
    EXPECT_TRUE(refs.unref(BASE));  // the last (only) reference: the caller frees it
    EXPECT_EQ(refs.shared_frames(), 0u);
}

TEST_F(Refs, SharedUntilTheLastButOneDrops) {
    uintptr_t frame = BASE + 5 * 4096;
    ASSERT_TRUE(refs.ref(frame));  // fork: parent and child
    ASSERT_TRUE(refs.ref(frame));  // a second fork
    EXPECT_TRUE(refs.shared(frame));
    EXPECT_EQ(refs.count(frame), 3u);
    EXPECT_EQ(refs.shared_frames(), 1u);
    EXPECT_FALSE(refs.unref(frame));
    EXPECT_FALSE(refs.unref(frame));
    EXPECT_FALSE(refs.shared(frame));  // one owner left: a write makes it writable, no copy
    EXPECT_EQ(refs.shared_frames(), 0u);
    EXPECT_TRUE(refs.unref(frame));
    EXPECT_FALSE(refs.shared(BASE + 4 * 4096));  // neighbours untouched
    EXPECT_FALSE(refs.shared(BASE + 6 * 4096));
}

TEST_F(Refs, FramesOutsideTheTableCannotBeShared) {
    EXPECT_FALSE(refs.ref(BASE - 4096));
    EXPECT_FALSE(refs.ref(END));
    EXPECT_FALSE(refs.shared(END));
    EXPECT_TRUE(refs.unref(END));  // never counted: always the last reference
}

TEST_F(Refs, SaturatedCountRefusesToShare) {
    table[3] = UINT32_MAX;
    EXPECT_FALSE(refs.ref(BASE + 3 * 4096));
}

TEST(FrameRefsUninitialized, NothingIsShared) {
    FrameRefs refs;
    EXPECT_FALSE(refs.ref(0x1000));
    EXPECT_TRUE(refs.unref(0x1000));
    EXPECT_FALSE(refs.shared(0x1000));
}

}  // namespace
}  // namespace xos::mm
