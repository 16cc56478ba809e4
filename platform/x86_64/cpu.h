// Thin wrappers over x86_64 instructions used by the platform layer.
#pragma once

#include <cstdint>

namespace xos::x86 {

struct CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};

inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t(hi) << 32) | lo;
}

inline void wrmsr(uint32_t msr, uint64_t value) {
    asm volatile("wrmsr" ::"c"(msr), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)) : "memory");
}

inline uint64_t read_cr0() {
    uint64_t v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
inline uint64_t read_cr2() {
    uint64_t v;
    asm volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
inline uint64_t read_cr3() {
    uint64_t v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
inline uint64_t read_cr4() {
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

inline void xsetbv(uint32_t reg, uint64_t value) {
    asm volatile("xsetbv" ::"c"(reg), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)));
}

inline void outb(uint16_t port, uint8_t value) { asm volatile("outb %0, %1" ::"a"(value), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}

inline void invlpg(uintptr_t address) { asm volatile("invlpg (%0)" ::"r"(address) : "memory"); }

[[noreturn]] inline void halt_forever() {
    for (;;) asm volatile("cli; hlt");
}

constexpr uint32_t MSR_EFER = 0xc0000080;
constexpr uint32_t MSR_STAR = 0xc0000081;
constexpr uint32_t MSR_LSTAR = 0xc0000082;
constexpr uint32_t MSR_FMASK = 0xc0000084;
constexpr uint32_t MSR_FS_BASE = 0xc0000100;
constexpr uint32_t MSR_GS_BASE = 0xc0000101;

constexpr uint64_t EFER_SCE = 1 << 0;
constexpr uint64_t EFER_NXE = 1 << 11;

// CPU features the platform discovered at boot (filled by cpu.cpp).
struct Features {
    bool nx, xsave, avx, avx512, fsgsbase, rdrand, invariant_tsc, hypervisor;
    uint64_t xcr0;
};
const Features& features();
void init_cpu_features();

// The first CPUID leaf of the hypervisor range (0x40000000 + k * 0x100) whose signature
// (EBX, ECX, EDX) is `signature` (12 characters: "XenVMMXenVMM", "KVMKVMKVM\0\0\0"), or 0.
// Xen moves its leaves up by 0x100 when it also offers Viridian (Hyper-V) leaves.
uint32_t hypervisor_leaf_base(const char* signature);

}  // namespace xos::x86
