// libos/exec/elf.cpp: which executables the loader takes, and what it says about the others.
#include "exec/elf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace xos::exec;

namespace {

struct Image {
    Elf64_Ehdr header{};
    std::vector<Elf64_Phdr> headers;
    uint64_t file_size = 0x10000;

    Image() {
        memcpy(header.e_ident, ELFMAG, SELFMAG);
        header.e_ident[EI_CLASS] = ELFCLASS64;
        header.e_ident[EI_DATA] = ELFDATA2LSB;
        header.e_ident[EI_VERSION] = EV_CURRENT;
        header.e_type = ET_DYN;
        header.e_machine = EM_X86_64;
        header.e_phoff = sizeof(Elf64_Ehdr);
        header.e_phentsize = sizeof(Elf64_Phdr);
        header.e_entry = 0x1040;
        add(PT_LOAD, 0, 0, 0x800, 0x800, PF_R);
        add(PT_LOAD, 0x1000, 0x1000, 0x2000, 0x2000, PF_R | PF_X);
        add(PT_LOAD, 0x3e10, 0x4e10, 0x300, 0x1000, PF_R | PF_W);  // data + bss
        add(PT_GNU_STACK, 0, 0, 0, 0, PF_R | PF_W);
    }
    void add(uint32_t type, uint64_t offset, uint64_t vaddr, uint64_t filesz, uint64_t memsz, uint32_t flags) {
        headers.push_back(Elf64_Phdr{type, flags, offset, vaddr, vaddr, filesz, memsz, 0x1000});
        header.e_phnum = uint16_t(headers.size());
    }
    ElfProblem check_head() const {
        return check_header({reinterpret_cast<const std::byte*>(&header), sizeof header}, file_size);
    }
    ElfProblem check(ElfLayout& layout) const {
        ElfProblem problem = check_head();
        if (problem != ElfProblem::None) return problem;
        return check_program_headers(header, headers, file_size, 4096, layout);
    }
};

}  // namespace

TEST(Elf, AcceptsAPositionIndependentExecutable) {
    Image image;
    ElfLayout layout;
    ASSERT_EQ(image.check(layout), ElfProblem::None);
    EXPECT_EQ(layout.entry, 0x1040u);
    EXPECT_EQ(layout.span_start, 0u);
    EXPECT_EQ(layout.span_end, 0x6000u);  // 0x4e10 + 0x1000, page-rounded
    EXPECT_EQ(layout.phdr_address, sizeof(Elf64_Ehdr));  // in the first segment's file bytes
    EXPECT_FALSE(layout.executable_stack);
    EXPECT_EQ(layout.interpreter, nullptr);
}

TEST(Elf, FindsTheInterpreterAndPtPhdr) {
    Image image;
    image.add(PT_INTERP, 0x300, 0x300, 28, 28, PF_R);
    image.add(PT_PHDR, 64, 64, 0, 0, PF_R);
    ElfLayout layout;
    ASSERT_EQ(image.check(layout), ElfProblem::None);
    ASSERT_NE(layout.interpreter, nullptr);
    EXPECT_EQ(layout.interpreter->p_offset, 0x300u);
    EXPECT_EQ(layout.phdr_address, 64u);
}

TEST(Elf, RefusesWhatIsNotAnX86_64Executable) {
    ElfLayout layout;
    {
        const char text[] = "#!/bin/sh\necho hi\n";
        EXPECT_EQ(check_header({reinterpret_cast<const std::byte*>(text), sizeof text}, sizeof text),
                  ElfProblem::NotElf);
        EXPECT_EQ(check_header({reinterpret_cast<const std::byte*>(text), 2}, 2), ElfProblem::TooShort);
    }
    Image truncated;
    EXPECT_EQ(check_header({reinterpret_cast<const std::byte*>(&truncated.header), 40}, 40), ElfProblem::TooShort);
    Image i386;
    i386.header.e_ident[EI_CLASS] = ELFCLASS32;
    EXPECT_EQ(i386.check(layout), ElfProblem::Not64Bit);
    Image aarch64;
    aarch64.header.e_machine = EM_AARCH64;
    EXPECT_EQ(aarch64.check(layout), ElfProblem::WrongMachine);
    EXPECT_STREQ(machine_name(EM_AARCH64), "aarch64");
    Image non_pie;  // taken: the loader maps it at its link address
    non_pie.header.e_type = ET_EXEC;
    EXPECT_EQ(non_pie.check(layout), ElfProblem::None);
    EXPECT_TRUE(layout.fixed_address);
    Image object;
    object.header.e_type = ET_REL;
    EXPECT_EQ(object.check(layout), ElfProblem::NotExecutable);
    Image bad_phentsize;
    bad_phentsize.header.e_phentsize = 32;
    EXPECT_EQ(bad_phentsize.check(layout), ElfProblem::BadProgramHeaders);
    Image headers_past_end;
    headers_past_end.file_size = 100;
    EXPECT_EQ(headers_past_end.check(layout), ElfProblem::Truncated);
}

TEST(Elf, RefusesBadSegments) {
    ElfLayout layout;
    Image past_end;
    past_end.add(PT_LOAD, 0xff00, 0x10000, 0x1000, 0x1000, PF_R);
    EXPECT_EQ(past_end.check(layout), ElfProblem::Truncated);
    Image file_larger_than_memory;
    file_larger_than_memory.headers[2].p_filesz = 0x2000;
    EXPECT_EQ(file_larger_than_memory.check(layout), ElfProblem::BadSegment);
    Image not_congruent;
    not_congruent.headers[2].p_vaddr = 0x4e00;
    EXPECT_EQ(not_congruent.check(layout), ElfProblem::BadSegment);
    Image unsorted;
    unsorted.add(PT_LOAD, 0, 0, 0x10, 0x10, PF_R);
    EXPECT_EQ(unsorted.check(layout), ElfProblem::BadSegment);
    Image bad_interpreter;
    bad_interpreter.add(PT_INTERP, 0x300, 0x300, 1, 1, PF_R);
    EXPECT_EQ(bad_interpreter.check(layout), ElfProblem::BadInterpreter);
    Image nothing_to_load;
    nothing_to_load.headers.resize(1);
    nothing_to_load.headers[0].p_type = PT_NOTE;
    nothing_to_load.header.e_phnum = 1;
    EXPECT_EQ(nothing_to_load.check(layout), ElfProblem::NoLoadableSegment);
}
