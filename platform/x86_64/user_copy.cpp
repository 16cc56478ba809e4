#include "user_copy.h"

#include <cstddef>

#include "xos/platform.h"

namespace {

struct ExceptionTableEntry {
    uintptr_t instruction;
    uintptr_t fixup;
};

}  // namespace

// The linker script keeps .xos_extable between these two symbols.
extern "C" const ExceptionTableEntry __xos_extable_start[], __xos_extable_end[];

namespace xos::x86 {

uintptr_t user_copy_fixup(uintptr_t rip) {
    for (const ExceptionTableEntry* entry = __xos_extable_start; entry < __xos_extable_end; ++entry)
        if (entry->instruction == rip) return entry->fixup;
    return 0;
}

}  // namespace xos::x86
