// Checks an x86_64 Linux executable's ELF header and program headers before anything is mapped,
// and says in words what is wrong with a bad one (the loader prints it, a shell-like 126 follows).
// Portable; unit-tested on the host.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace xos::exec {

constexpr size_t MAX_PROGRAM_HEADERS = 256;
constexpr size_t MAX_INTERPRETER_BYTES = 4096;  // PATH_MAX

// What the loader needs from the headers, with the load span in ELF addresses (before the bias).
struct ElfLayout {
    uint64_t entry = 0;
    uint64_t span_start = 0;  // lowest PT_LOAD page
    uint64_t span_end = 0;  // end of the highest PT_LOAD, page-rounded
    uint64_t phdr_address = 0;  // where the program headers are in memory (0: not loaded)
    const Elf64_Phdr* interpreter = nullptr;  // PT_INTERP, if any
    bool executable_stack = false;  // PT_GNU_STACK with PF_X (or no PT_GNU_STACK)
    bool fixed_address = false;  // ET_EXEC: loaded at its link address (bias 0)
};

// Reasons an executable is refused; describe() has the words.
enum class ElfProblem {
    None,
    TooShort,  // shorter than an ELF header
    NotElf,  // no \x7fELF magic
    Not64Bit,  // ELFCLASS32
    NotLittleEndian,
    BadVersion,
    WrongMachine,  // see machine_name()
    NotExecutable,  // ET_REL, ET_CORE...
    BadProgramHeaders,  // e_phentsize, e_phnum, e_phoff out of range
    Truncated,  // a program header or segment points past the end of the file
    BadSegment,  // p_filesz > p_memsz, p_offset/p_vaddr not congruent, overflow, unsorted
    NoLoadableSegment,
    BadInterpreter,  // PT_INTERP not NUL-terminated, empty or too long
};

const char* describe(ElfProblem problem);
// "aarch64", "i386"... for the header's e_machine, for WrongMachine messages.
const char* machine_name(uint16_t machine);

// Checks the ELF header alone (the first bytes of the file, at least sizeof(Elf64_Ehdr) if the
// file is that long) against `file_size`.
ElfProblem check_header(std::span<const std::byte> head, uint64_t file_size);
// Checks the program headers of a header that passed check_header() and fills `layout`.
ElfProblem check_program_headers(const Elf64_Ehdr& header, std::span<const Elf64_Phdr> headers, uint64_t file_size,
                                 uint64_t page_size, ElfLayout& layout);

}  // namespace xos::exec
