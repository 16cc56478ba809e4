// What a platform calls in libos.
#pragma once

#include <cstdint>

namespace xos {

// Brings up the library OS (memory, arguments) and starts the app. Never returns.
[[noreturn]] void kernel_main();

namespace mm {

// A zeroed 4 KiB page for a page table (physical; platform::phys_to_virt reaches it), or 0
// when memory is exhausted.
uintptr_t allocate_page_table_page();

enum class FaultAccess { Read, Write, Execute };
// Who touched the page: the app itself, or libos copying to/from app memory for a syscall
// (platform::copy_user, or a host call made on behalf of an app buffer). A fault libos cannot
// resolve ends the image for the app (SIGSEGV, or SIGBUS past the end of a mapped file) but is
// EFAULT for a copy, as on Linux.
enum class FaultSource { App, UserCopy };
// Called by the platform on a page fault at `address` (interrupts disabled). True if libos
// resolved it (demand paging); false if it is a real fault, which the platform then reports,
// using describe_fault() for the details, or turns into EFAULT when it hit a user copy.
bool handle_page_fault(uintptr_t address, FaultAccess access, FaultSource source = FaultSource::App);
// A short explanation of why `address` faulted ("guard page", "not mapped", ...).
const char* describe_fault(uintptr_t address, FaultAccess access);

}  // namespace mm

namespace sched {

// Timer: a tick (time slices, sleepers). Yield: the current thread blocks or yields.
// Device: a device interrupt that may have woken a thread.
enum class InterruptKind { Timer, Yield, Device };

// The running thread's id, for crash reports (0 before threads exist).
int current_thread_id();

// Called by the platform, interrupts disabled, after it saved the running thread's state into
// its CPU context. Returns the CPU context to resume (the same one, or another thread's).
void* on_interrupt(InterruptKind kind);

}  // namespace sched

}  // namespace xos

// The syscall dispatcher: musl's syscall macros call it directly; the `syscall` instruction
// trap path calls it too. Returns a value or -errno, as the Linux ABI does.
extern "C" long xos_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

// The trap path of a `syscall` instruction (platform/x86_64/syscall_trap.S) calls this first:
// `after` is the address after the instruction, `number` the syscall number. libos may rewrite
// the site into a jump to a trampoline (libos/rewrite/rewrite.h); the syscall itself runs after.
extern "C" void xos_rewrite_trap(uintptr_t after, long number);

// The trap path's entry for a `syscall`-instruction clone (SYS_clone returns twice): `frame`
// holds the caller's registers, upward r15 r14 r13 r12 rbp rbx r9 r8 r10 rdx rsi rdi rflags
// rip; the arguments are rdi (flags), rsi (new stack), rdx (parent tid), r10 (child tid), r8
// (TLS). Returns the parent's result or -errno; the child starts in resume_cloned_thread().
extern "C" long xos_syscall_clone(const uint64_t* frame);
