// What a platform calls in libos.
#pragma once

namespace xos {

// Brings up the library OS (memory, arguments) and starts the app. Never returns.
[[noreturn]] void kernel_main();

namespace sched {

enum class InterruptKind { Timer, Yield };

// Called by the platform, interrupts disabled, after it saved the running thread's state into
// its CPU context. Returns the CPU context to resume (the same one, or another thread's).
void* on_interrupt(InterruptKind kind);

}  // namespace sched

}  // namespace xos

// The syscall dispatcher: musl's syscall macros call it directly; the `syscall` instruction
// trap path calls it too. Returns a value or -errno, as the Linux ABI does.
extern "C" long xos_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
