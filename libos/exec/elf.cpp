#include "exec/elf.h"

#include <cstring>

namespace xos::exec {

namespace {

bool add_overflows(uint64_t a, uint64_t b, uint64_t& sum) { return __builtin_add_overflow(a, b, &sum); }

}  // namespace

const char* describe(ElfProblem problem) {
    switch (problem) {
    case ElfProblem::None: return "no problem";
    case ElfProblem::TooShort: return "file too short to be an executable (truncated ELF header)";
    case ElfProblem::NotElf: return "not an ELF executable (cannot execute binary file)";
    case ElfProblem::Not64Bit: return "32-bit ELF: only x86_64 executables run on xos";
    case ElfProblem::NotLittleEndian: return "big-endian ELF: only x86_64 executables run on xos";
    case ElfProblem::BadVersion: return "unknown ELF version";
    case ElfProblem::WrongMachine: return "wrong machine: only x86_64 executables run on xos";
    case ElfProblem::NotExecutable: return "not an executable (an object file, core dump or unknown ELF type)";
    case ElfProblem::BadProgramHeaders: return "bad program headers (size, count or offset)";
    case ElfProblem::Truncated: return "truncated: a program header or segment lies past the end of the file";
    case ElfProblem::BadSegment: return "bad loadable segment (sizes, alignment or order)";
    case ElfProblem::NoLoadableSegment: return "no loadable segment";
    case ElfProblem::BadInterpreter: return "bad PT_INTERP (interpreter path)";
    }
    return "unknown problem";
}

const char* machine_name(uint16_t machine) {
    switch (machine) {
    case EM_386: return "i386";
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_ARM: return "arm";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390";
    case EM_MIPS: return "mips";
    default: return "unknown machine";
    }
}

ElfProblem check_header(std::span<const std::byte> head, uint64_t file_size) {
    if (head.size() < SELFMAG || file_size < SELFMAG) return ElfProblem::TooShort;
    if (memcmp(head.data(), ELFMAG, SELFMAG) != 0) return ElfProblem::NotElf;
    if (head.size() < EI_NIDENT) return ElfProblem::TooShort;
    auto ident = reinterpret_cast<const unsigned char*>(head.data());
    if (ident[EI_CLASS] != ELFCLASS64) return ElfProblem::Not64Bit;
    if (ident[EI_DATA] != ELFDATA2LSB) return ElfProblem::NotLittleEndian;
    if (ident[EI_VERSION] != EV_CURRENT) return ElfProblem::BadVersion;
    if (head.size() < sizeof(Elf64_Ehdr) || file_size < sizeof(Elf64_Ehdr)) return ElfProblem::TooShort;
    Elf64_Ehdr header;
    memcpy(&header, head.data(), sizeof header);
    if (header.e_machine != EM_X86_64) return ElfProblem::WrongMachine;
    if (header.e_type != ET_DYN && header.e_type != ET_EXEC) return ElfProblem::NotExecutable;
    if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phnum == 0 || header.e_phnum > MAX_PROGRAM_HEADERS)
        return ElfProblem::BadProgramHeaders;
    uint64_t end;
    if (add_overflows(header.e_phoff, uint64_t(header.e_phnum) * sizeof(Elf64_Phdr), end))
        return ElfProblem::BadProgramHeaders;
    if (end > file_size) return ElfProblem::Truncated;
    return ElfProblem::None;
}

ElfProblem check_program_headers(const Elf64_Ehdr& header, std::span<const Elf64_Phdr> headers, uint64_t file_size,
                                 uint64_t page_size, ElfLayout& layout) {
    layout = ElfLayout{};
    layout.entry = header.e_entry;
    layout.fixed_address = header.e_type == ET_EXEC;
    layout.executable_stack = true;  // Linux's default on x86_64 without PT_GNU_STACK
    bool any_load = false;
    uint64_t previous_vaddr = 0;
    for (const Elf64_Phdr& ph : headers) {
        uint64_t file_end, memory_end;
        switch (ph.p_type) {
        case PT_LOAD:
            if (ph.p_filesz > ph.p_memsz) return ElfProblem::BadSegment;
            if (add_overflows(ph.p_offset, ph.p_filesz, file_end)) return ElfProblem::BadSegment;
            if (file_end > file_size) return ElfProblem::Truncated;
            if (add_overflows(ph.p_vaddr, ph.p_memsz, memory_end) || memory_end > (1ull << 47))
                return ElfProblem::BadSegment;
            if ((ph.p_offset ^ ph.p_vaddr) & (page_size - 1)) return ElfProblem::BadSegment;
            if (any_load && ph.p_vaddr < previous_vaddr) return ElfProblem::BadSegment;
            previous_vaddr = ph.p_vaddr;
            if (!any_load) layout.span_start = ph.p_vaddr & ~(page_size - 1);
            layout.span_end = (memory_end + page_size - 1) & ~(page_size - 1);
            // The program headers, if this segment's file bytes include them.
            if (!layout.phdr_address && header.e_phoff >= ph.p_offset &&
                header.e_phoff + uint64_t(header.e_phnum) * sizeof(Elf64_Phdr) <= file_end)
                layout.phdr_address = ph.p_vaddr + (header.e_phoff - ph.p_offset);
            any_load = true;
            break;
        case PT_INTERP:
            if (layout.interpreter) return ElfProblem::BadInterpreter;
            if (ph.p_filesz < 2 || ph.p_filesz > MAX_INTERPRETER_BYTES) return ElfProblem::BadInterpreter;
            if (add_overflows(ph.p_offset, ph.p_filesz, file_end)) return ElfProblem::BadInterpreter;
            if (file_end > file_size) return ElfProblem::Truncated;
            layout.interpreter = &ph;
            break;
        case PT_GNU_STACK: layout.executable_stack = (ph.p_flags & PF_X) != 0; break;
        default: break;  // PT_TLS: libc's; PT_GNU_RELRO: ld.so's; PT_DYNAMIC, notes...
        }
    }
    if (!any_load) return ElfProblem::NoLoadableSegment;
    for (const Elf64_Phdr& ph : headers)  // PT_PHDR, when present, is authoritative
        if (ph.p_type == PT_PHDR) layout.phdr_address = ph.p_vaddr;
    return ElfProblem::None;
}

}  // namespace xos::exec
