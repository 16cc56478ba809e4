// xos-run's terminal helpers (tools/xos-run/terminal.h): the escape that ends a run from the
// terminal and the framing of input for the VM's COM1 (platform/kvm/console.cpp decodes it).
#include "terminal.h"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string feed(EscapeDetector& detector, const std::string& input, bool& escaped) {
    std::string out;
    escaped = detector.feed(input.data(), input.size(), out);
    return out;
}

}  // namespace

TEST(XosRunTerminal, EscapeEndsTheRun) {
    EscapeDetector detector;
    bool escaped = false;
    EXPECT_EQ(feed(detector, "ab\x1d.cd", escaped), "ab");
    EXPECT_TRUE(escaped);
}

TEST(XosRunTerminal, EscapeAcrossReads) {
    EscapeDetector detector;
    bool escaped = false;
    EXPECT_EQ(feed(detector, "x\x1d", escaped), "x");
    EXPECT_FALSE(escaped);
    EXPECT_EQ(feed(detector, ".", escaped), "");
    EXPECT_TRUE(escaped);
}

TEST(XosRunTerminal, OtherBytesAfterTheEscapePass) {
    EscapeDetector detector;
    bool escaped = false;
    EXPECT_EQ(feed(detector, "\x1d\x1d", escaped), "\x1d");  // twice: one literal Ctrl-]
    EXPECT_EQ(feed(detector, "\x1dq.", escaped), "\x1dq.");
    EXPECT_FALSE(escaped);
}

TEST(XosRunTerminal, Framing) {
    std::string out;
    frame_input("a\xff"
                "b",
                3, out);
    EXPECT_EQ(out,
              std::string("a\xff\xff"
                          "b"));
    EXPECT_EQ(frame_end_of_input(),
              std::string("\xff"
                          "E"));
    EXPECT_EQ(frame_window_size(0x0102, 0x0304),
              std::string("\xff"
                          "W\x01\x02\x03\x04"));
    EXPECT_EQ(frame_start(),
              std::string("\xff"
                          "S\xff"
                          "S"));
}
