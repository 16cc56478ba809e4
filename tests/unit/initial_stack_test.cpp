#include "boot/initial_stack.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace xos::boot;

namespace {

const uint64_t* find_aux(const uint64_t* auxv, uint64_t tag) {
    for (; auxv[0] != AT_NULL; auxv += 2)
        if (auxv[0] == tag) return &auxv[1];
    return nullptr;
}

}  // namespace

TEST(InitialStack, LinuxLayout) {
    std::vector<uint8_t> memory(64 * 1024);
    uintptr_t low = reinterpret_cast<uintptr_t>(memory.data());
    uintptr_t high = low + memory.size();
    const char* argv[] = {"app.xos", "one", "two words", ""};
    const char* envp[] = {"A=1", "EMPTY="};
    const AuxEntry aux[] = {{AT_PAGESZ, 4096}, {AT_PHNUM, 9}};
    const uint8_t random[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    InitialStackSpec spec{argv, envp, aux, &random, "x86_64"};

    auto sp = build_initial_stack(low, high, spec);
    ASSERT_TRUE(sp);
    EXPECT_EQ(*sp % 16, 0u);
    ASSERT_GE(*sp, low);
    ASSERT_LT(*sp, high);

    auto* words = reinterpret_cast<const uint64_t*>(*sp);
    ASSERT_EQ(words[0], 4u);
    auto* out_argv = reinterpret_cast<char* const*>(words + 1);
    for (int i = 0; i < 4; ++i) EXPECT_STREQ(out_argv[i], argv[i]);
    EXPECT_EQ(out_argv[4], nullptr);
    auto* out_envp = out_argv + 5;
    EXPECT_STREQ(out_envp[0], "A=1");
    EXPECT_STREQ(out_envp[1], "EMPTY=");
    EXPECT_EQ(out_envp[2], nullptr);
    auto* auxv = reinterpret_cast<const uint64_t*>(out_envp + 3);
    ASSERT_NE(find_aux(auxv, AT_PAGESZ), nullptr);
    EXPECT_EQ(*find_aux(auxv, AT_PAGESZ), 4096u);
    EXPECT_EQ(*find_aux(auxv, AT_PHNUM), 9u);
    auto* random_at = find_aux(auxv, AT_RANDOM);
    ASSERT_NE(random_at, nullptr);
    EXPECT_EQ(memcmp(reinterpret_cast<const void*>(*random_at), random, 16), 0);
    EXPECT_STREQ(reinterpret_cast<const char*>(*find_aux(auxv, AT_PLATFORM)), "x86_64");
    EXPECT_STREQ(reinterpret_cast<const char*>(*find_aux(auxv, AT_EXECFN)), "app.xos");
    // Everything lies inside the given memory.
    for (int i = 0; i < 4; ++i) {
        EXPECT_GE(reinterpret_cast<uintptr_t>(out_argv[i]), low);
        EXPECT_LT(reinterpret_cast<uintptr_t>(out_argv[i]), high);
    }
}

TEST(InitialStack, TooSmallIsE2BIG) {
    std::vector<uint8_t> memory(256);
    uintptr_t low = reinterpret_cast<uintptr_t>(memory.data());
    std::string long_arg(1000, 'x');
    const char* argv[] = {"app", long_arg.c_str()};
    const uint8_t random[16] = {};
    InitialStackSpec spec{argv, {}, {}, &random, "x86_64"};
    auto sp = build_initial_stack(low, low + memory.size(), spec);
    ASSERT_FALSE(sp);
    EXPECT_EQ(sp.error().code, E2BIG);
}

TEST(InitialStack, ExecfnIsThePathGivenToExec) {
    std::vector<uint8_t> memory(16 * 1024);
    uintptr_t low = reinterpret_cast<uintptr_t>(memory.data());
    const char* argv[] = {"ls", "-l"};
    const uint8_t random[16] = {};
    InitialStackSpec spec{argv, {}, {}, &random, "x86_64", "/usr/bin/ls"};
    auto sp = build_initial_stack(low, low + memory.size(), spec);
    ASSERT_TRUE(sp);
    auto* words = reinterpret_cast<const uint64_t*>(*sp);
    const uint64_t* auxv = words + 1 + 2 + 1 + 0 + 1;  // argc, argv, NULL, envp NULL
    const uint64_t* execfn = find_aux(auxv, AT_EXECFN);
    ASSERT_NE(execfn, nullptr);
    EXPECT_STREQ(reinterpret_cast<const char*>(*execfn), "/usr/bin/ls");
}
