// Several vCPUs on the hosted platform (docs/hosted.md, "Several vCPUs"): each is a host thread
// of the image's process, made before the seccomp filter (which refuses clone). vCPU 0 is the
// start thread; it alone takes the process-directed signals (the timer's SIGALRM, SIGIO,
// SIGWINCH, forwarded signals); the others block them and get IPIs (SIGUSR2 through tgkill to
// their thread): libos's boot CPU sends a Tick IPI to each busy CPU on its timer ticks. Idle is
// rt_sigsuspend (a directed signal ends it); waiters for the big lock sleep in a host futex wait
// (big_lock.S). GS of each vCPU thread points at its Vcpu: the entry code's "this CPU".
//
// Address spaces: the host maps one process's app pages at a time (memory.cpp), shared by every
// vCPU thread. A vCPU runs app code only after it took the big lock afresh with its process's
// space mapped (XOS_LOCK_TAKEN, handler_lock_enter: map_space_now when another is mapped) and
// until it asks for the lock again (Vcpu::may_run_app); whoever changes the mappings first waits
// until every other vCPU that may run app code of another space has asked for the lock (an IPI
// makes it). No TLB shootdown is needed: the host's mmap/mprotect apply to every thread.
#include <cstring>

#include "hosted/host.h"
#include "hosted/vcpu.h"
#include "xos/log.h"
#include "xos/platform.h"

extern "C" long xos_host_clone(unsigned long flags, void* stack, void (*fn)(unsigned long), unsigned long arg);
extern "C" void xos_big_lock_wait_c(uint32_t ticket, XosCpu* cpu);
extern "C" void xos_hosted_lock_wait(uint32_t ticket, XosCpu* cpu);
extern "C" void xos_big_lock_kick();
extern "C" uint32_t xos_big_lock_sleepers;

