// Fault-safe copies to and from app memory (user_copy.S): where a faulting instruction inside
// a user copy continues. Shared by the VM trap handler and the hosted SIGSEGV handler.
#pragma once

#include <cstdint>

namespace xos::x86 {

// The fixup address for a fault at `rip` if `rip` is a user-copy instruction, else 0.
uintptr_t user_copy_fixup(uintptr_t rip);

}  // namespace xos::x86
