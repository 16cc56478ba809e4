// The hosted platform's vCPUs (docs/hosted.md, "Several vCPUs"): one host thread each, made
// before the seccomp filter (vcpu.cpp), driven by host signals (signals.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "xos/libos.h"

namespace xos::hosted {

// One per vCPU. A vCPU thread's GS base points at its own (set before the filter; libos refuses
// ARCH_SET_GS): the entry code (x86_64/big_lock.h, hosted/entry_cpu.inc) reads the first words,
// at fixed offsets.
struct alignas(64) Vcpu {
    // 0 (XOS_VCPU_IN_SPACE): the app space (software page-table root) this vCPU uses now: it may
    // run app code of it or touch its app memory. Always null or the space the host maps
    // (memory.cpp, mapped_space()). Set only by this vCPU, under the space lock (vcpu.cpp,
    // use_space); cleared by this vCPU alone, without it (leave_space, XOS_LOCK_ASKING).
    uint64_t* volatile in_space;
    // 8 (XOS_VCPU_SPACE): the app space its current thread needs (activate_app_space); null for
    // none (idle, a kernel thread).
    uint64_t* volatile space;
    // 16 (XOS_VCPU_SAVED_RSP): the stack pointer it had when it asked for the big lock in the
    // entry code. Between asking and holding it, and until its space is mapped again, it runs on
    // `entry_stack` (32, XOS_VCPU_ENTRY_STACK), its own: another vCPU may have unmapped the app
    // stack meanwhile.
    uintptr_t saved_rsp;
    uint32_t index;  // 24 (XOS_CPU_INDEX): its index
    uint32_t unused;
    uintptr_t entry_stack;
    // The rest is C++'s only.
    void* current;  // the CPU context (signals.cpp) of the thread it runs
    uint64_t fs_base;  // the host's FS base of this thread (the running libos thread's)
    volatile bool interrupts_enabled;
    volatile bool timer_pending;  // a SIGALRM held back (vCPU 0 only: the others block it)
    volatile bool in_handler;  // in a signal handler's call of the scheduler (activate_app_space waits later)
    volatile bool waiting_for_space;  // in use_space's wait (fairness: vcpu.cpp)
    volatile uint32_t ipi_pending;  // IPI_* bits, taken by its SIGUSR2 handler
    volatile uint32_t space_word;  // futex word of use_space's wait
    long tid;  // its host thread's id (tgkill)
    uint64_t signal_mask;  // host signals it keeps blocked: the process-directed ones but on vCPU 0
    // Bring-up (start_cpu): the thread sleeps on start_word until libos gives it a stack and entry.
    void (*entry)(unsigned);
    uintptr_t stack_top;
    volatile uint32_t start_word;
    volatile uint32_t ready_word;
};
static_assert(offsetof(Vcpu, in_space) == 0 && offsetof(Vcpu, space) == 8 && offsetof(Vcpu, saved_rsp) == 16 &&
              offsetof(Vcpu, index) == 24 && offsetof(Vcpu, entry_stack) == 32);

constexpr uint32_t IPI_RESCHEDULE = 1, IPI_TICK = 2, IPI_SPACE = 4;  // IPI_SPACE: give the space up (vcpu.cpp)
constexpr int SIGNAL_IPI = 12;  // SIGUSR2: an IPI, sent with tgkill to the vCPU's thread

extern Vcpu g_vcpus[XOS_MAX_CPUS];
extern unsigned g_vcpu_count;  // XOS_CPUS (1: the single-thread platform, unchanged)
extern long g_pid;

// The vCPU running the caller: vCPU 0 with one vCPU; else from GS.
inline unsigned this_vcpu_index() {
    if (!xos_smp_active) return 0;
    uint32_t index;
    asm volatile("mov %%gs:24, %0" : "=r"(index));
    return index;
}
inline Vcpu& this_vcpu() { return g_vcpus[this_vcpu_index()]; }

// start.cpp: XOS_CPUS; then, after the sandbox and before the filter, the other vCPUs' threads.
void set_vcpu_count(unsigned count);
void start_vcpu_threads();
// A host signal to vCPU `index`'s thread (tgkill).
void signal_vcpu(unsigned index, int signal);

// The one host address space (docs/hosted.md, "Processes share one host address space"). The
// space lock (a spinlock of the platform's, taken with this vCPU's interrupts off, innermost:
// nothing is taken under it but the frame allocator's locks through map_page/unmap_range) guards
// which space the host maps (mapped_space()), the software page tables' changes and the host's
// app mappings.
// `take` false: no lock (OptionalSpaceLock: one vCPU, where nothing else changes the mappings).
struct SpaceLockGuard {
    explicit SpaceLockGuard(bool take = true);
    ~SpaceLockGuard();
    SpaceLockGuard(const SpaceLockGuard&) = delete;
    SpaceLockGuard& operator=(const SpaceLockGuard&) = delete;
    bool taken, were_enabled;
};
struct OptionalSpaceLock : SpaceLockGuard {
    OptionalSpaceLock() : SpaceLockGuard(xos_smp_active) {}
};
// This vCPU uses its thread's space (Vcpu::space) from now on: waits until no other vCPU uses
// another one, has the host map it if needed. Holds no spinlock while it waits; may hold the big
// lock. Nothing when the vCPU uses it already, or none is needed.
void use_space();
// This vCPU stops using its space (it waits for the big lock, goes idle, runs a kernel thread).
void leave_space();
// After the scheduler ran in a handler: use the space of the thread it resumes, and give the
// space up for a while if another vCPU has waited for a different one for a time slice.
void settle_space();
// memory.cpp, under the space lock: the host maps `root`'s pages from now on.
void map_space_now(uint64_t* root);
// memory.cpp: the space the host maps now (under the space lock).
uint64_t* mapped_space();

}  // namespace xos::hosted
