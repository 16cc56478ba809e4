// The vDSO libos maps into every program it loads (libos/exec): a small ELF shared object built
// with the image (vdso_image.c) and a data page below it whose pointers lead into libos (vvar.h).
// Its address goes to the program in AT_SYSINFO_EHDR. See docs/vdso.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"

namespace xos::mm {
class VirtualMemory;
}

namespace xos::vdso {

struct Mapping {
    uintptr_t start = 0;  // the vvar page
    size_t size = 0;  // the vvar page and the image's pages
    uintptr_t image = 0;  // the image's ELF header: AT_SYSINFO_EHDR
};

// Maps the vvar page (read-only) and the image (read+exec) wherever `memory` places them (no
// fixed address) and fills the vvar page.
ErrorOr<Mapping> map_into(mm::VirtualMemory& memory);
void unmap(mm::VirtualMemory& memory, const Mapping& mapping);

}  // namespace xos::vdso
