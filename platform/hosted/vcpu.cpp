// Several vCPUs on the hosted platform (docs/hosted.md, "Several vCPUs"): each is a host thread
// of the image's process, made before the seccomp filter (which refuses clone). vCPU 0 is the
// start thread; it alone takes the process-directed signals (the timer's SIGALRM, SIGIO,
// SIGWINCH, forwarded signals); the others block them and get IPIs (SIGUSR2 through tgkill to
// their thread): libos's boot CPU sends a Tick IPI to each busy CPU on its timer ticks. Idle is
// rt_sigsuspend (a directed signal ends it); waiters for the big lock sleep in a host futex wait
// (big_lock.S). GS of each vCPU thread points at its Vcpu: the entry code's "this CPU".
//
// Address spaces: the host maps one process's app pages at a time (memory.cpp), shared by every
// vCPU thread. A vCPU uses a space (Vcpu::in_space: runs its app code, touches its app memory)
// only while the host maps it; it takes it up (use_space, under the platform's space lock, not
// the big lock) after the scheduler switched it to a thread of that space, and gives it up when
// it switches to another space, goes idle, runs a kernel thread or waits for the big lock. The
// host's mappings change only while no vCPU uses the space mapped; a vCPU that needs another
// waits, and the users give theirs up at their next interrupt once it has been theirs for a time
// slice. No TLB shootdown is needed: the host's mmap/mprotect apply to every thread.
#include <cstring>

#include "hosted/host.h"
#include "hosted/vcpu.h"
#include "xos/log.h"
#include "xos/platform.h"

extern "C" long xos_host_clone(unsigned long flags, void* stack, void (*fn)(unsigned long), unsigned long arg);
extern "C" void xos_hosted_lock_wait(uint32_t ticket, XosCpu* cpu);
extern "C" void xos_big_lock_kick();
extern "C" uint32_t xos_big_lock_sleepers;

