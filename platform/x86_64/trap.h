// The register state saved by trap_entry.S, in push order reversed (lowest address first).
#pragma once

#include <cstdint>

namespace xos::x86 {

struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

void init_descriptor_tables();
void init_descriptor_tables_ap(unsigned cpu);

}  // namespace xos::x86
