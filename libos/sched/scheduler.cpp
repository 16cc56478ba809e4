// The scheduler: round-robin with time slices, a run queue per CPU (each under its own
// spinlock), work stealing by a CPU that has nothing to run, CPU affinity; driven by the
// platform's interrupt path (timer ticks, IPIs and voluntary yields). See thread.h for the
// concurrency model and docs/locking.md for the locks.
#include <cstring>

#include "base/klog.h"
#include "base/spinlock.h"
#include "base/verify.h"
#include "mm/heap.h"
#include "sched/big_lock_stats.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "xos/libos.h"
#include "xos/platform.h"

extern "C" {
alignas(64) XosCpu xos_cpus[XOS_MAX_CPUS];
XosCpu* xos_this_cpu = &xos_cpus[0];
uint32_t xos_big_lock_next;
uint32_t xos_big_lock_serving;
uint32_t xos_big_lock_owner;
uint32_t xos_big_lock_depth;
uint8_t xos_smp_active;
}

namespace xos::sched {

namespace {

constexpr uint32_t TIMER_HZ = 250;  // 4 ms ticks: sleep granularity and preemption
constexpr uint32_t SLICE_TICKS = 3;  // 12 ms time slices

// What each CPU runs (docs/locking.md): read and written only by the CPU holding the big lock,
// for itself (cpu()) or, for the checks that span CPUs, for all of them.
struct CpuState {
    Thread* current;
    Thread* idle;
    Process* active;  // the process whose address space is this CPU's current one
    bool need_resched;
    bool online;
    bool wake_sent;  // a reschedule IPI is on its way (an idle CPU is woken once)
    int interrupt_depth;  // > 0 on the interrupt path (in_interrupt())
};
CpuState g_cpu[XOS_MAX_CPUS];
unsigned g_cpus_online = 1;

CpuState& cpu() { return g_cpu[xos_this_cpu->index]; }

// A CPU's runnable threads, in the order they run. `length` is also read without the lock, as
// a hint (placement, stealing): the lock is taken before acting on it.
struct RunQueue {
    SpinLock lock;
    IntrusiveList<Thread, &Thread::queue_node> threads GUARDED_BY(lock);
    unsigned length GUARDED_BY(lock) = 0;
};
RunQueue g_run_queues[XOS_MAX_CPUS];

// Threads in a timed wait, by ascending deadline.
SpinLock g_sleepers_lock;
IntrusiveList<Thread, &Thread::sleep_node> g_sleepers GUARDED_BY(g_sleepers_lock);
IntrusiveList<Thread, &Thread::all_node> g_all;
IntrusiveList<Thread, &Thread::queue_node> g_dead;  // exited, freed at a later yield point (reap_dead_threads)
int g_live_threads;
int g_next_tid = 1;
uint64_t g_dead_cpu_time_ns;  // CPU time of threads that exited
int g_device_waiters;  // threads blocked on a WakeSource::Device queue
void (*g_termination_hook)();
void (*g_signal_entry)(uint64_t* regs);

ErrorOr<Thread*> allocate_thread() {
    auto* thread = mm::kcreate<Thread>();
    if (!thread) return error(EAGAIN);
    size_t size = platform::cpu_context_size() + 64;
    thread->context_memory = mm::kmalloc(size);
    thread->kernel_stack = mm::alloc_pages(KERNEL_STACK_PAGES);
    VERIFY(platform::user_fpu_size() <= 4096);
    thread->user_fpu = static_cast<uint8_t*>(mm::alloc_pages(1));
    if (!thread->context_memory || !thread->kernel_stack || !thread->user_fpu) {
        mm::kfree(thread->context_memory);
        if (thread->kernel_stack) mm::free_pages(thread->kernel_stack, KERNEL_STACK_PAGES);
        if (thread->user_fpu) mm::free_pages(thread->user_fpu, 1);
        mm::kdestroy(thread);
        return error(EAGAIN);
    }
    auto aligned = (reinterpret_cast<uintptr_t>(thread->context_memory) + 63) & ~uintptr_t(63);
    thread->cpu_context = reinterpret_cast<void*>(aligned);
    return thread;
}

void free_thread(Thread* thread) {
    if (thread->kernel_stack) mm::free_pages(thread->kernel_stack, KERNEL_STACK_PAGES);
    if (thread->user_fpu) mm::free_pages(thread->user_fpu, 1);
    mm::kfree(thread->context_memory);
    mm::kdestroy(thread);
}

void insert_sleeper(Thread& thread) {
    SpinLockGuard guard(g_sleepers_lock);
    Thread* position = nullptr;
    g_sleepers.for_each([&](Thread& other) {
        if (!position && other.deadline_ns > thread.deadline_ns) position = &other;
    });
    if (position)
        g_sleepers.insert_before(*position, thread);
    else
        g_sleepers.push_back(thread);
}

unsigned this_cpu() { return xos_this_cpu->index; }

uint64_t online_mask() {
    uint64_t mask = 0;
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (g_cpu[i].online) mask |= uint64_t(1) << i;
    return mask;
}

bool may_run_on(const Thread& thread, unsigned cpu_index) { return (thread.affinity >> cpu_index) & 1; }

// The number of threads waiting in a CPU's run queue: a hint, read without its lock.
unsigned queued_hint(unsigned cpu_index) NO_THREAD_SAFETY_ANALYSIS {
    return __atomic_load_n(&g_run_queues[cpu_index].length, __ATOMIC_RELAXED);
}

bool idle_and_empty(unsigned cpu_index) {
    return g_cpu[cpu_index].current == g_cpu[cpu_index].idle && queued_hint(cpu_index) == 0;
}

void enqueue(unsigned cpu_index, Thread& thread) {
    RunQueue& queue = g_run_queues[cpu_index];
    SpinLockGuard guard(queue.lock);
    queue.threads.push_back(thread);
    __atomic_store_n(&queue.length, queue.length + 1, __ATOMIC_RELAXED);
    thread.queued_cpu = int(cpu_index);
}

Thread* dequeue_front(unsigned cpu_index) {
    RunQueue& queue = g_run_queues[cpu_index];
    SpinLockGuard guard(queue.lock);
    Thread* thread = queue.threads.pop_front();
    if (!thread) return nullptr;
    __atomic_store_n(&queue.length, queue.length - 1, __ATOMIC_RELAXED);
    thread->queued_cpu = -1;
    return thread;
}

// Takes a runnable thread off whichever run queue holds it. False if none does.
bool dequeue(Thread& thread) {
    int cpu_index = thread.queued_cpu;
    if (cpu_index < 0) return false;
    RunQueue& queue = g_run_queues[cpu_index];
    SpinLockGuard guard(queue.lock);
    decltype(queue.threads)::remove(thread);
    __atomic_store_n(&queue.length, queue.length - 1, __ATOMIC_RELAXED);
    thread.queued_cpu = -1;
    return true;
}

// Where a thread that becomes runnable goes: an idle CPU it may use (the one it last ran on
// first), else the allowed CPU with the fewest threads (ties: the last one, then this one).
unsigned choose_cpu(Thread& thread) {
    if (!xos_smp_active) return this_cpu();
    uint64_t allowed = thread.affinity & online_mask();
    if (!allowed) allowed = online_mask();  // set_affinity keeps an online CPU in every mask
    unsigned last = thread.last_cpu, self = this_cpu();
    bool last_allowed = (allowed >> last) & 1;
    if (last_allowed && idle_and_empty(last)) return last;
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (((allowed >> i) & 1) && idle_and_empty(i)) return i;
    auto load = [](unsigned i) { return queued_hint(i) + (g_cpu[i].current != g_cpu[i].idle ? 1 : 0); };
    unsigned best = last_allowed ? last : ((allowed >> self) & 1) ? self : unsigned(__builtin_ctzll(allowed));
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (((allowed >> i) & 1) && load(i) < load(best)) best = i;
    return best;
}

// A reschedule IPI to CPU `target` if it is idle (once per idle spell), so it runs (or steals)
// the work just queued.
void kick_if_idle(unsigned target) {
    CpuState& other = g_cpu[target];
    if (target == this_cpu() || !other.online || other.current != other.idle || other.wake_sent) return;
    other.wake_sent = true;
    platform::send_ipi(target, platform::Ipi::Reschedule);
}

// Queues a thread on the run queue of a CPU it may run on (choose_cpu) and, with several CPUs,
// wakes that CPU if it is idle. If it went to a busy CPU, an idle one that may steal it is
// woken instead: it takes work from the busiest queue.
void make_runnable(Thread& thread) {
    thread.state = ThreadState::Runnable;
    unsigned target = choose_cpu(thread);
    enqueue(target, thread);
    if (!xos_smp_active) return;
    if (g_cpu[target].current == g_cpu[target].idle) {
        kick_if_idle(target);
        return;
    }
    uint64_t allowed = thread.affinity & online_mask();
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (((allowed >> i) & 1) && i != target && idle_and_empty(i)) {
            kick_if_idle(i);
            return;
        }
}

// Work stealing: a CPU with an empty run queue takes a thread that may run on it from the
// busiest other queue (the first such thread from the back: the one that would wait longest).
// One run-queue lock at a time.
Thread* steal(unsigned self) {
    if (!xos_smp_active) return nullptr;
    uint64_t tried = uint64_t(1) << self;
    for (;;) {
        unsigned victim = XOS_MAX_CPUS, most = 0;
        for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
            if (!((tried >> i) & 1) && g_cpu[i].online && queued_hint(i) > most) {
                most = queued_hint(i);
                victim = i;
            }
        if (victim == XOS_MAX_CPUS) return nullptr;
        tried |= uint64_t(1) << victim;
        RunQueue& queue = g_run_queues[victim];
        SpinLockGuard guard(queue.lock);
        Thread* taken = nullptr;
        queue.threads.for_each([&](Thread& t) {
            if (may_run_on(t, self)) taken = &t;
        });
        if (!taken) continue;
        decltype(queue.threads)::remove(*taken);
        __atomic_store_n(&queue.length, queue.length - 1, __ATOMIC_RELAXED);
        taken->queued_cpu = -1;
        return taken;
    }
}

// True if this CPU has a thread to switch to: its own queue, or one it may steal.
bool work_for(unsigned self) {
    if (queued_hint(self)) return true;
    if (!xos_smp_active) return false;
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (i != self && g_cpu[i].online && queued_hint(i)) return true;
    return false;
}

bool queued_anywhere() {
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (queued_hint(i)) return true;
    return false;
}

// True if a CPU other than this one runs a thread (not its idle thread): it may still wake others.
bool other_cpu_busy() {
    unsigned self = xos_this_cpu->index;
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (i != self && g_cpu[i].online && g_cpu[i].current != g_cpu[i].idle) return true;
    return false;
}

// True if `process` is the active address space of some CPU.
bool active_anywhere(Process* process) {
    for (const CpuState& c : g_cpu)
        if (c.online && c.active == process) return true;
    return false;
}

bool current_anywhere(Thread* thread) {
    for (const CpuState& c : g_cpu)
        if (c.online && c.current == thread) return true;
    return false;
}

void wake_expired_sleepers(uint64_t now) {
    for (;;) {
        Thread* sleeper;
        {
            SpinLockGuard guard(g_sleepers_lock);
            sleeper = g_sleepers.front();
        }
        if (!sleeper || sleeper->deadline_ns > now) break;
        wake(*sleeper, WakeReason::Timeout);
    }
}

bool no_sleepers() {
    SpinLockGuard guard(g_sleepers_lock);
    return g_sleepers.empty();
}

[[noreturn]] void report_deadlock() {
    klog("xos: deadlock: all %d thread(s) are blocked with no timeout and nothing can wake them", g_live_threads);
    g_all.for_each([](Thread& t) {
        if (t.state != ThreadState::Blocked)
            klog("  thread %d: not runnable", t.tid);
        else if (t.waiting_on)
            klog("  thread %d: blocked on wait queue %p, signals pending %#lx blocked %#lx", t.tid,
                 static_cast<void*>(t.waiting_on), t.signal_pending, t.signal_mask);
        else
            klog("  thread %d: blocked, signals pending %#lx blocked %#lx", t.tid, t.signal_pending, t.signal_mask);
    });
    klog("backtrace:");
    platform::print_backtrace();
    platform::shutdown(platform::ExitKind::Crash, 134, "deadlock: every thread is blocked forever");
}

Thread* pick_next() {
    unsigned self = this_cpu();
    if (Thread* next = dequeue_front(self)) return next;
    if (Thread* next = steal(self)) return next;
    // Nothing runnable: idle until an interrupt changes that: a timer tick waking a sleeper, or
    // a device interrupt waking a thread that waits on a device. With neither, nothing ever will.
    if (no_sleepers() && g_device_waiters == 0 && !other_cpu_busy() && !queued_anywhere()) report_deadlock();
    return cpu().idle;
}

// Frees the threads that exited, once another thread runs. In thread context, at a yield point:
// not on the interrupt path, which may have interrupted libos code inside the kernel heap (the
// heap is not reentrant). Interrupts off.
// A dead thread's process loses a reference here; the last one frees the process's memory,
// which must not be the active address space (a kernel thread may run on any of them): such a
// thread waits for a later reap.
void reap_dead_threads() {
    ASSERT(!platform::interrupts_enabled() && !in_interrupt());
    g_dead.for_each([](Thread& dead) {
        if (current_anywhere(&dead)) return;
        Process* process = dead.process;
        if (process && process->live_threads == 0 && active_anywhere(process)) return;  // see above
        decltype(g_dead)::remove(dead);
        g_dead_cpu_time_ns += dead.cpu_time_ns;
        if (process) process->dead_threads_cpu_ns += dead.cpu_time_ns;
        free_thread(&dead);
        if (process) release_process(*process);
    });
}

// Resumes a thread that must not run app code again in the termination hook instead: its
// registers are dropped, it starts over on its kernel stack.
void terminate_entry(uintptr_t, uintptr_t) {
    enter_kernel();
    g_termination_hook();
    panic("the termination hook returned");
}

// The syscall entry of whichever thread runs moves to its kernel stack (entry64.S).
void set_kernel_stack(Thread& thread) {
    xos_this_cpu->kernel_stack_top = kernel_stack_top(thread);
    xos_this_cpu->kernel_stack_size = KERNEL_STACK_PAGES * 4096;
}

// Starts a redirected thread in the signal entry (redirect_to_signal_entry).
void signal_entry(uintptr_t, uintptr_t) {
    g_signal_entry(user_frame(*cpu().current));
    panic("the signal entry returned");
}

// What a thread about to run resumes: a thread that must end goes to the termination path; one
// interrupted in app code with a signal to take, to the signal entry; else where it was.
void* prepare_resume(Thread& next, bool switched) {
    if (next.in_kernel || !next.process || next.kernel_thread) {
        if (xos_smp_active) xos_big_lock_depth = next.lock_depth;
        return next.cpu_context;
    }
    bool in_app = in_app_code(next);
    if (g_termination_hook && (switched || in_app) && must_terminate(next)) {
        platform::cpu_context_init(next.cpu_context, terminate_entry, 0, 0,
                                   reinterpret_cast<uintptr_t>(user_frame(next)), 0);
        next.lock_depth = KERNEL_ENTRY_LOCK_DEPTH;
    } else if (in_app && (next.signal_pending & ~next.signal_mask)) {
        redirect_to_signal_entry(next);
    }
    if (xos_smp_active) xos_big_lock_depth = next.lock_depth;
    return next.cpu_context;
}

void switch_address_space(Thread& next) {
    if (!next.process && xos_smp_active && cpu().active) {
        // With several CPUs, one that runs no app thread (idle, or a kernel thread) keeps no
        // app space current: the process may exec or exit (and its page tables go) meanwhile.
        platform::activate_kernel_space();
        cpu().active = nullptr;
        return;
    }
    if (!next.process || next.process == cpu().active) return;
    cpu().active = next.process;
    activate_process_memory(*next.process);
}

void account_switch(Thread& from, Thread& to, uint64_t now) {
    if (&from != cpu().idle) from.cpu_time_ns += now - from.switched_in_ns;
    to.switched_in_ns = now;
    to.slice_ticks = 0;
}

[[noreturn]] void idle_loop(uintptr_t, uintptr_t) {
    for (;;) platform::wait_for_interrupt();
}

// The big lock from C (a CPU coming up): the same protocol as entry64.S's BIG_LOCK_ENTER.
void big_lock_acquire(unsigned index) {
    uint32_t ticket = __atomic_fetch_add(&xos_big_lock_next, 1, __ATOMIC_ACQUIRE);
    platform::big_lock_wait(index, ticket);
    xos_big_lock_owner = index + 1;
    xos_this_cpu = &xos_cpus[index];
    xos_big_lock_depth = 1;
}

void big_lock_release() {
    xos_big_lock_depth = 0;
    xos_big_lock_owner = 0;
    __atomic_store_n(&xos_big_lock_serving, xos_big_lock_serving + 1, __ATOMIC_RELEASE);
    platform::big_lock_passed();
}

// An application processor, once the platform has set it up (interrupts off, on its idle
// thread's kernel stack): becomes that idle thread and waits for work.
[[noreturn]] void secondary_cpu_main(unsigned index) {
    big_lock_acquire(index);
    CpuState& c = cpu();
    Thread* idle = c.idle;
    c.current = idle;
    idle->state = ThreadState::Running;
    platform::cpu_context_adopt_current(idle->cpu_context);
    set_kernel_stack(*idle);
    c.active = nullptr;
    c.online = true;
    ++g_cpus_online;
    big_lock_release();
    idle_loop(0, 0);
}

void start_secondary_cpus() {
    unsigned count = platform::cpu_count();
    if (count > XOS_MAX_CPUS) count = XOS_MAX_CPUS;
    if (count < 2) return;
    for (unsigned i = 1; i < count; ++i) {
        auto idle = allocate_thread();
        if (!idle) panic("no memory for CPU %u's idle thread", i);
        (*idle)->tid = 0;
        (*idle)->lock_depth = 1;
        g_cpu[i].idle = *idle;
    }
    // From here on libos runs under the big lock; the boot flow holds it (it is libos code).
    xos_big_lock_next = 1;  // ticket 0 is the boot flow's
    xos_big_lock_serving = 0;
    xos_big_lock_owner = 1;
    xos_big_lock_depth = 1;
    __atomic_store_n(&xos_smp_active, 1, __ATOMIC_RELEASE);
    for (unsigned i = 1; i < count; ++i) {
        uintptr_t stack = kernel_stack_top(*g_cpu[i].idle);
        if (!platform::start_cpu(i, stack, secondary_cpu_main)) {
            klog("xos: CPU %u did not start", i);
            break;
        }
    }
}

}  // namespace

unsigned cpus_online() { return g_cpus_online; }

BigLockStats g_big_lock_stats;
bool big_lock_fresh() { return xos_smp_active && xos_big_lock_depth == 1; }
uint64_t online_cpu_mask() { return online_mask(); }

uint64_t affinity(Thread& thread) { return thread.affinity & online_mask(); }

ErrorOr<void> set_affinity(Thread& thread, uint64_t mask) {
    if (!(mask & online_mask())) return error(EINVAL);
    platform::InterruptGuard guard;
    thread.affinity = mask;
    if (&thread == cpu().current) {
        // Moves off this CPU now if it may no longer run here (the switch re-queues it elsewhere).
        if (!may_run_on(thread, this_cpu())) platform::yield();
        return {};
    }
    if (thread.state == ThreadState::Runnable && thread.queued_cpu >= 0 &&
        !may_run_on(thread, unsigned(thread.queued_cpu))) {
        dequeue(thread);
        make_runnable(thread);
        return {};
    }
    if (thread.state == ThreadState::Running && xos_smp_active) {
        // Running on another CPU (under the big lock only the holder runs libos, so it is in app
        // code or waiting for the lock): a reschedule IPI makes that CPU switch it out.
        for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
            if (g_cpu[i].online && g_cpu[i].current == &thread && !may_run_on(thread, i))
                platform::send_ipi(i, platform::Ipi::Reschedule);
    }
    return {};
}

Thread* find_affinity_target(int pid) {
    if (pid == 0) return cpu().current;
    if (Thread* thread = find_thread(pid)) return thread;
    Process* process = find_process(pid);
    if (!process) return nullptr;
    Thread* found = nullptr;
    g_all.for_each([&](Thread& t) {
        if (!found && t.process == process && t.state != ThreadState::Dead && !t.kernel_thread) found = &t;
    });
    return found;
}

BigLockScope::BigLockScope() {
    if (!xos_smp_active) return;
    platform::InterruptGuard guard;
    unsigned index = platform::cpu_index_unlocked();
    if (xos_big_lock_owner == index + 1) {
        ++xos_big_lock_depth;
    } else {
        big_lock_acquire(index);
        ++g_big_lock_stats.function_entries;
    }
}

BigLockScope::~BigLockScope() {
    if (!xos_smp_active) return;
    platform::InterruptGuard guard;
    VERIFY(xos_big_lock_depth > 0);
    if (--xos_big_lock_depth == 0) {
        xos_big_lock_owner = 0;
        __atomic_store_n(&xos_big_lock_serving, xos_big_lock_serving + 1, __ATOMIC_RELEASE);
        platform::big_lock_passed();
    }
}

void drop_big_lock_for_app() {
    if (!xos_smp_active) return;
    platform::InterruptGuard guard;
    big_lock_release();
}
unsigned current_cpu() { return xos_this_cpu->index; }

TimerNeed timer_need() {
    uint64_t next_deadline = UINT64_MAX;
    {
        SpinLockGuard guard(g_sleepers_lock);
        if (Thread* sleeper = g_sleepers.front()) next_deadline = sleeper->deadline_ns;
    }
    return {!cpu().current || cpu().current != cpu().idle, next_deadline};
}

void init() {
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i) xos_cpus[i].index = i;
    g_cpu[0].online = true;
    auto main = allocate_thread();
    auto idle = allocate_thread();
    if (!main || !idle) panic("no memory for the first threads");
    cpu().current = *main;
    cpu().current->tid = g_next_tid++;
    cpu().current->state = ThreadState::Running;
    g_all.push_back(*cpu().current);
    g_live_threads = 1;
    platform::cpu_context_adopt_current(cpu().current->cpu_context);
    set_kernel_stack(*cpu().current);
    init_first_process(*cpu().current);
    cpu().active = cpu().current->process;

