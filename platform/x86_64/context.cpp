// Thread CPU contexts: the registers of a thread that is not running (in the layout of the
// interrupt frame, so that resuming a thread is returning from an interrupt into it), its
// thread pointer, and its FPU/SIMD state (XSAVE area).
#include <cstddef>
#include <cstring>

#include "xos/log.h"
#include "context.h"
#include "user_state.h"
#include "xos/libos.h"
#include "cpu.h"
#include "xos/platform.h"

extern "C" {
// Read by trap_entry.S (with this CPU's XosCpu::fpu_area: where the interrupted flow's state goes).
uint8_t xos_fpu_uses_xsave;
void xos_thread_trampoline();
}

namespace xos::x86 {

namespace {

constexpr size_t BOOT_FPU_AREA = 4096;
alignas(64) uint8_t g_boot_fpu_area[BOOT_FPU_AREA];
size_t g_fpu_area_size = 512;  // FXSAVE
CpuContext* g_current[XOS_MAX_CPUS];  // per CPU: the context of the thread it runs

}  // namespace

void init_fpu_contexts() {
    if (features().xsave) {
        g_fpu_area_size = cpuid(0xd, 0).ebx;  // size for the components enabled in XCR0
        xos_fpu_uses_xsave = 1;
    }
    if (g_fpu_area_size > BOOT_FPU_AREA) panic("XSAVE area of %zu bytes is too large", g_fpu_area_size);
    xos_cpus[platform::cpu_index_unlocked()].fpu_area = g_boot_fpu_area;
}

CpuContext* current_context() { return g_current[platform::cpu_index_unlocked()]; }

void set_current_context(CpuContext* context) {
    g_current[platform::cpu_index_unlocked()] = context;
    xos_cpus[platform::cpu_index_unlocked()].fpu_area = context->fpu;
    wrmsr(MSR_FS_BASE, context->fs_base);
}

void save_interrupted(TrapFrame& frame) {
    CpuContext* current = current_context();
    if (!current) return;
    current->frame = frame;
    current->fs_base = rdmsr(MSR_FS_BASE);
    // The FPU state was saved by trap_entry.S into g_current->fpu already.
}

void resume(CpuContext* next, TrapFrame& frame) {
    frame = next->frame;
    set_current_context(next);  // trap_entry.S restores next->fpu on the way out
}

}  // namespace xos::x86

namespace xos::platform {

size_t cpu_context_size() { return offsetof(x86::CpuContext, fpu) + x86::g_fpu_area_size; }

void cpu_context_init(void* storage, void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1,
                      uintptr_t stack_top, uintptr_t thread_pointer) {
    auto* context = static_cast<x86::CpuContext*>(storage);
    memset(context, 0, cpu_context_size());
    context->frame.rip = reinterpret_cast<uint64_t>(&xos_thread_trampoline);
    context->frame.cs = 0x08;
    context->frame.ss = 0x10;
    context->frame.rflags = 0x202;  // interrupts enabled
    context->frame.rsp = stack_top & ~uint64_t(15);
    context->frame.r12 = reinterpret_cast<uint64_t>(entry);
    context->frame.r13 = arg0;
    context->frame.r14 = arg1;
    context->fs_base = thread_pointer;
    // Initial FPU state: x87 control word and MXCSR at their reset values; XSTATE_BV = 0
    // (every other component in its initial state).
    uint16_t fcw = 0x37f;
    uint32_t mxcsr = 0x1f80;
    memcpy(context->fpu + 0, &fcw, sizeof fcw);
    memcpy(context->fpu + 24, &mxcsr, sizeof mxcsr);
}

void cpu_context_adopt_current(void* storage) {
    auto* context = static_cast<x86::CpuContext*>(storage);
    context->fs_base = x86::rdmsr(x86::MSR_FS_BASE);
    // XSAVE writes the legacy area and XSTATE_BV but not the rest of the XSAVE header, which
    // XRSTOR requires to be zero: memory from the allocator is not (on Xen, the toolstack's boot
    // data lies there).
    memset(context->fpu, 0, x86::g_fpu_area_size);
    x86::g_current[platform::cpu_index_unlocked()] = context;
    // The boot flow's live FPU state is saved into its new area on the next interrupt.
    xos_cpus[platform::cpu_index_unlocked()].fpu_area = context->fpu;
}

void yield() { asm volatile("int $0x81" ::: "memory"); }

bool interrupts_enabled() {
    uint64_t flags;
    asm volatile("pushfq; pop %0" : "=r"(flags));
    return flags & 0x200;
}

void interrupts_disable() { asm volatile("cli" ::: "memory"); }
void interrupts_enable() { asm volatile("sti" ::: "memory"); }
void wait_for_interrupt() {
    xos_count_event(xos_cpu_events[cpu_index_unlocked()].idle_halts);
    asm volatile("sti; hlt" ::: "memory");
}

}  // namespace xos::platform

namespace xos::x86 {

uint64_t enabled_xfeatures() { return features().xsave ? features().xcr0 : 0; }

void cpu_context_pc_sp(const void* storage, uintptr_t& rip, uintptr_t& rsp) {
    const auto* context = static_cast<const CpuContext*>(storage);
    rip = context->frame.rip;
    rsp = context->frame.rsp;
}

}  // namespace xos::x86

namespace xos::platform {

uintptr_t cpu_context_user_state(const void* storage, uint64_t* g, uint8_t* fpu) {
    const auto* context = static_cast<const x86::CpuContext*>(storage);
    const x86::TrapFrame& f = context->frame;
    const uint64_t values[USER_GREGS] = {f.r8,  f.r9,     f.r10, f.r11, f.r12, f.r13, f.r14, f.r15,
                                         f.rdi, f.rsi,    f.rbp, f.rbx, f.rdx, f.rax, f.rcx, f.rsp,
                                         f.rip, f.rflags, 0,     0,     0,     0,     0};
    memcpy(g, values, sizeof values);
    size_t size = user_fpu_size() - (user_fpu_size() > 512 ? 4 : 0);  // the XSAVE area without MAGIC2
    memcpy(fpu, context->fpu, x86::g_fpu_area_size < size ? x86::g_fpu_area_size : size);  // the interrupted flow's
    x86::fill_fpu_software_bytes(fpu);
    return context->fs_base;
}

}  // namespace xos::platform
