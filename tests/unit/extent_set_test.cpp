#include "mm/extent_set.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <set>

using xos::mm::ExtentSet;

TEST(ExtentSet, InsertCoalescesNeighbours) {
    auto set = std::make_unique<ExtentSet>();
    ASSERT_TRUE(set->insert(0x1000, 0x1000));
    ASSERT_TRUE(set->insert(0x3000, 0x1000));
    EXPECT_EQ(set->count(), 2u);
    ASSERT_TRUE(set->insert(0x2000, 0x1000));  // fills the gap: one extent
    EXPECT_EQ(set->count(), 1u);
    EXPECT_EQ((*set)[0].base, 0x1000u);
    EXPECT_EQ((*set)[0].size, 0x3000u);
    EXPECT_TRUE(set->contains(0x1000, 0x3000));
    EXPECT_FALSE(set->contains(0x1000, 0x4000));
}

TEST(ExtentSet, RemoveSplitsAndTrims) {
    auto set = std::make_unique<ExtentSet>();
    ASSERT_TRUE(set->insert(0x10000, 0x10000));
    ASSERT_TRUE(set->remove(0x14000, 0x1000));  // middle: split
    EXPECT_EQ(set->count(), 2u);
    EXPECT_EQ(set->total(), 0xf000u);
    ASSERT_TRUE(set->remove(0xf000, 0x2000));  // overlapping the head
    EXPECT_EQ((*set)[0].base, 0x11000u);
    ASSERT_TRUE(set->remove(0x13000, 0x3000));  // spans the hole
    EXPECT_EQ(set->total(), 0x2000u + 0xa000u);
    EXPECT_FALSE(set->intersects(0x13000, 0x3000));
    EXPECT_TRUE(set->intersects(0x12000, 0x2000));
}

TEST(ExtentSet, FirstFitHonoursAlignment) {
    auto set = std::make_unique<ExtentSet>();
    ASSERT_TRUE(set->insert(0x1000, 0x3000));
    ASSERT_TRUE(set->insert(0x200000, 0x400000));
    EXPECT_EQ(set->first_fit(0x2000, 0x1000), 0x1000u);
    EXPECT_EQ(set->first_fit(0x4000, 0x1000), 0x200000u);
    EXPECT_EQ(set->first_fit(0x1000, 0x400000), 0x400000u);
    EXPECT_FALSE(set->first_fit(0x1000000, 0x1000).has_value());
}

// Top-down placement (mmap without an address): the highest fit ending at or below the limit.
TEST(ExtentSet, LastFitPlacesTopDownBelowTheLimit) {
    auto set = std::make_unique<ExtentSet>();
    ASSERT_TRUE(set->insert(0x1000, 0x3000));  // 0x1000..0x4000
    ASSERT_TRUE(set->insert(0x200000, 0x400000));  // 0x200000..0x600000
    EXPECT_EQ(set->last_fit(0x2000, 0x1000, ~uintptr_t(0)), 0x5fe000u);
    EXPECT_EQ(set->last_fit(0x2000, 0x1000, 0x500000), 0x4fe000u);
    EXPECT_EQ(set->last_fit(0x1000, 0x400000, ~uintptr_t(0)), 0x400000u);
    EXPECT_EQ(set->last_fit(0x2000, 0x1000, 0x201000), 0x2000u);  // the upper run is too short there
    EXPECT_EQ(set->last_fit(0x3000, 0x1000, 0x4000), 0x1000u);
    EXPECT_FALSE(set->last_fit(0x3000, 0x1000, 0x3fff).has_value());
    EXPECT_FALSE(set->last_fit(0x1000000, 0x1000, ~uintptr_t(0)).has_value());
}

// Random inserts and removes checked against a page-granular model.
TEST(ExtentSet, MatchesModelUnderRandomOperations) {
    auto set = std::make_unique<ExtentSet>();
    std::set<uintptr_t> model;
    std::mt19937 rng(42);
    for (int step = 0; step < 20000; ++step) {
        uintptr_t page = rng() % 512, pages = 1 + rng() % 16;
        uintptr_t base = page * 4096, size = pages * 4096;
        if (rng() % 2) {
            bool free = true;
            for (uintptr_t p = page; p < page + pages; ++p) free &= !model.count(p);
            if (!free) continue;
            ASSERT_TRUE(set->insert(base, size));
            for (uintptr_t p = page; p < page + pages; ++p) model.insert(p);
        } else {
            ASSERT_TRUE(set->remove(base, size));
            for (uintptr_t p = page; p < page + pages; ++p) model.erase(p);
        }
        if (step % 97 == 0) {
            ASSERT_EQ(set->total(), model.size() * 4096);
            for (size_t i = 1; i < set->count(); ++i) ASSERT_LT((*set)[i - 1].end(), (*set)[i].base);
            for (uintptr_t p = 0; p < 528; ++p) ASSERT_EQ(set->contains(p * 4096, 4096), model.count(p) == 1);
        }
    }
}