namespace xos::hosted {

Vcpu g_vcpus[XOS_MAX_CPUS];
unsigned g_vcpu_count = 1;

namespace {

constexpr long SYS_FUTEX = 202, SYS_GETTID = 186, SYS_RT_SIGPROCMASK = 14;
constexpr long FUTEX_WAIT_PRIVATE = 128, FUTEX_WAKE_PRIVATE = 129;
constexpr long ARCH_SET_GS = 0x1001;
constexpr unsigned long CLONE_THREAD_FLAGS = 0x100 /* VM */ | 0x200 /* FS */ | 0x400 /* FILES */ | 0x800 /* SIGHAND */ |
    0x10000 /* THREAD */ | 0x40000 /* SYSVSEM */;
constexpr size_t SETUP_STACK = 64 * 1024;  // a vCPU thread's own, until libos gives it a kernel stack
alignas(64) uint8_t g_setup_stacks[XOS_MAX_CPUS][SETUP_STACK];

uint64_t bit(int signal) { return uint64_t(1) << (signal - 1); }

void futex_wait(volatile uint32_t* word, uint32_t value, long timeout_ns = -1) {
    struct {
        long s, ns;
    } timeout{timeout_ns / 1000000000, timeout_ns % 1000000000};
    host::call(SYS_FUTEX, long(word), FUTEX_WAIT_PRIVATE, value, timeout_ns < 0 ? 0 : long(&timeout));
}
void futex_wake(volatile uint32_t* word) { host::call(SYS_FUTEX, long(word), FUTEX_WAKE_PRIVATE, 0x7fffffff); }

// What each vCPU thread sets up for itself: GS, its signal stack and mask, syscall user dispatch.
void setup_this_thread(unsigned index);

[[noreturn]] void vcpu_thread(unsigned long index_value) {
    auto index = unsigned(index_value);
    Vcpu& v = g_vcpus[index];
    setup_this_thread(index);
    v.tid = host::call(SYS_GETTID);
    __atomic_store_n(&v.ready_word, 1, __ATOMIC_RELEASE);
    futex_wake(&v.ready_word);
    while (!__atomic_load_n(&v.start_word, __ATOMIC_ACQUIRE)) futex_wait(&v.start_word, 0);
    v.interrupts_enabled = false;
    __atomic_store_n(&v.ready_word, 2, __ATOMIC_RELEASE);  // running: start_cpu returns
    futex_wake(&v.ready_word);
    // libos's entry for this CPU (sched's secondary_cpu_main) on the stack it gave: never returns.
    asm volatile("mov %0, %%rsp\n\t"
                 "xor %%ebp, %%ebp\n\t"
                 "call *%1\n\t"
                 "ud2"
                 :
                 : "r"(v.stack_top & ~uintptr_t(15)), "r"(v.entry), "D"(index)
                 : "memory");
    __builtin_unreachable();
}

}  // namespace

void init_signal_stack(unsigned index);  // signals.cpp
bool enable_user_dispatch_here();  // sandbox.cpp

namespace {

void setup_this_thread(unsigned index) {
    Vcpu& v = g_vcpus[index];
    long r = host::call(host::ARCH_PRCTL, ARCH_SET_GS, long(&v));
    if (r < 0) setup_failed("arch_prctl(ARCH_SET_GS) for a vCPU failed", r);
    init_signal_stack(index);
    r = host::call(SYS_RT_SIGPROCMASK, 2 /* SIG_SETMASK */, long(&v.signal_mask), 0, 8);
    if (r < 0) setup_failed("rt_sigprocmask for a vCPU failed", r);
    enable_user_dispatch_here();
}

}  // namespace

void set_vcpu_count(unsigned count) { g_vcpu_count = count; }

void start_vcpu_threads() {
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i) {
        g_vcpus[i].index = i;
        // Its setup stack serves the entry code later (Vcpu::entry_stack), once libos runs it.
        g_vcpus[i].entry_stack = reinterpret_cast<uintptr_t>(g_setup_stacks[i] + SETUP_STACK) & ~uintptr_t(15);
        g_vcpus[i].interrupts_enabled = i == 0 ? g_vcpus[0].interrupts_enabled : false;
    }
    if (g_vcpu_count < 2) return;
    // The process-directed signals go to vCPU 0 (the start thread) only.
    uint64_t directed_elsewhere =
        bit(host::SIGALRM) | bit(host::SIGIO) | bit(host::SIGWINCH) | bit(host::SIGNAL_FORWARD);
    g_vcpus[0].tid = host::call(SYS_GETTID);
    g_vcpus[0].may_run_app = 1;  // the first process's threads start here, in the boot space
    g_vcpus[0].space = xos_hosted_mapped_space;
    long r = host::call(host::ARCH_PRCTL, ARCH_SET_GS, long(&g_vcpus[0]));
    if (r < 0) setup_failed("arch_prctl(ARCH_SET_GS) failed", r);
    for (unsigned i = 1; i < g_vcpu_count; ++i) {
        Vcpu& v = g_vcpus[i];
        v.signal_mask = directed_elsewhere;
        long tid = xos_host_clone(CLONE_THREAD_FLAGS, g_setup_stacks[i] + SETUP_STACK, vcpu_thread, i);
        if (tid < 0) setup_failed("starting a vCPU thread (clone) failed", tid);
        while (!__atomic_load_n(&v.ready_word, __ATOMIC_ACQUIRE)) futex_wait(&v.ready_word, 0);
    }
}

void signal_vcpu(unsigned index, int signal) { host::call(host::TGKILL, g_pid, g_vcpus[index].tid, signal); }

void handler_lock_enter(unsigned index) {
    if (!xos_smp_active) return;
    if (xos_big_lock_owner == index + 1) {
        ++xos_big_lock_depth;
        return;
    }
    Vcpu& v = g_vcpus[index];
    v.may_run_app = 0;
    uint32_t ticket = __atomic_fetch_add(&xos_big_lock_next, 1, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&xos_big_lock_serving, __ATOMIC_ACQUIRE) != ticket)
        xos_big_lock_wait_c(ticket, &xos_cpus[index]);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    xos_big_lock_owner = index + 1;
    xos_this_cpu = &xos_cpus[index];
    v.may_run_app = 1;
    if (v.space && v.space != xos_hosted_mapped_space) map_space_now(v.space);
    xos_big_lock_depth = 1;
}

