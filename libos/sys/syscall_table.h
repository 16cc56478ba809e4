// The syscall table, generated at compile time from syscall_list.h. Portable (host tools and
// unit tests use the names and support levels; only the dispatcher uses the handlers).
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace xos::sys {

enum class Support { None, Partial, Full };

constexpr size_t SYSCALL_COUNT = 512;  // x86_64 numbers are below this

struct SyscallInfo {
    const char* name = nullptr;  // nullptr: the number does not exist on x86_64 Linux
    Support support = Support::None;
    const char* note = "";
};

constexpr std::array<SyscallInfo, SYSCALL_COUNT> make_syscall_info() {
    std::array<SyscallInfo, SYSCALL_COUNT> table{};
#define XOS_SYSCALL(number, name, support, note) table[number] = {#name, Support::support, note};
#define XOS_SYSCALL_NONE(number, name, note) table[number] = {#name, Support::None, note};
#include "sys/syscall_list.h"
#undef XOS_SYSCALL
#undef XOS_SYSCALL_NONE
    return table;
}

inline constexpr auto syscall_info = make_syscall_info();

constexpr const char* syscall_name(long number) {
    if (number < 0 || size_t(number) >= SYSCALL_COUNT || !syscall_info[size_t(number)].name) return nullptr;
    return syscall_info[size_t(number)].name;
}

constexpr long syscall_number(std::string_view name) {
    for (size_t i = 0; i < SYSCALL_COUNT; ++i)
        if (syscall_info[i].name && name == syscall_info[i].name) return long(i);
    return -1;
}

}  // namespace xos::sys
