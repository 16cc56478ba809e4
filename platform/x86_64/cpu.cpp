// Turns on the CPU features user-space code compiled for x86_64 expects (SSE was enabled by
// pvh_entry.S; here: XSAVE/AVX/AVX-512 state, FSGSBASE, NX) and records what exists.
#include "cpu.h"

#include <cstring>

namespace xos::x86 {

namespace {
Features g_features;

constexpr uint64_t CR4_FSGSBASE = 1 << 16;
constexpr uint64_t CR4_OSXSAVE = 1 << 18;
constexpr uint64_t XCR0_X87 = 1 << 0, XCR0_SSE = 1 << 1, XCR0_AVX = 1 << 2;
constexpr uint64_t XCR0_AVX512 = (1 << 5) | (1 << 6) | (1 << 7);
}  // namespace

const Features& features() { return g_features; }

void init_cpu_features() {
    auto leaf1 = cpuid(1);
    auto max_leaf = cpuid(0).eax;
    auto leaf7 = max_leaf >= 7 ? cpuid(7, 0) : CpuidResult{};
    auto max_ext = cpuid(0x80000000).eax;
    auto ext1 = max_ext >= 0x80000001 ? cpuid(0x80000001) : CpuidResult{};
    auto ext7 = max_ext >= 0x80000007 ? cpuid(0x80000007) : CpuidResult{};

    g_features.xsave = leaf1.ecx & (1u << 26);
    g_features.avx = leaf1.ecx & (1u << 28);
    g_features.rdrand = leaf1.ecx & (1u << 30);
    g_features.hypervisor = leaf1.ecx & (1u << 31);
    g_features.fsgsbase = leaf7.ebx & (1u << 0);
    g_features.avx512 = leaf7.ebx & (1u << 16);
    g_features.nx = ext1.edx & (1u << 20);
    g_features.invariant_tsc = ext7.edx & (1u << 8);

    uint64_t cr4 = read_cr4();
    if (g_features.fsgsbase) cr4 |= CR4_FSGSBASE;
    if (g_features.xsave) cr4 |= CR4_OSXSAVE;
    write_cr4(cr4);

    if (g_features.xsave) {
        // Enable every state component the CPU supports that user code may touch.
        uint64_t supported = cpuid(0xd, 0).eax | (uint64_t(cpuid(0xd, 0).edx) << 32);
        uint64_t xcr0 = XCR0_X87 | XCR0_SSE;
        if (g_features.avx && (supported & XCR0_AVX)) xcr0 |= XCR0_AVX;
        if (g_features.avx512 && (supported & XCR0_AVX512) == XCR0_AVX512)
            xcr0 |= XCR0_AVX512;
        else
            g_features.avx512 = false;
        if (!(xcr0 & XCR0_AVX)) g_features.avx = false;
        xsetbv(0, xcr0);
        g_features.xcr0 = xcr0;
    } else {
        g_features.avx = g_features.avx512 = false;
    }

    if (g_features.nx) wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
}

uint32_t hypervisor_leaf_base(const char* signature) {
    if (!(cpuid(1).ecx & (1u << 31))) return 0;  // no hypervisor
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        CpuidResult leaf = cpuid(base);
        char found[12];
        memcpy(found, &leaf.ebx, 4);
        memcpy(found + 4, &leaf.ecx, 4);
        memcpy(found + 8, &leaf.edx, 4);
        if (memcmp(found, signature, 12) == 0 && leaf.eax >= base + 2) return base;
    }
    return 0;
}

}  // namespace xos::x86
