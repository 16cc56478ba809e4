#include "sys/syscall_table.h"

#include <asm/unistd_64.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

using namespace xos::sys;

TEST(SyscallTable, NumbersMatchTheLinuxABI) {
    EXPECT_EQ(syscall_number("read"), __NR_read);
    EXPECT_EQ(syscall_number("write"), __NR_write);
    EXPECT_EQ(syscall_number("mmap"), __NR_mmap);
    EXPECT_EQ(syscall_number("arch_prctl"), __NR_arch_prctl);
    EXPECT_EQ(syscall_number("exit_group"), __NR_exit_group);
    EXPECT_EQ(syscall_number("clock_gettime"), __NR_clock_gettime);
    EXPECT_EQ(syscall_number("getrandom"), __NR_getrandom);
    EXPECT_EQ(syscall_number("futex_waitv"), __NR_futex_waitv);
    EXPECT_EQ(syscall_number("no_such_call"), -1);
}

TEST(SyscallTable, NamesAreUniqueAndPartialEntriesExplainThemselves) {
    std::set<std::string> names;
    int implemented = 0;
    for (size_t n = 0; n < SYSCALL_COUNT; ++n) {
        const SyscallInfo& info = syscall_info[n];
        if (!info.name) continue;
        EXPECT_TRUE(names.insert(info.name).second) << "duplicate " << info.name;
        if (info.support == Support::Partial) {
            EXPECT_GT(strlen(info.note), 0u) << info.name;
        }
        if (info.support != Support::None) ++implemented;
    }
    EXPECT_GT(names.size(), 350u);  // the whole x86_64 table is listed
    EXPECT_GE(implemented, 40);
}

TEST(SyscallTable, HelloWorldSetIsImplemented) {
    for (const char* name :
         {"write", "writev", "ioctl", "brk", "mmap", "munmap", "arch_prctl", "set_tid_address", "rt_sigprocmask",
          "exit", "exit_group", "getpid", "gettid", "uname", "clock_gettime", "getrandom"}) {
        long n = syscall_number(name);
        ASSERT_GE(n, 0) << name;
        EXPECT_NE(syscall_info[size_t(n)].support, Support::None) << name;
    }
}
