// Writes docs/syscalls.md from the one syscall list (libos/sys/syscall_list.h).
//   gen-syscall-docs            print the document
//   gen-syscall-docs --write F  write it to F
//   gen-syscall-docs --check F  exit 1 (with a hint) if F is not up to date
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "sys/syscall_table.h"

using namespace xos::sys;

namespace {

std::string render() {
    std::ostringstream out;
    int full = 0, partial = 0, none = 0;
    for (const SyscallInfo& info : syscall_info) {
        if (!info.name) continue;
        if (info.support == Support::Full)
            ++full;
        else if (info.support == Support::Partial)
            ++partial;
        else
            ++none;
    }
    out << "# Linux syscalls in xos\n\n"
        << "Generated from `libos/sys/syscall_list.h` by `tools/syscall-docs` "
        << "(`meson compile -C build syscall-docs`); do not edit by hand.\n\n"
        << "xos implements the x86_64 Linux syscall ABI as function calls: musl calls `xos_syscall()`, and a "
           "`syscall` instruction in prebuilt code reaches the same table. A number not implemented returns "
           "`-ENOSYS` and is logged once on the console.\n\n"
        << "Implemented: **" << full << "** fully, **" << partial << "** partially; **" << none
        << "** return `-ENOSYS`.\n\n"
        << "## Implemented\n\n| # | syscall | support | notes |\n|---|---|---|---|\n";
    for (size_t n = 0; n < SYSCALL_COUNT; ++n) {
        const SyscallInfo& info = syscall_info[n];
        if (!info.name || info.support == Support::None) continue;
        out << "| " << n << " | `" << info.name << "` | " << (info.support == Support::Full ? "full" : "partial")
            << " | " << info.note << " |\n";
    }
    out << "\n## Not implemented (`-ENOSYS`)\n\n";
    bool first = true;
    for (size_t n = 0; n < SYSCALL_COUNT; ++n) {
        const SyscallInfo& info = syscall_info[n];
        if (!info.name || info.support != Support::None) continue;
        out << (first ? "" : ", ") << "`" << info.name << "` (" << n << ")";
        first = false;
    }
    out << "\n";
    return out.str();
}

}  // namespace

int main(int argc, char** argv) {
    std::string doc = render();
    if (argc == 1) {
        std::cout << doc;
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--write")) {
        std::ofstream(argv[2]) << doc;
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--check")) {
        std::ifstream in(argv[2]);
        std::stringstream current;
        current << in.rdbuf();
        if (current.str() == doc) return 0;
        std::cerr << argv[2] << " is out of date with libos/sys/syscall_list.h; regenerate it with "
                  << "`meson compile -C build syscall-docs`\n";
        return 1;
    }
    std::cerr << "usage: gen-syscall-docs [--write FILE | --check FILE]\n";
    return 2;
}
