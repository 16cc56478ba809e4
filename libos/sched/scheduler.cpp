// The scheduler: round-robin with time slices on one CPU, driven by the platform's interrupt
// path (timer ticks and voluntary yields). See thread.h for the concurrency model.
#include <cstring>

#include "base/klog.h"
#include "base/verify.h"
#include "mm/heap.h"
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

IntrusiveList<Thread, &Thread::queue_node> g_run_queue;
IntrusiveList<Thread, &Thread::sleep_node> g_sleepers;  // ascending deadline
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
    Thread* position = nullptr;
    g_sleepers.for_each([&](Thread& other) {
        if (!position && other.deadline_ns > thread.deadline_ns) position = &other;
    });
    if (position)
        g_sleepers.insert_before(*position, thread);
    else
        g_sleepers.push_back(thread);
}

// With several CPUs, an idle one is woken (a reschedule IPI) to run it; once per idle spell.
void make_runnable(Thread& thread) {
    thread.state = ThreadState::Runnable;
    g_run_queue.push_back(thread);
    if (!xos_smp_active) return;
    unsigned self = xos_this_cpu->index;
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i) {
        CpuState& other = g_cpu[i];
        if (i == self || !other.online || other.current != other.idle || other.wake_sent) continue;
        other.wake_sent = true;
        platform::send_ipi(i, platform::Ipi::Reschedule);
        return;
    }
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
    while (Thread* sleeper = g_sleepers.front()) {
        if (sleeper->deadline_ns > now) break;
        wake(*sleeper, WakeReason::Timeout);
    }
}

[[noreturn]] void report_deadlock() {
    klog("xos: deadlock: all %d thread(s) are blocked with no timeout and nothing can wake them", g_live_threads);
    g_all.for_each([](Thread& t) {
        if (t.state != ThreadState::Blocked)
            klog("  thread %d: not runnable", t.tid);
        else if (t.waiting_on)
            klog("  thread %d: blocked on wait queue %p", t.tid, static_cast<void*>(t.waiting_on));
        else
            klog("  thread %d: blocked", t.tid);
    });
    klog("backtrace:");
    platform::print_backtrace();
    platform::shutdown(platform::ExitKind::Crash, 134, "deadlock: every thread is blocked forever");
}

Thread* pick_next() {
    if (Thread* next = g_run_queue.pop_front()) return next;
    // Nothing runnable: idle until an interrupt changes that: a timer tick waking a sleeper, or
    // a device interrupt waking a thread that waits on a device. With neither, nothing ever will.
    if (g_sleepers.empty() && g_device_waiters == 0 && !other_cpu_busy()) report_deadlock();
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

BigLockScope::BigLockScope() {
    if (!xos_smp_active) return;
    platform::InterruptGuard guard;
    unsigned index = platform::cpu_index_unlocked();
    if (xos_big_lock_owner == index + 1)
        ++xos_big_lock_depth;
    else
        big_lock_acquire(index);
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
    Thread* sleeper = g_sleepers.front();
    return {!cpu().current || cpu().current != cpu().idle, sleeper ? sleeper->deadline_ns : UINT64_MAX};
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
    if (g_run_queue.empty()) return;
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
    decltype(g_sleepers)::remove(thread);
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

ErrorOr<void> block_current(WaitQueue* queue, Deadline deadline, Interruptible interruptible) {
    ASSERT(!platform::interrupts_enabled());
    ASSERT(!in_interrupt());
    VERIFY(cpu().current && cpu().current != cpu().idle);
    Thread& self = *cpu().current;
    // A thread that must end (its process execs from another thread or exits, or a fatal signal
    // is pending) does not start an interruptible wait: whoever ended it woke only the threads
    // blocked then, and with several CPUs this one may have been running meanwhile. It leaves
    // with EINTR and ends on its way out (deliver_pending_signals).
    if (interruptible == Interruptible::Yes && self.process && g_termination_hook && must_terminate(self))
        return error(EINTR);
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
    platform::yield();
    reap_dead_threads();
    self.interruptible = false;
    switch (self.wake_reason) {
    case WakeReason::Timeout: return error(ETIMEDOUT);
    case WakeReason::Interrupted: return error(EINTR);
    default: return {};
    }
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
        if (self != cpu().idle || g_run_queue.empty()) return prepare_resume(*self, false);
    }
    if (kind == InterruptKind::Timer) {
        uint64_t now = platform::monotonic_ns();
        wake_expired_sleepers(now);
        if (self == cpu().idle) {
            if (g_run_queue.empty()) return self->cpu_context;
        } else {
            if (++self->slice_ticks < SLICE_TICKS || g_run_queue.empty()) return prepare_resume(*self, false);
            if (self->in_kernel) {  // never preempt libos code: switch when it leaves
                cpu().need_resched = true;
                return self->cpu_context;
            }
        }
    }

    // Switch: put the current thread where it belongs, then run the next one.
    cpu().need_resched = false;
    if (self->state == ThreadState::Running && self != cpu().idle) {
        self->state = ThreadState::Runnable;
        g_run_queue.push_back(*self);  // not make_runnable: no other CPU needs waking for it
    }
    if (self->state == ThreadState::Dead) g_dead.push_back(*self);
    Thread* next = pick_next();
    if (next == self) {
        self->state = ThreadState::Running;
        return prepare_resume(*self, false);
    }
    account_switch(*self, *next, platform::monotonic_ns());
    next->state = ThreadState::Running;
    cpu().current = next;
    set_kernel_stack(*next);
    switch_address_space(*next);
    return prepare_resume(*next, true);
}

}  // namespace xos::sched
