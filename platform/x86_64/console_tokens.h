// What the kernel command line says of the console, shared by the KVM and Xen consoles: xos-run
// describes its stdio there (docs/host-guest-interface.md, "Console").
#pragma once

#include <cstddef>

#include "xos/platform.h"

namespace xos::x86 {

// The value of the command-line token `key` ("xos.stdio="), up to the next space (its length in
// `length`); null if the command line has none (or there is no command line yet).
const char* command_line_token(const char* key, size_t& length);

// xos.stdio=<in><out><err> (each t terminal, p pipe, f file, o other) and
// xos.winsize=<rows>x<cols>; without them (another VMM) nothing is a terminal.
struct ConsoleTokens {
    bool framed = false;  // xos.stdio= is there: xos-run frames the console input
    platform::StdioKinds kinds;
    platform::ConsoleSize size;
};
ConsoleTokens console_tokens();

// console_tokens() parsed on first use (the console starts before the command line exists, so
// call it only once boot_info is parsed) and kept: what the KVM and Xen consoles answer for
// console_stdio() and console_size(). The size is the console's to change (a resize message).
ConsoleTokens& console_state();

}  // namespace xos::x86
