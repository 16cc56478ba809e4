// The app's FPU/SIMD state in the format of Linux's x86_64 signal frame (struct _fpstate: an
// FXSAVE image whose software-reserved bytes are struct _fpx_sw_bytes, then, with XSAVE, the
// XSAVE header and the extended state and FP_XSTATE_MAGIC2), which glibc's and Go's handlers
// and rt_sigreturn expect; shared by the VM and hosted (XSAVE, XRSTOR and FXSAVE are
// unprivileged), and the return into app code (entry64.S, xos_user_return).
#include <cstring>

#include "user_state.h"
#include "xos/libos.h"
#include "xos/platform.h"

extern "C" {
uint8_t xos_user_fpu_xsave;  // read by entry64.S (xos_fpu_restore_user)
uint64_t xos_user_fpu_features;  // the XSAVE/XRSTOR mask (entry64.S)
[[noreturn]] void xos_user_return(uint64_t* regs, const uint8_t* fpu);
void xos_fpu_restore_user(const uint8_t* fpu);
extern const uint8_t xos_user_entry_begin[], xos_user_entry_end[];
}

namespace xos::x86 {

namespace {

constexpr size_t SW_BYTES = 464;  // struct _fpx_sw_bytes inside the FXSAVE image
constexpr size_t XSAVE_HEADER = 512;
constexpr uint32_t MXCSR_VALID = 0xffff;
// The user state components a signal frame holds: x87, SSE, AVX, MPX, AVX-512, PKRU. Not AMX's
// tile data (a host may enable it in XCR0; Linux's frames leave it out unless the process asked
// for it), so the area stays within a page.
constexpr uint64_t FRAME_FEATURES = 0x2ff;

struct Layout {
    bool xsave;
    uint64_t features;  // XCR0
    size_t area;  // XSAVE area (512: FXSAVE)
};

Layout g_layout;
bool g_layout_known;

const Layout& layout() {
    if (!g_layout_known) {
        g_layout.features = enabled_xfeatures() & FRAME_FEATURES;
        g_layout.xsave = g_layout.features != 0;
        g_layout.area = 512;
        if (g_layout.xsave) {
            g_layout.area = 512 + 64;  // the legacy area and the XSAVE header
            for (uint32_t i = 2; i < 64; ++i) {  // each component's offset and size (standard form)
                if (!(g_layout.features & (1ull << i))) continue;
                uint32_t a = 0xd, b, c = i, d;
                asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
                if (b + a > g_layout.area) g_layout.area = b + a;
            }
        }
        xos_user_fpu_xsave = g_layout.xsave;
        xos_user_fpu_features = g_layout.features;
        g_layout_known = true;
    }
    return g_layout;
}

void put32(uint8_t* at, uint32_t value) { memcpy(at, &value, 4); }
void put64(uint8_t* at, uint64_t value) { memcpy(at, &value, 8); }
uint32_t get32(const uint8_t* at) {
    uint32_t value;
    memcpy(&value, at, 4);
    return value;
}
uint64_t get64(const uint8_t* at) {
    uint64_t value;
    memcpy(&value, at, 8);
    return value;
}

}  // namespace

void fill_fpu_software_bytes(uint8_t* state) {
    const Layout& l = layout();
    memset(state + SW_BYTES, 0, 48);
    if (!l.xsave) return;
    put32(state + SW_BYTES + 0, FP_XSTATE_MAGIC1);
    put32(state + SW_BYTES + 4, uint32_t(l.area + 4));  // extended_size
    put64(state + SW_BYTES + 8, l.features);  // xfeatures
    put32(state + SW_BYTES + 16, uint32_t(l.area));  // xstate_size
    put32(state + l.area, FP_XSTATE_MAGIC2);
}

}  // namespace xos::x86

namespace xos::platform {

size_t user_fpu_size() {
    const auto& l = x86::layout();
    return l.xsave ? l.area + 4 : 512;
}

void save_user_fpu(uint8_t* out) {
    const auto& l = x86::layout();
    if (l.xsave)
        asm volatile("xsave64 (%0)" ::"r"(out), "a"(uint32_t(l.features)), "d"(uint32_t(l.features >> 32)) : "memory");
    else
        asm volatile("fxsave64 (%0)" ::"r"(out) : "memory");
    x86::fill_fpu_software_bytes(out);
}

void init_user_fpu(uint8_t* out) {
    memset(out, 0, user_fpu_size());
    x86::put32(out + 0, 0x37f);  // FCW (16 bits; FSW 0)
    x86::put32(out + 24, 0x1f80);  // MXCSR
    x86::put32(out + 28, 0xffff);  // MXCSR_MASK
    if (x86::layout().xsave) x86::put64(out + x86::XSAVE_HEADER, 3);  // x87 and SSE from the legacy area
    x86::fill_fpu_software_bytes(out);
}

void sanitize_user_fpu(uint8_t* state) {
    const auto& l = x86::layout();
    x86::put32(state + 24, x86::get32(state + 24) & x86::MXCSR_VALID);
    if (!l.xsave) return;
    bool has_xstate = x86::get32(state + x86::SW_BYTES) == x86::FP_XSTATE_MAGIC1 &&
        x86::get32(state + x86::SW_BYTES + 4) == l.area + 4 && x86::get32(state + l.area) == x86::FP_XSTATE_MAGIC2;
    uint64_t xstate_bv = has_xstate ? x86::get64(state + x86::XSAVE_HEADER) & l.features : 3;
    memset(state + x86::XSAVE_HEADER, 0, 64);  // XCOMP_BV and the reserved bytes must be 0
    x86::put64(state + x86::XSAVE_HEADER, xstate_bv);
    x86::fill_fpu_software_bytes(state);
}

bool cpu_context_in_app(const void* context, uintptr_t stack_low, uintptr_t stack_high) {
    uintptr_t rip, rsp;
    x86::cpu_context_pc_sp(context, rip, rsp);
    if (rip >= uintptr_t(xos_user_entry_begin) && rip < uintptr_t(xos_user_entry_end)) return false;
    return !(rsp >= stack_low && rsp < stack_high);
}

void return_to_user(uint64_t* regs, const uint8_t* fpu) { xos_user_return(regs, fpu); }

}  // namespace xos::platform
