// The hosted platform's vCPUs (docs/hosted.md, "Several vCPUs"): one host thread each, made
// before the seccomp filter (vcpu.cpp), driven by host signals (signals.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "xos/libos.h"

namespace xos::hosted {

// One per vCPU. A vCPU thread's GS base points at its own (set before the filter; libos refuses
// ARCH_SET_GS): the entry code (x86_64/big_lock.h) reads the first words, at fixed offsets.
struct alignas(64) Vcpu {
    // 0 (XOS_VCPU_MAY_RUN_APP): 1 from the moment it takes the big lock afresh until it asks for
    // it again (or goes idle): while 0 it runs no app code, so the host's app mappings may change.
    volatile uint32_t may_run_app;
    uint32_t unused0;
    // 8 (XOS_VCPU_SPACE): the app space (software page-table root) its thread needs mapped in the
    // host; null for none (idle, a kernel thread).
    uint64_t* volatile space;
    // 16 (XOS_VCPU_SAVED_RSP): the stack pointer it had when it asked for the big lock. Between
    // asking and holding it, and until its space is mapped again, it runs on `entry_stack` (32,
    // XOS_VCPU_ENTRY_STACK), its own: another vCPU may have unmapped the app stack meanwhile.
    uintptr_t saved_rsp;
    uint32_t index;  // 24 (XOS_CPU_INDEX): its index
    uint32_t unused2;
    uintptr_t entry_stack;
    // The rest is C++'s only.
    void* current;  // the CPU context (signals.cpp) of the thread it runs
    uint64_t fs_base;  // the host's FS base of this thread (the running libos thread's)
    volatile bool interrupts_enabled;
    volatile bool timer_pending;  // a SIGALRM held back (vCPU 0 only: the others block it)
    volatile uint32_t ipi_pending;  // IPI_* bits, taken by its SIGUSR2 handler
    long tid;  // its host thread's id (tgkill)
    uint64_t signal_mask;  // host signals it keeps blocked: the process-directed ones but on vCPU 0
    // Bring-up (start_cpu): the thread sleeps on start_word until libos gives it a stack and entry.
    void (*entry)(unsigned);
    uintptr_t stack_top;
    volatile uint32_t start_word;
    volatile uint32_t ready_word;
};
static_assert(offsetof(Vcpu, may_run_app) == 0 && offsetof(Vcpu, space) == 8 && offsetof(Vcpu, saved_rsp) == 16 &&
              offsetof(Vcpu, index) == 24 && offsetof(Vcpu, entry_stack) == 32);

constexpr uint32_t IPI_RESCHEDULE = 1, IPI_TICK = 2;
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
// The host signals each vCPU's thread keeps blocked, for the signal frames it resumes.
// A host signal to vCPU `index`'s thread (tgkill).
void signal_vcpu(unsigned index, int signal);
// The big lock taken and given back by a signal handler around libos work, as the VM's trap
// entry does (nested when this vCPU holds it already).
void handler_lock_enter(unsigned index);
void handler_lock_leave();
// memory.cpp: the app space the host maps now, and this vCPU's need of one. Changing the host's
// mappings first has every other vCPU that may run app code of another space out of it.
void vcpu_needs_space(uint64_t* root);
void stop_app_code_elsewhere(uint64_t* root);
void map_space_now(uint64_t* root);  // memory.cpp: the host maps `root`'s pages (lock held)
void forget_space(uint64_t* root);  // a space freed: no vCPU names it any more

}  // namespace xos::hosted

extern "C" uint64_t* volatile xos_hosted_mapped_space;  // memory.cpp: the space the host maps