void handler_lock_leave() {
    if (!xos_smp_active) return;
    if (--xos_big_lock_depth) return;
    xos_big_lock_owner = 0;
    __atomic_fetch_add(&xos_big_lock_serving, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&xos_big_lock_sleepers, __ATOMIC_RELAXED)) xos_big_lock_kick();
}

void vcpu_needs_space(uint64_t* root) {
    if (xos_smp_active) this_vcpu().space = root;
}

void forget_space(uint64_t* root) {
    for (Vcpu& v : g_vcpus)
        if (v.space == root) v.space = nullptr;
}

void stop_app_code_elsewhere(uint64_t* root) {
    if (!xos_smp_active) return;
    unsigned self = this_vcpu_index();
    for (unsigned i = 0; i < g_vcpu_count; ++i) {
        if (i == self) continue;
        Vcpu& other = g_vcpus[i];
        auto busy = [&] {
            uint64_t* space = other.space;
            return __atomic_load_n(&other.may_run_app, __ATOMIC_ACQUIRE) && space && space != root;
        };
        // An IPI makes it enter libos (ask for the lock); one held back on its way out of the
        // entry code is sent again after 200 us.
        while (busy()) {
            __atomic_fetch_or(&other.ipi_pending, IPI_RESCHEDULE, __ATOMIC_RELEASE);
            signal_vcpu(i, SIGNAL_IPI);
            futex_wait(&other.may_run_app, 1, 200'000);
        }
    }
}

}  // namespace xos::hosted

// XOS_LOCK_TAKEN's slow path (big_lock.S's wrapper keeps the registers): this vCPU just took the
// big lock and the host maps another space than its thread's.
extern "C" void xos_hosted_space_fixup_c() {
    using namespace xos::hosted;
    Vcpu& v = this_vcpu();
    bool were_enabled = v.interrupts_enabled;
    v.interrupts_enabled = false;
    if (v.space && v.space != xos_hosted_mapped_space) map_space_now(v.space);
    v.interrupts_enabled = were_enabled;
}

namespace xos::platform {

unsigned cpu_count() { return hosted::g_vcpu_count; }

bool start_cpu(unsigned index, uintptr_t stack_top, void (*entry)(unsigned)) {
    if (index == 0 || index >= hosted::g_vcpu_count) return false;
    hosted::Vcpu& v = hosted::g_vcpus[index];
    v.entry = entry;
    v.stack_top = stack_top;
    __atomic_store_n(&v.start_word, 1, __ATOMIC_RELEASE);
    hosted::futex_wake(&v.start_word);
    while (__atomic_load_n(&v.ready_word, __ATOMIC_ACQUIRE) != 2) hosted::futex_wait(&v.ready_word, 1);
    return true;
}

void send_ipi(unsigned cpu, Ipi kind) {
    if (kind == Ipi::TlbFlush || cpu >= hosted::g_vcpu_count) return;  // the host's mmap/mprotect reach every thread
    __atomic_fetch_or(&hosted::g_vcpus[cpu].ipi_pending, kind == Ipi::Tick ? hosted::IPI_TICK : hosted::IPI_RESCHEDULE,
                      __ATOMIC_RELEASE);
    hosted::signal_vcpu(cpu, hosted::SIGNAL_IPI);
}

void cpu_relax(unsigned) { asm volatile("pause"); }

void big_lock_wait(unsigned index, uint32_t ticket) {
    xos_hosted_lock_wait(ticket, &xos_cpus[index]);  // big_lock.S
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

void big_lock_passed() {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&xos_big_lock_sleepers, __ATOMIC_RELAXED)) xos_big_lock_kick();
}

void activate_kernel_space() { hosted::vcpu_needs_space(nullptr); }

unsigned cpu_index_unlocked() { return hosted::this_vcpu_index(); }

}  // namespace xos::platform
