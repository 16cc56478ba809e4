// The host's vDSO (AT_SYSINFO_EHDR): its __vdso_clock_gettime reads the host's clocks without a
// syscall (~20-50 ns instead of a few hundred, much more under nested virtualization). Found by
// walking the vDSO's ELF program headers, dynamic section and DT_HASH symbol table (the layout
// Linux documents in Documentation/ABI/stable/vdso and tools/testing/selftests/vDSO).
//
// When the host's clock source cannot be read from user space the vDSO falls back to a
// clock_gettime syscall from its own code: the seccomp filter allows clock_gettime from the
// vDSO's text (seccomp.cpp), which is why the vDSO is used only if its text range can be
// expressed in the filter (within one 4 GiB-aligned block).
#include <cstring>

#include "hosted/host.h"

namespace xos::hosted {

namespace {

struct Elf64Ehdr {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Elf64Phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
struct Elf64Dyn {
    int64_t tag;
    uint64_t value;
};
struct Elf64Sym {
    uint32_t name;
    unsigned char info, other;
    uint16_t shndx;
    uint64_t value, size;
};

constexpr uint32_t PT_LOAD = 1, PT_DYNAMIC = 2;
constexpr int64_t DT_NULL = 0, DT_HASH = 4, DT_STRTAB = 5, DT_SYMTAB = 6;
constexpr unsigned STT_FUNC = 2, STB_GLOBAL = 1, STB_WEAK = 2;

using ClockGettime = int (*)(int clock, void* timespec);
ClockGettime g_clock_gettime;
uintptr_t g_text_begin, g_text_end;

}  // namespace

void init_vdso(uintptr_t base) {
    if (!base) return;
    const auto* ehdr = reinterpret_cast<const Elf64Ehdr*>(base);
    if (memcmp(ehdr->ident,
               "\x7f"
               "ELF",
               4) != 0 ||
        ehdr->ident[4] != 2 /* ELFCLASS64 */ || ehdr->phentsize != sizeof(Elf64Phdr))
        return;
    const auto* phdrs = reinterpret_cast<const Elf64Phdr*>(base + ehdr->phoff);
    const Elf64Phdr* load = nullptr;
    const Elf64Phdr* dynamic = nullptr;
    for (uint16_t i = 0; i < ehdr->phnum; ++i) {
        if (phdrs[i].type == PT_LOAD && !load) load = &phdrs[i];
        if (phdrs[i].type == PT_DYNAMIC) dynamic = &phdrs[i];
    }
    if (!load || !dynamic) return;
    uintptr_t bias = base + load->offset - load->vaddr;  // link-time address -> mapped address
    const uint32_t* hash = nullptr;
    const char* strings = nullptr;
    const Elf64Sym* symbols = nullptr;
    for (const auto* d = reinterpret_cast<const Elf64Dyn*>(bias + dynamic->vaddr); d->tag != DT_NULL; ++d) {
        if (d->tag == DT_HASH)
            hash = reinterpret_cast<const uint32_t*>(bias + d->value);
        else if (d->tag == DT_STRTAB)
            strings = reinterpret_cast<const char*>(bias + d->value);
        else if (d->tag == DT_SYMTAB)
            symbols = reinterpret_cast<const Elf64Sym*>(bias + d->value);
    }
    if (!hash || !strings || !symbols) return;
    uint32_t count = hash[1];  // nchain: the number of symbols
    uintptr_t function = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const Elf64Sym& s = symbols[i];
        unsigned bind = s.info >> 4, type = s.info & 0xf;
        if (type != STT_FUNC || (bind != STB_GLOBAL && bind != STB_WEAK) || s.shndx == 0) continue;
        if (strcmp(strings + s.name, "__vdso_clock_gettime") == 0) function = bias + s.value;
    }
    uintptr_t begin = bias + load->vaddr, end = begin + load->memsz;
    if (!function || function < begin || function >= end) return;
    if ((begin >> 32) != ((end - 1) >> 32)) return;  // the filter compares 32-bit halves
    g_text_begin = begin;
    g_text_end = end;
    g_clock_gettime = reinterpret_cast<ClockGettime>(function);
}

bool vdso_text(uintptr_t& begin, uintptr_t& end) {
    if (!g_clock_gettime) return false;
    begin = g_text_begin;
    end = g_text_end;
    return true;
}

// clock_gettime through the vDSO if there is one, else the raw syscall.
long clock_gettime(int clock, void* timespec) {
    if (g_clock_gettime) return g_clock_gettime(clock, timespec);
    return host::call(host::CLOCK_GETTIME, clock, long(timespec));
}

}  // namespace xos::hosted