    cpu().idle = *idle;
    cpu().idle->tid = 0;
    cpu().idle->lock_depth = 1;  // the idle loop runs without the big lock
    platform::cpu_context_init(cpu().idle->cpu_context, idle_loop, 0, 0, kernel_stack_top(*cpu().idle), 0);
    platform::timer_start(TIMER_HZ);
    start_secondary_cpus();
}

uintptr_t kernel_stack_top(Thread& thread) {
    return reinterpret_cast<uintptr_t>(thread.kernel_stack) + KERNEL_STACK_PAGES * 4096;
}

bool in_app_code(Thread& thread) {
    auto low = reinterpret_cast<uintptr_t>(thread.kernel_stack);
    return platform::cpu_context_in_app(thread.cpu_context, low, low + KERNEL_STACK_PAGES * 4096);
}

uint64_t* user_frame(Thread& thread) {
    return reinterpret_cast<uint64_t*>(kernel_stack_top(thread)) - USER_FRAME_WORDS;
}

void set_signal_entry(void (*entry)(uint64_t* regs)) { g_signal_entry = entry; }

bool redirect_to_signal_entry(Thread& thread) {
    if (!g_signal_entry || !in_app_code(thread)) return false;
    uint64_t* regs = user_frame(thread);
    uintptr_t thread_pointer = platform::cpu_context_user_state(thread.cpu_context, regs, thread.user_fpu);
    regs[UR_ENTRY] = ENTRY_INTERRUPT;
    thread.user_fpu_saved = true;
    platform::cpu_context_init(thread.cpu_context, signal_entry, 0, 0, reinterpret_cast<uintptr_t>(regs),
                               thread_pointer);
    thread.lock_depth = KERNEL_ENTRY_LOCK_DEPTH;
    if (xos_smp_active && &thread == cpu().current) xos_big_lock_depth = KERNEL_ENTRY_LOCK_DEPTH;
    return true;
}

