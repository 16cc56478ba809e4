// The image as the app sees it, shared by every x86_64 platform (kvm and hosted): where its
// program headers are (for AT_PHDR), which parts of it the app may pass to syscalls, and how
// control passes to musl's _start.
#include <cstdint>

#include "xos/platform.h"

extern "C" char __ehdr_start[];
// The linker script's section boundaries: [image_start, text_end) is read-only (headers,
// constants, code), [text_end, libos_data_start) the TLS image and relocated constants (read-only
// in practice), libos's (and the platform's) data in [libos_data_start, libos_data_end), the app's
// per-process data and bss in [app_data_start, app_data_end), libos's bss after it.
extern "C" char __xos_image_start[], __xos_text_end[], __xos_libos_data_start[], __xos_app_data_start[],
    __xos_app_bss_start[], __xos_app_data_end[];
extern "C" void _start();
extern "C" [[noreturn]] void xos_enter_app(void (*entry)(), uintptr_t stack_pointer);  // entry64.S
extern "C" [[noreturn]] void xos_resume_clone(const uint64_t* frame, uintptr_t stack_pointer);  // entry64.S

// clang_rt's crtbegin.o calls these through weak references, PC-relative, when they exist; left
// undefined they would be 0, out of reach of an image linked above 2 GiB. There is no frame
// registry to tell (libunwind finds .eh_frame through .eh_frame_hdr), so they do nothing; weak, so
// that a real one (musl's __cxa_finalize, also a no-op) wins.
extern "C" [[gnu::weak]] void __register_frame_info(const void*, void*) {}
extern "C" [[gnu::weak]] void* __deregister_frame_info(const void*) { return nullptr; }
extern "C" [[gnu::weak]] void __cxa_finalize(void*) {}

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

std::span<const ImageRegion> app_image_regions() {
    // The app's data and bss are not among them: they are per-process memory
    // (process_data_range), which the process's own mappings describe.
    static ImageRegion regions[2];
    auto at = [](char* symbol) { return reinterpret_cast<uintptr_t>(symbol); };
    regions[0] = {at(__xos_text_end), at(__xos_libos_data_start), PAGE_READ | PAGE_WRITE};
    regions[1] = {at(__xos_image_start), at(__xos_text_end), PAGE_READ | PAGE_EXEC};
    return regions;
}

ProcessDataRange process_data_range() {
    auto at = [](char* symbol) { return reinterpret_cast<uintptr_t>(symbol); };
    return {at(__xos_app_data_start), at(__xos_app_bss_start), at(__xos_app_data_end)};
}

void enter_app(void (*entry)(), uintptr_t stack_pointer) { xos_enter_app(entry, stack_pointer); }

void resume_cloned_thread(const uint64_t* frame, uintptr_t stack_pointer) { xos_resume_clone(frame, stack_pointer); }

}  // namespace xos::platform
