// CPU exceptions. A page fault is first offered to demand paging; a fault that demand paging
// cannot resolve inside the user-copy routine (user_copy.S) continues at that routine's fixup,
// which returns EFAULT to the syscall. Every other exception is fatal for now (no signals yet):
// print what happened, the registers and a backtrace, then leave the VM with the status a Linux
// shell would report for the matching signal (139 for SIGSEGV...). A crash is never a hang or
// a silent reboot.
#include <csignal>
#include <cstdio>

#include "xos/log.h"
#include "context.h"
#include "cpu.h"
#include "machine.h"
#include "smp.h"
#include "trap.h"
#include "user_copy.h"
#include "xos/libos.h"
#include "xos/platform.h"

namespace xos::x86 {

namespace {

struct ExceptionInfo {
    const char* mnemonic;
    const char* name;
    int signal;
};

constexpr ExceptionInfo exception_info(uint64_t vector) {
    switch (vector) {
    case 0: return {"#DE", "divide error", SIGFPE};
    case 1: return {"#DB", "debug exception", SIGTRAP};
    case 2: return {"NMI", "non-maskable interrupt", SIGBUS};
    case 3: return {"#BP", "breakpoint", SIGTRAP};
    case 4: return {"#OF", "overflow", SIGSEGV};
    case 5: return {"#BR", "bound range exceeded", SIGSEGV};
    case 6: return {"#UD", "invalid opcode", SIGILL};
    case 7: return {"#NM", "device not available", SIGFPE};
    case 8: return {"#DF", "double fault", SIGSEGV};
    case 10: return {"#TS", "invalid TSS", SIGSEGV};
    case 11: return {"#NP", "segment not present", SIGBUS};
    case 12: return {"#SS", "stack-segment fault", SIGBUS};
    case 13: return {"#GP", "general protection fault", SIGSEGV};
    case 14: return {"#PF", "page fault", SIGSEGV};
    case 16: return {"#MF", "x87 floating-point exception", SIGFPE};
    case 17: return {"#AC", "alignment check", SIGBUS};
    case 18: return {"#MC", "machine check", SIGBUS};
    case 19: return {"#XM", "SIMD floating-point exception", SIGFPE};
    case 21: return {"#CP", "control protection exception", SIGSEGV};
    default: return {"#??", "reserved exception", SIGSEGV};
    }
}

mm::FaultAccess fault_access(uint64_t error_code) {
    if (error_code & 0x10) return mm::FaultAccess::Execute;
    return (error_code & 0x2) ? mm::FaultAccess::Write : mm::FaultAccess::Read;
}

void describe_page_fault(char* out, size_t size, const TrapFrame& frame) {
    uint64_t address = read_cr2();
    uint64_t e = frame.error_code;
    const char* access = (e & 0x10) ? "instruction fetch" : (e & 0x2) ? "write" : "read";
    snprintf(out, size,
             "page fault (#PF, vector 14) in thread %d: %s at address 0x%lx (%s), rip=0x%lx, error code 0x%lx",
             sched::current_thread_id(), access, address, mm::describe_fault(address, fault_access(e)), frame.rip, e);
}

[[noreturn]] void fatal_exception(const TrapFrame& frame) {
    ExceptionInfo info = exception_info(frame.vector);
    char reason[256];
    if (frame.vector == 14)
        describe_page_fault(reason, sizeof reason, frame);
    else
        snprintf(reason, sizeof reason, "%s (%s, vector %lu) in thread %d at rip=0x%lx, error code 0x%lx", info.name,
                 info.mnemonic, frame.vector, sched::current_thread_id(), frame.rip, frame.error_code);

    klog("xos: fatal: %s", reason);
    klog("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx", frame.rax, frame.rbx, frame.rcx, frame.rdx);
    klog("  rsi=%016lx rdi=%016lx rbp=%016lx rsp=%016lx", frame.rsi, frame.rdi, frame.rbp, frame.rsp);
    klog("  r8 =%016lx r9 =%016lx r10=%016lx r11=%016lx", frame.r8, frame.r9, frame.r10, frame.r11);
    klog("  r12=%016lx r13=%016lx r14=%016lx r15=%016lx", frame.r12, frame.r13, frame.r14, frame.r15);
    klog("  rip=%016lx rflags=%08lx cr2=%016lx cr3=%016lx", frame.rip, frame.rflags, read_cr2(), read_cr3());
    klog("backtrace:");
    klog("  #0 0x%lx", frame.rip);
    platform::print_backtrace(frame.rbp);
    platform::shutdown(platform::ExitKind::Crash, 128 + info.signal, reason);
}

}  // namespace

}  // namespace xos::x86

