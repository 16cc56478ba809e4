// GDT (with a TSS for the interrupt stacks) and IDT. All 256 vectors are interrupt gates that
// switch to an IST stack: code running in ring 0 never gets a stack switch from the CPU
// otherwise, and the app's red zone below %rsp must survive an interrupt.
#include <cstddef>
#include <cstring>

#include "cpu.h"
#include "trap.h"
#include "xos/libos.h"

extern "C" uint64_t xos_gdt[5];
extern "C" const uint64_t xos_trap_stubs[256];

namespace xos::x86 {

namespace {

struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

struct IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

struct [[gnu::packed]] DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};

constexpr uint16_t KERNEL_CS = 0x08;
constexpr uint16_t TSS_SELECTOR = 0x18;
constexpr size_t IST_STACK_SIZE = 32 * 1024;

// IST1: ordinary exceptions and interrupts. IST2: double fault, NMI and machine check, which
// can arrive while IST1 is in use (e.g. a fault inside the page-fault handler).
// Per CPU (each has its own TSS, so its own IST stacks, and so its own GDT); the boot CPU's
// GDT is pvh_entry.S's xos_gdt.
alignas(16) uint8_t g_ist_stacks[XOS_MAX_CPUS][2][IST_STACK_SIZE];
Tss g_tss[XOS_MAX_CPUS];
alignas(16) uint64_t g_gdt[XOS_MAX_CPUS][5];
IdtGate g_idt[256];

void load_idt() {
    DescriptorPointer idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" ::"m"(idtr));
}

void install_tss(unsigned cpu, uint64_t* gdt) {
    Tss& tss = g_tss[cpu];
    tss.ist[0] = reinterpret_cast<uint64_t>(g_ist_stacks[cpu][0] + IST_STACK_SIZE);
    tss.ist[1] = reinterpret_cast<uint64_t>(g_ist_stacks[cpu][1] + IST_STACK_SIZE);
    tss.iomap_base = sizeof(Tss);
    uint64_t base = reinterpret_cast<uint64_t>(&tss);
    uint64_t limit = sizeof(Tss) - 1;
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (uint64_t(0x89) << 40) | (((limit >> 16) & 0xf) << 48) |
        (((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;
    asm volatile("ltr %0" ::"r"(TSS_SELECTOR));
}

}  // namespace

// An application processor: a GDT of its own (the boot GDT's code and data descriptors and its
// own TSS), reloaded segment registers, the shared IDT.
void init_descriptor_tables_ap(unsigned cpu) {
    uint64_t* gdt = g_gdt[cpu];
    memcpy(gdt, xos_gdt, 3 * sizeof(uint64_t));
    DescriptorPointer gdtr{5 * sizeof(uint64_t) - 1, reinterpret_cast<uint64_t>(gdt)};
    asm volatile("lgdt %0\n\t"
                 "pushq $0x08\n\t"
                 "leaq 1f(%%rip), %%rax\n\t"
                 "pushq %%rax\n\t"
                 "lretq\n"
                 "1:\n\t"
                 "movl $0x10, %%eax\n\t"
                 "movl %%eax, %%ds\n\t"
                 "movl %%eax, %%es\n\t"
                 "movl %%eax, %%ss\n\t"
                 "xorl %%eax, %%eax\n\t"
                 "movl %%eax, %%fs\n\t"
                 "movl %%eax, %%gs"
                 :
                 : "m"(gdtr)
                 : "rax", "memory");
    install_tss(cpu, gdt);
    load_idt();
}

void init_descriptor_tables() {
    install_tss(0, xos_gdt);

    for (int vector = 0; vector < 256; ++vector) {
        uint64_t handler = xos_trap_stubs[vector];
        bool critical = vector == 2 || vector == 8 || vector == 18;  // NMI, #DF, #MC
        g_idt[vector] = IdtGate{
            .offset_low = uint16_t(handler),
            .selector = KERNEL_CS,
            .ist = uint8_t(critical ? 2 : 1),
            .type_attr = 0x8e,  // present, DPL 0, 64-bit interrupt gate
            .offset_mid = uint16_t(handler >> 16),
            .offset_high = uint32_t(handler >> 32),
            .reserved = 0,
        };
    }
    load_idt();
}

}  // namespace xos::x86
