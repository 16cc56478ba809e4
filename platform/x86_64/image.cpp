// The image as the app sees it, shared by every x86_64 platform (kvm and hosted): where its
// program headers are (for AT_PHDR) and how control passes to musl's _start.
#include <cstdint>

#include "xos/platform.h"

extern "C" char __ehdr_start[];
extern "C" void _start();
extern "C" [[noreturn]] void xos_enter_app(void (*entry)(), uintptr_t stack_pointer);  // entry64.S

namespace xos::platform {

ImageInfo image_info() {
    struct Elf64Header {
        unsigned char ident[16];
        uint16_t type, machine;
        uint32_t version;
        uint64_t entry, phoff, shoff;
        uint32_t flags;
        uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
    };
    auto* header = reinterpret_cast<const Elf64Header*>(__ehdr_start);
    return {__ehdr_start + header->phoff, header->phnum, header->phentsize, &_start};
}

void enter_app(void (*entry)(), uintptr_t stack_pointer) { xos_enter_app(entry, stack_pointer); }

}  // namespace xos::platform