namespace xos::hosted {

Vcpu g_vcpus[XOS_MAX_CPUS];
unsigned g_vcpu_count = 1;

namespace {

constexpr long SYS_FUTEX = 202, SYS_GETTID = 186, SYS_RT_SIGPROCMASK = 14;
// membarrier(2) commands: the core-serializing barrier on every thread of this process.
constexpr long MEMBARRIER_SYNC_CORE = 32, MEMBARRIER_REGISTER_SYNC_CORE = 64;
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
    // vCPU 0 is the start thread, whose host signal mask is inherited from whoever started the
    // image (`xos-oci run` blocks SIGUSR1 and others while it waits for the container): the
    // platform's signals must reach it. With SIGUSR1 blocked, yield() returned without a switch
    // and a thread that blocked came back at once, still on its wait queue (oci-runtime-lifecycle's
    // hosted run crashed in wait4 about 1 run in 8). After init_signals: every signal it
    // handles has its handler by now.
    long masked = host::call(SYS_RT_SIGPROCMASK, 2 /* SIG_SETMASK */, long(&g_vcpus[0].signal_mask), 0, 8);
    if (masked < 0) setup_failed("rt_sigprocmask for vCPU 0 failed", masked);
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i) {
        g_vcpus[i].index = i;
        // Its setup stack serves the entry code later (Vcpu::entry_stack), once libos runs it.
        g_vcpus[i].entry_stack = reinterpret_cast<uintptr_t>(g_setup_stacks[i] + SETUP_STACK) & ~uintptr_t(15);
        g_vcpus[i].interrupts_enabled = i == 0 ? g_vcpus[0].interrupts_enabled : false;
    }
    if (g_vcpu_count < 2) return;
    // platform::sync_cores: registered before the seccomp filter, which then allows only the
    // barrier itself (seccomp.cpp).
    long registered = host::call(host::MEMBARRIER, MEMBARRIER_REGISTER_SYNC_CORE, 0, 0);
    if (registered < 0)
        setup_failed("membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) failed: several vCPUs need "
                     "it (Linux 4.16 or later)",
                     registered);
    // The process-directed signals go to vCPU 0 (the start thread) only.
    uint64_t directed_elsewhere =
        bit(host::SIGALRM) | bit(host::SIGIO) | bit(host::SIGWINCH) | bit(host::SIGNAL_FORWARD);
    g_vcpus[0].tid = host::call(SYS_GETTID);
    g_vcpus[0].space = mapped_space();  // the first process's threads start here, in the boot space
    g_vcpus[0].in_space = g_vcpus[0].space;
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

// --- The one host address space -------------------------------------------------------------

namespace {

volatile uint32_t g_space_lock;  // 0 free, else the holder's vCPU index + 1 (SpaceLockGuard)
volatile uint32_t g_space_generation;  // futex word: bumped when a vCPU leaves a space with waiters
uint64_t g_mapped_since_ns;  // when the host began to map the current space (under the lock)
// A space keeps the host's mappings at least this long while vCPUs use it, even when another
// vCPU waits for a different one (then its users give it up at their next interrupt): a time
// slice, so that two processes alternate at the scheduler's pace, not at each IPI.
constexpr uint64_t SPACE_SLICE_NS = 4'000'000;
constexpr long SPACE_RETRY_NS = 1'000'000;  // a waiter looks again (and kicks the users) this often

bool others_use_other_than(unsigned self, uint64_t* root) {
    for (unsigned i = 0; i < g_vcpu_count; ++i) {
        if (i == self) continue;
        uint64_t* in = __atomic_load_n(&g_vcpus[i].in_space, __ATOMIC_SEQ_CST);
        if (in && in != root) return true;
    }
    return false;
}

// Another vCPU waits for a space other than `root`.
bool wanted_elsewhere(unsigned self, uint64_t* root) {
    for (unsigned i = 0; i < g_vcpu_count; ++i) {
        if (i == self || !__atomic_load_n(&g_vcpus[i].waiting_for_space, __ATOMIC_SEQ_CST)) continue;
        if (g_vcpus[i].space != root) return true;
    }
    return false;
}

bool slice_over() { return platform::monotonic_ns() - g_mapped_since_ns >= SPACE_SLICE_NS; }

}  // namespace

SpaceLockGuard::SpaceLockGuard(bool take) : taken(take), were_enabled(false) {
    if (!take) return;
    unsigned self = this_vcpu_index();
    if (__atomic_load_n(&g_space_lock, __ATOMIC_RELAXED) == self + 1) {
        // Held by this vCPU already: a page fault inside the holder's own work. unmap_range's
        // release callback (mm::unref_frame) can run on a fresh app stack that exec switched to,
        // and its first push faults (copy on write after a fork): the fault's map_page comes
        // here. The fault's page is not one the holder walks (that is the stack, the holder walks
        // the range it unmaps), so the nested change goes ahead (it used to wait for itself).
        taken = false;
        return;
    }
    Vcpu& v = g_vcpus[self];
    were_enabled = v.interrupts_enabled;
    v.interrupts_enabled = false;
    asm volatile("" ::: "memory");
    uint32_t free = 0;
    while (!__atomic_compare_exchange_n(&g_space_lock, &free, self + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        while (__atomic_load_n(&g_space_lock, __ATOMIC_RELAXED)) asm volatile("pause");
        free = 0;
    }
}

SpaceLockGuard::~SpaceLockGuard() {
    if (!taken) return;
    __atomic_store_n(&g_space_lock, 0, __ATOMIC_RELEASE);
    if (were_enabled) platform::interrupts_enable();
}

void leave_space() {
    if (!xos_smp_active) return;
    Vcpu& v = this_vcpu();
    if (!v.in_space) return;
    __atomic_store_n(&v.in_space, nullptr, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < g_vcpu_count; ++i) {
        if (__atomic_load_n(&g_vcpus[i].waiting_for_space, __ATOMIC_SEQ_CST)) {
            __atomic_fetch_add(&g_space_generation, 1, __ATOMIC_SEQ_CST);
            futex_wake(&g_space_generation);
            return;
        }
    }
}

void use_space() {
    if (!xos_smp_active) return;
    unsigned self = this_vcpu_index();
    Vcpu& v = g_vcpus[self];
    bool were_enabled = v.interrupts_enabled;  // no interrupt (and no settle_space) nests in the wait
    v.interrupts_enabled = false;
    for (;;) {
        uint64_t* want = v.space;
        if (v.in_space && v.in_space != want) leave_space();
        if (!want || v.in_space == want) break;
        uint32_t generation = __atomic_load_n(&g_space_generation, __ATOMIC_SEQ_CST);
        {
            SpaceLockGuard guard;
            __atomic_store_n(&v.waiting_for_space, true, __ATOMIC_SEQ_CST);
            uint64_t* mapped = mapped_space();
            bool may =
                !others_use_other_than(self, want) && !(mapped == want && wanted_elsewhere(self, want) && slice_over());
            if (may) {
                if (mapped != want) {
                    map_space_now(want);
                    g_mapped_since_ns = platform::monotonic_ns();
                }
                __atomic_store_n(&v.in_space, want, __ATOMIC_SEQ_CST);
                __atomic_store_n(&v.waiting_for_space, false, __ATOMIC_SEQ_CST);
                break;
            }
        }
        // Every vCPU in another space gets an IPI: its handler gives the space up once its slice
        // is over (settle_space); one that waits for the big lock has given it up already.
        for (unsigned i = 0; i < g_vcpu_count; ++i) {
            uint64_t* in = __atomic_load_n(&g_vcpus[i].in_space, __ATOMIC_SEQ_CST);
            if (i == self || !in || in == want) continue;
            __atomic_fetch_or(&g_vcpus[i].ipi_pending, IPI_SPACE, __ATOMIC_RELEASE);
            signal_vcpu(i, SIGNAL_IPI);
        }
        futex_wait(&g_space_generation, generation, SPACE_RETRY_NS);
    }
    v.interrupts_enabled = were_enabled;
    if (were_enabled) platform::interrupts_enable();  // what was held back meanwhile
}

void settle_space() {
    if (!xos_smp_active) return;
    unsigned self = this_vcpu_index();
    Vcpu& v = g_vcpus[self];
    uint64_t* in = v.in_space;
    if (in && in == v.space && wanted_elsewhere(self, in)) {
        bool give_up;
        {
            SpaceLockGuard guard;
            give_up = slice_over();
        }
        if (give_up) leave_space();
    }
    use_space();
}

}  // namespace xos::hosted

// XOS_LOCK_TAKEN's slow path (big_lock.S's wrapper keeps the registers): this vCPU just took the
// big lock and does not use its thread's space (it left it while it waited).
extern "C" void xos_hosted_space_fixup_c() { xos::hosted::use_space(); }

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

// The host's core-serializing barrier: every thread of this process that runs app code on a
// host CPU executes a serializing instruction before it returns (membarrier(2)), which is the
// cross-modifying-code protocol (platform.h).
void sync_cores() {
    if (hosted::g_vcpu_count < 2) return;
    long r = hosted::host::call(hosted::host::MEMBARRIER, hosted::MEMBARRIER_SYNC_CORE, 0, 0);
    if (r != 0) panic("membarrier(SYNC_CORE) failed (registered at start)");
}

namespace {
// A spin wait's bound before its vCPU thread sleeps in a host futex wait (as the big lock's
// waiters do, big_lock.S): a holder that runs hands over sooner; a longer wait means the host
// preempted the holder's thread, and spinning on takes host time from it.
constexpr unsigned SPIN_ROUNDS = 256;
uint32_t g_spin_sleepers;  // vCPUs in spin_wait's futex wait
}  // namespace

// Interrupts are off: the signal handlers hold a tick or an IPI back (signals.cpp) and only end
// the futex wait early (EINTR), after which the word is checked again.
void spin_wait(unsigned index, const uint32_t* word, uint32_t value) {
    for (unsigned round = 0; round < SPIN_ROUNDS; ++round) {
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) return;
        asm volatile("pause");
    }
    xos_count_event(xos_cpu_events[index].spin_halts);
    __atomic_fetch_add(&g_spin_sleepers, 1, __ATOMIC_SEQ_CST);
    for (uint32_t seen; (seen = __atomic_load_n(word, __ATOMIC_SEQ_CST)) != value;)
        hosted::futex_wait(const_cast<volatile uint32_t*>(word), seen);
    __atomic_fetch_sub(&g_spin_sleepers, 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

// After a sequentially consistent store to *word: a sleeper counted before it is woken (all of
// them: each checks its own value), or it saw the store before it slept (the futex wait's value).
void spin_wake(const uint32_t* word, uint32_t) {
    if (__atomic_load_n(&g_spin_sleepers, __ATOMIC_SEQ_CST)) hosted::futex_wake(const_cast<volatile uint32_t*>(word));
}

void big_lock_wait(unsigned index, uint32_t ticket) {
    if (__atomic_load_n(&xos_big_lock_serving, __ATOMIC_ACQUIRE) == ticket) return;
    // On the vCPU's entry stack, out of its space until it holds the lock (big_lock.S).
    xos_hosted_lock_wait(ticket, &xos_cpus[index]);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

void big_lock_passed() {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&xos_big_lock_sleepers, __ATOMIC_RELAXED)) xos_big_lock_kick();
}

void activate_kernel_space() {
    hosted::Vcpu& v = hosted::this_vcpu();
    v.space = nullptr;
    if (!v.in_handler) hosted::leave_space();  // in a handler: settle_space, once the scheduler is done
}

unsigned cpu_index_unlocked() { return hosted::this_vcpu_index(); }

}  // namespace xos::platform
