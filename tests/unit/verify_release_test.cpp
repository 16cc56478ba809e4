// The release form of libos/base/verify.h (Meson -Dassertions=disabled): ASSERT's expression is
// type-checked but never evaluated, so it costs nothing on hot paths; VERIFY still checks.
#undef XOS_ASSERTIONS
#define XOS_ASSERTIONS 0
#include "base/verify.h"

#include <gtest/gtest.h>

namespace {

int g_evaluations;
bool counted(bool value) {
    ++g_evaluations;
    return value;
}

TEST(VerifyRelease, AssertIsNotEvaluated) {
    g_evaluations = 0;
    ASSERT(counted(false));
    EXPECT_EQ(g_evaluations, 0);
}

TEST(VerifyRelease, VerifyStillChecks) {
    g_evaluations = 0;
    VERIFY(counted(true));
    EXPECT_EQ(g_evaluations, 1);
    EXPECT_EXIT(VERIFY(counted(false)), testing::ExitedWithCode(134), "VERIFY failed: counted\\(false\\)");
}

}  // namespace