void run_on_kernel_stack(void (*fn)(void*), void* argument) {
    // Syscalls already run on the kernel stack: only code entered otherwise needs the switch.
    auto here = uintptr_t(__builtin_frame_address(0));
    auto low = reinterpret_cast<uintptr_t>(cpu().current->kernel_stack);
    if (here >= low && here < kernel_stack_top(*cpu().current)) {
        fn(argument);
        return;
    }
    // x86_64 (both platforms): switch %rsp, call, switch back; everything the callee may
    // clobber is declared so.
    uintptr_t stack_top = reinterpret_cast<uintptr_t>(user_frame(*cpu().current)) & ~uintptr_t(15);
    asm volatile("mov %%rsp, %%rbx\n\t"
                 "mov %[stack], %%rsp\n\t"
                 "call *%[fn]\n\t"
                 "mov %%rbx, %%rsp"
                 : "+D"(argument)
                 : [fn] "r"(fn), [stack] "r"(stack_top)
                 : "rbx", "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0", "xmm1", "xmm2",
                   "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                   "xmm15");
}

void set_termination_hook(void (*hook)()) { g_termination_hook = hook; }

void note_active_process(Process* process) { cpu().active = process; }

Thread* current_or_null() { return cpu().current; }

Thread& current() {
    ASSERT(cpu().current);
    return *cpu().current;
}
bool in_interrupt() { return cpu().interrupt_depth > 0; }
InterruptScope::InterruptScope() {
    ASSERT(!platform::interrupts_enabled());
    ++cpu().interrupt_depth;
}
InterruptScope::~InterruptScope() { --cpu().interrupt_depth; }
int current_thread_id() { return cpu().current ? cpu().current->tid : 0; }
int thread_count() { return g_live_threads; }

void for_each_live_thread(void (*fn)(Thread&, void*), void* context) {
    g_all.for_each([&](Thread& t) {
        if (t.state != ThreadState::Dead && !t.kernel_thread) fn(t, context);
    });
}

Thread* find_thread(int tid) {
    Thread* found = nullptr;
    g_all.for_each([&](Thread& t) {
        if (t.tid == tid && t.state != ThreadState::Dead && !t.kernel_thread) found = &t;
    });
    return found;
}

ErrorOr<Thread*> create_thread(void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1, uintptr_t stack_top,
                               uintptr_t thread_pointer, Process* process) {
    {
        platform::InterruptGuard guard;
        reap_dead_threads();
    }
    Thread* thread = TRY(allocate_thread());
    if (!stack_top) stack_top = reinterpret_cast<uintptr_t>(user_frame(*thread));
    platform::cpu_context_init(thread->cpu_context, entry, arg0, arg1, stack_top, thread_pointer);
    platform::InterruptGuard guard;
    thread->tid = g_next_tid++;
    thread->signal_mask = cpu().current->signal_mask;
    thread->affinity = cpu().current->affinity;  // inherited at clone and fork, as on Linux
    thread->last_cpu = this_cpu();
    thread->process = process ? process : cpu().current->process;
    if (thread->process) {
        ++thread->process->live_threads;
        ++thread->process->references;
    }
    g_all.push_back(*thread);
    ++g_live_threads;
    make_runnable(*thread);
    return thread;
}

ErrorOr<Thread*> create_kernel_thread(void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1,
                                      uintptr_t stack_top) {
    Thread* thread = TRY(allocate_thread());
    platform::cpu_context_init(thread->cpu_context, entry, arg0, arg1, stack_top, 0);
    platform::InterruptGuard guard;
    thread->tid = g_next_tid++;
    thread->kernel_thread = true;
    thread->in_kernel = 1;
    thread->signal_mask = ~uint64_t(0);
    g_all.push_back(*thread);
    make_runnable(*thread);
    return thread;
}

void exit_current() {
    VERIFY(!in_interrupt());
    platform::interrupts_disable();
    Thread& self = *cpu().current;
    self.state = ThreadState::Dead;
    decltype(g_all)::remove(self);
    if (!self.kernel_thread) --g_live_threads;
    if (self.process) --self.process->live_threads;
    self.in_kernel = 0;
    platform::yield();
    panic("a dead thread was resumed");
}

void yield_now() {
    ASSERT(!in_interrupt());
    platform::InterruptGuard guard;
    // Nothing else to run here, and this CPU may run the thread: keep going.
    if (!work_for(this_cpu()) && may_run_on(*cpu().current, this_cpu())) return;
    platform::yield();  // on_interrupt puts a Running thread back on the run queue
    reap_dead_threads();
}

void wake(Thread& thread, WakeReason reason) {
    platform::InterruptGuard guard;
    if (thread.state != ThreadState::Blocked) return;
    if (thread.waiting_on) decltype(WaitQueue::m_waiters)::remove(thread);
    thread.waiting_on = nullptr;
    if (thread.device_wait) {
        thread.device_wait = false;
        --g_device_waiters;
    }
    {
        SpinLockGuard sleepers(g_sleepers_lock);
        decltype(g_sleepers)::remove(thread);
    }
    thread.wake_reason = reason;
    make_runnable(thread);
}

void requeue_waiter(Thread& thread, WaitQueue& to) {
    platform::InterruptGuard guard;
    if (thread.state != ThreadState::Blocked || !thread.waiting_on) return;
    decltype(WaitQueue::m_waiters)::remove(thread);
    to.m_waiters.push_back(thread);
    thread.waiting_on = &to;
    bool device_wait = to.wake_source() == WakeSource::Device;
    if (device_wait != thread.device_wait) {
        thread.device_wait = device_wait;
        g_device_waiters += device_wait ? 1 : -1;
    }
}

void WaitQueue::set_wake_source(WakeSource source) {
    VERIFY(empty());
    m_source = source;
}

bool signal_interrupts_current() { return cpu().current->signal_pending & ~cpu().current->signal_mask; }

// The first half of a block: the thread is marked blocked and queued (interrupts off). False:
// the thread must end instead (below), and nothing was queued.
bool prepare_block(WaitQueue* queue, Deadline deadline, Interruptible interruptible) {
    ASSERT(!platform::interrupts_enabled());
    ASSERT(!in_interrupt());
    VERIFY(cpu().current && cpu().current != cpu().idle);
    Thread& self = *cpu().current;
    // A thread that must end (its process execs from another thread or exits, or a fatal signal
    // is pending) does not start an interruptible wait: whoever ended it woke only the threads
    // blocked then, and with several CPUs this one may have been running meanwhile. It leaves
    // with EINTR and ends on its way out (deliver_pending_signals).
    if (interruptible == Interruptible::Yes && self.process && g_termination_hook && must_terminate(self)) return false;
    self.state = ThreadState::Blocked;
    self.wake_reason = WakeReason::None;
    self.interruptible = interruptible == Interruptible::Yes;
    self.waiting_on = queue;
    if (queue) queue->m_waiters.push_back(self);
    if (queue && queue->wake_source() == WakeSource::Device) {
        self.device_wait = true;
        ++g_device_waiters;
    }
    self.deadline_ns = deadline.monotonic_ns;
    if (!deadline.is_never()) insert_sleeper(self);
    return true;
}

namespace {

// The second half: switches away until woken, and says why it was.
ErrorOr<void> finish_block() {
    Thread& self = *cpu().current;
    platform::yield();
    reap_dead_threads();
    self.interruptible = false;
    switch (self.wake_reason) {
    case WakeReason::Timeout: return error(ETIMEDOUT);
    case WakeReason::Interrupted: return error(EINTR);
    default: return {};
    }
}

}  // namespace

ErrorOr<void> block_current(WaitQueue* queue, Deadline deadline, Interruptible interruptible) {
    if (!prepare_block(queue, deadline, interruptible)) return error(EINTR);
    return finish_block();
}

ErrorOr<void> block_current_unlocking(WaitQueue* queue, SpinLock& lock, Deadline deadline,
                                      Interruptible interruptible) {
    VERIFY_HELD(lock);
    bool blocked = prepare_block(queue, deadline, interruptible);
    lock.unlock();
    if (!blocked) return error(EINTR);
    return finish_block();
}

int wake_all(WaitQueue& queue) {
    platform::InterruptGuard guard;
    int woken = 0;
    queue.for_each_waiter([&](Thread& t) {
        wake(t, WakeReason::Woken);
        ++woken;
    });
    return woken;
}

int wake_one(WaitQueue& queue) {
    platform::InterruptGuard guard;
    int woken = 0;
    queue.for_each_waiter([&](Thread& t) {
        if (woken) return;
        wake(t, WakeReason::Woken);
        ++woken;
    });
    return woken;
}

uint64_t thread_cpu_time_ns() {
    platform::InterruptGuard guard;
    return cpu().current->cpu_time_ns + (platform::monotonic_ns() - cpu().current->switched_in_ns);
}

uint64_t process_cpu_time_ns() {
    platform::InterruptGuard guard;
    uint64_t total = g_dead_cpu_time_ns;
    g_all.for_each([&](Thread& t) { total += t.cpu_time_ns; });
    return total + (cpu().current == cpu().idle ? 0 : platform::monotonic_ns() - cpu().current->switched_in_ns);
}

void enter_kernel() {
    ASSERT(!in_interrupt());
    if (cpu().current) ++cpu().current->in_kernel;
}

void leave_kernel() {
    ASSERT(!in_interrupt());
    if (!cpu().current) return;
    VERIFY(cpu().current->in_kernel > 0);  // paired with enter_kernel() on this thread
    if (--cpu().current->in_kernel == 0 && cpu().need_resched) yield_now();
}

void* on_interrupt(InterruptKind kind) {
    ASSERT(!platform::interrupts_enabled());
    if (!cpu().current) return nullptr;
    InterruptScope scope;
    Thread* self = cpu().current;
    if (big_lock_fresh()) ++g_big_lock_stats.interrupts;
    if (xos_smp_active) {
        self->lock_depth = xos_big_lock_depth;
        cpu().wake_sent = false;
        // The boot CPU's timer paces the others: a tick for each CPU that runs a thread (an idle
        // CPU gets none: it is woken when there is work).
        if (kind == InterruptKind::Timer && xos_this_cpu->index == 0)
            for (unsigned i = 1; i < XOS_MAX_CPUS; ++i)
                if (g_cpu[i].online && g_cpu[i].current != g_cpu[i].idle) platform::send_ipi(i, platform::Ipi::Tick);
    }

    if (kind == InterruptKind::Device) {
        // Run a woken thread at once if the CPU was idle; otherwise it waits for its turn.
        // (A reschedule IPI arrives as one too: a thread moved off this CPU by its affinity.)
        bool evicted = self != cpu().idle && !may_run_on(*self, this_cpu());
        if (evicted && self->in_kernel) cpu().need_resched = true;
        if (!evicted || self->in_kernel) {
            if (self != cpu().idle || !work_for(this_cpu())) return prepare_resume(*self, false);
        }
    }
    if (kind == InterruptKind::Timer) {
        uint64_t now = platform::monotonic_ns();
        // The running thread's CPU time is brought up to date at each tick: with several CPUs a
        // thread may run alone on its CPU for long, never switched out, while another CPU reads
        // its time (ITIMER_VIRTUAL/PROF, times(), getrusage).
        if (self != cpu().idle) {
            self->cpu_time_ns += now - self->switched_in_ns;
            self->switched_in_ns = now;
        }
        wake_expired_sleepers(now);
        if (self == cpu().idle) {
            if (!work_for(this_cpu())) return self->cpu_context;
        } else {
            bool evicted = !may_run_on(*self, this_cpu());
            if (!evicted && (++self->slice_ticks < SLICE_TICKS || !queued_hint(this_cpu())))
                return prepare_resume(*self, false);
            if (self->in_kernel) {  // never preempt libos code: switch when it leaves
                cpu().need_resched = true;
                return self->cpu_context;
            }
        }
    }

    // Switch: put the current thread where it belongs, then run the next one.
    cpu().need_resched = false;
    if (self->state == ThreadState::Running && self != cpu().idle) {
        if (may_run_on(*self, this_cpu())) {
            self->state = ThreadState::Runnable;
            enqueue(this_cpu(), *self);  // not make_runnable: it stays on this CPU
        } else {
            make_runnable(*self);  // its affinity no longer has this CPU
        }
    }
    if (self->state == ThreadState::Dead) g_dead.push_back(*self);
    Thread* next = pick_next();
    if (next == self) {
        self->state = ThreadState::Running;
        return prepare_resume(*self, false);
    }
    account_switch(*self, *next, platform::monotonic_ns());
    next->state = ThreadState::Running;
    if (next->last_cpu != this_cpu() && next != cpu().idle) xos_count_event(xos_cpu_events[this_cpu()].migrations);
    next->last_cpu = this_cpu();
    cpu().current = next;
    set_kernel_stack(*next);
    switch_address_space(*next);
    return prepare_resume(*next, true);
}

}  // namespace xos::sched
