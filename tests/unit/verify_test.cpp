// VERIFY/ASSERT (libos/base/verify.h) with assertions on, as libos is built by default: a failed
// check ends the process with status 134 and a report naming the expression, file:line and
// function; a passing one evaluates its expression once and does nothing else. The image tests
// verify-* check the same on the real panic path (backtrace, the VM's exit status).
#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "base/intrusive_list.h"
#include "base/verify.h"

// The kernel's panic() (libos/base/klog.cpp) prints through the platform and leaves the
// machine with status 134; on the host, stderr and exit status 134 stand in for both.
namespace xos {
void panic(const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::fputs("xos: panic: ", stderr);
    std::vfprintf(stderr, format, args);
    std::fputc('\n', stderr);
    va_end(args);
    std::_Exit(134);
}
}  // namespace xos

namespace {

int g_evaluations;
bool counted(bool value) {
    ++g_evaluations;
    return value;
}

TEST(Verify, PassingCheckEvaluatesOnceAndContinues) {
    g_evaluations = 0;
    VERIFY(counted(true));
    ASSERT(counted(true));
    EXPECT_EQ(g_evaluations, 2);
}

TEST(Verify, FailedVerifyReportsExpressionLocationAndExits134) {
    int interrupts_off = 0;
    EXPECT_EXIT(VERIFY(interrupts_off == 1), testing::ExitedWithCode(134),
                "VERIFY failed: interrupts_off == 1 at .*tests/unit/verify_test.cpp:[0-9]+ in TestBody\\(\\)");
}

TEST(Verify, FailedAssertReportsLikeVerifyWhenAssertionsAreOn) {
    static_assert(XOS_ASSERTIONS == 1, "the unit tests build libos's checks in");
    EXPECT_EXIT(ASSERT(1 + 1 == 3), testing::ExitedWithCode(134), "VERIFY failed: 1 \\+ 1 == 3 at ");
}

TEST(Verify, NotReachedAlwaysFails) {
    EXPECT_EXIT(VERIFY_NOT_REACHED(), testing::ExitedWithCode(134), "VERIFY failed: not reached at ");
}

TEST(Verify, ReportStripsTheBuildDirectoryPrefix) {
    EXPECT_EXIT(xos::verify_failed("x", "../../libos/sched/scheduler.cpp", 7, "f"), testing::ExitedWithCode(134),
                "VERIFY failed: x at libos/sched/scheduler.cpp:7 in f\\(\\)");
}

// A real precondition in libos/base: an element is on one intrusive list at a time.
struct Item {
    xos::IntrusiveListNode node;
};

TEST(Verify, IntrusiveListRefusesAnElementThatIsAlreadyLinked) {
    xos::IntrusiveList<Item, &Item::node> first, second;
    Item item;
    first.push_back(item);
    EXPECT_EXIT(second.push_back(item), testing::ExitedWithCode(134), "VERIFY failed: !node.is_linked\\(\\)");
    decltype(first)::remove(item);
    second.push_back(item);  // fine once unlinked
    EXPECT_EQ(second.front(), &item);
    decltype(second)::remove(item);
}

}  // namespace