namespace xos::x86 {

constexpr uint64_t YIELD_VECTOR = 0x81;

namespace {

// Saves the interrupted thread, lets libos pick who runs next, and returns into that thread
// (which libos may have set to enter a signal handler: its frame is reloaded even when it is
// the same thread).
void reschedule(TrapFrame& frame, sched::InterruptKind kind) {
    if (!current_context()) return;  // the scheduler is not up yet
    save_interrupted(frame);
    auto* next = static_cast<CpuContext*>(sched::on_interrupt(kind));
    if (auto rearm = machine::current().timer_rearm) rearm();  // a tickless machine's timer
    if (next) resume(next, frame);
}

// si_code of the signal for an exception in app code (Linux's, arch/x86/kernel/traps.c).
int fault_code(uint64_t vector, uint64_t error_code) {
    switch (vector) {
    case 0: return 1;  // FPE_INTDIV
    case 1: return 2;  // TRAP_TRACE
    case 6: return 2;  // ILL_ILLOPN
    case 14: return (error_code & 1) ? 2 : 1;  // SEGV_ACCERR : SEGV_MAPERR
    case 16:
    case 19: return 7;  // FPE_FLTINV
    case 17: return 1;  // BUS_ADRALN
    default: return 0x80;  // SI_KERNEL (#GP, #BP...)
    }
}

// An exception in app code becomes the app's signal (libos decides): true if it was.
bool deliver_app_fault(TrapFrame& frame) {
    static constexpr uint64_t APP_VECTORS = (1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
        (1u << 13) | (1u << 14) | (1u << 16) | (1u << 17) | (1u << 19);
    if (!current_context() || frame.vector >= 32 || !(APP_VECTORS & (1ull << frame.vector))) return false;
    save_interrupted(frame);
    int code = fault_code(frame.vector, frame.error_code);
    uintptr_t address = frame.vector == 14 ? read_cr2() : (code == 0x80 ? 0 : frame.rip);
    uint64_t error = frame.vector == 14 ? frame.error_code | 4 : frame.error_code;  // Linux: a user-mode fault
    sched::AppFault fault{exception_info(frame.vector).signal, code, address, frame.vector, error};
    auto* next = static_cast<CpuContext*>(sched::on_app_fault(fault));
    if (!next) return false;
    resume(next, frame);
    return true;
}

}  // namespace

}  // namespace xos::x86

namespace {

// Interrupts whose handlers need no big lock (docs/locking.md): the local APIC timer (0xef,
// kvm/timer.cpp), the IPIs (x86_64/smp.h) and the spurious vector. The scheduler's part
// (reschedule) takes its own locks. Devices whose handlers have locks of their own (virtio-net)
// say so per vector (machine::irq_needs_big_lock).
bool lock_free_vector(uint64_t vector) {
    return vector == 0xef || (vector >= xos::x86::IPI_RESCHEDULE_VECTOR && vector <= xos::x86::IPI_TLB_VECTOR) ||
        vector == 0xff;
}

}  // namespace

extern "C" void xos_x86_trap(xos::x86::TrapFrame* frame) {
    using namespace xos;
    if (frame->vector == 14) {
        auto source = x86::user_copy_fixup(frame->rip) ? mm::FaultSource::UserCopy : mm::FaultSource::App;
        // No big lock here: the address space has a lock of its own, and a fault in a file
        // mapping takes the big lock itself (mm::VirtualMemory::handle_fault, docs/locking.md).
        if (mm::handle_page_fault(x86::read_cr2(), x86::fault_access(frame->error_code), source))
            return;  // demand paging
    }
    if (frame->vector == 14 || frame->vector == 13) {  // #GP: a non-canonical address
        if (uintptr_t fixup = x86::user_copy_fixup(frame->rip)) {
            frame->rip = fixup;  // a user copy gives up: EFAULT
            return;
        }
    }
    if (frame->vector == 3) {  // an int3 of the syscall rewriter's patch steps: no big lock (its holder waits)
        if (uintptr_t resume = rewrite::on_breakpoint(frame->rip - 1)) {
            frame->rip = resume;
            return;
        }
    }
    if (frame->vector < 32) {
        (void)sched::big_lock_enter();  // signal state; a fatal report
        bool delivered = x86::deliver_app_fault(*frame);
        sched::big_lock_leave();
        if (delivered) return;
        (void)sched::big_lock_enter();
        x86::fatal_exception(*frame);
    }
    if (frame->vector == x86::YIELD_VECTOR) {
        x86::reschedule(*frame, sched::InterruptKind::Yield);
        return;
    }
    machine::IrqResult irq;
    if (lock_free_vector(frame->vector) || !machine::irq_needs_big_lock(frame->vector)) {
        irq = machine::handle_irq(frame->vector);
    } else {
        if (sched::big_lock_enter()) sched::count_interrupt_big_lock();  // a device's handler
        irq = machine::handle_irq(frame->vector);
        sched::big_lock_leave();
    }
    switch (irq) {
    case machine::IrqResult::TimerTick: x86::reschedule(*frame, sched::InterruptKind::Timer); return;
    case machine::IrqResult::DeviceWakeup: x86::reschedule(*frame, sched::InterruptKind::Device); return;
    case machine::IrqResult::Handled: return;
    case machine::IrqResult::Unknown: klog("xos: unexpected interrupt vector %lu ignored", frame->vector); return;
    }
}
