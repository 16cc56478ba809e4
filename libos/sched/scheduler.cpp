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

// The scheduler's lock (docs/locking.md): thread states and wake reasons, every WaitQueue's list
// of waiters and the threads' waiting_on, the CPUs' CpuState (each CPU writes its own under it;
// other CPUs read it under it; a CPU reads its own `current` without it, with interrupts off),
// the dead list and g_device_waiters. The thread list g_all is changed under both this lock and
// the big lock, and read under either. Taken with interrupts off; the run-queue locks and the
// sleepers lock nest inside it.
SpinLock g_sched_lock;

// What each CPU runs.
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

// Reschedule IPIs decided under g_sched_lock are sent once it is given back (SchedLockGuard):
// bit i of a CPU's word = CPU i gets one. Sending one writes the local APIC's ICR, which under
// QEMU's multi-threaded TCG takes QEMU's global lock and may wait there for another vCPU's
// thread (the host may have descheduled it); meanwhile every CPU wanting g_sched_lock spun
// (bench/README.md: the cross-CPU futex round trip). Each CPU touches only its own word, with
// interrupts off.
uint64_t g_kicks_pending[XOS_MAX_CPUS];
// How many DeferredWakeIpis scopes each CPU is in (wait_queue.h): while not 0 the kicks stay
// pending until the outermost scope ends. Each CPU touches only its own, with interrupts off.
unsigned g_kicks_deferred[XOS_MAX_CPUS];

void send_pending_kicks() {
    uint64_t& pending = g_kicks_pending[platform::cpu_index_unlocked()];
    while (pending) {
        unsigned target = unsigned(__builtin_ctzll(pending));
        pending &= pending - 1;
        platform::send_ipi(target, platform::Ipi::Reschedule);
    }
}

// Holds g_sched_lock for its scope with interrupts off (as SpinLockGuard), and sends the
// reschedule IPIs decided meanwhile after giving it back.
class SCOPED_CAPABILITY SchedLockGuard {
public:
    SchedLockGuard() ACQUIRE(g_sched_lock) : m_were_enabled(platform::interrupts_enabled()) {
        if (m_were_enabled) platform::interrupts_disable();
        g_sched_lock.lock();
    }
    ~SchedLockGuard() RELEASE() {
        g_sched_lock.unlock();
        if (!g_kicks_deferred[platform::cpu_index_unlocked()]) send_pending_kicks();
        if (m_were_enabled) platform::interrupts_enable();
    }
    SchedLockGuard(const SchedLockGuard&) = delete;
    SchedLockGuard& operator=(const SchedLockGuard&) = delete;

private:
    bool m_were_enabled;
};

// "This CPU" comes from the CPU itself (RDPID, or the local APIC's ID: platform::cpu_index_unlocked,
// docs/locking.md). Only meaningful while the thread cannot move to another CPU: interrupts
// off, or libos code (never preempted).
CpuState& cpu() { return g_cpu[platform::cpu_index_unlocked()]; }

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
// exited, freed at a later yield point (reap_dead_threads)
IntrusiveList<Thread, &Thread::queue_node> g_dead GUARDED_BY(g_sched_lock);
int g_live_threads;
int g_next_tid = 1;
uint64_t g_dead_cpu_time_ns;  // CPU time of threads that exited (under the big lock)
int g_device_waiters GUARDED_BY(g_sched_lock);  // threads blocked on a WakeSource::Device queue
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

unsigned this_cpu() { return platform::cpu_index_unlocked(); }

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

// True while a CPU runs `thread` or has not finished switching away from it (Thread::on_cpu).
bool still_on_cpu(const Thread& thread) { return __atomic_load_n(&thread.on_cpu, __ATOMIC_ACQUIRE); }

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
unsigned choose_cpu(Thread& thread) REQUIRES(g_sched_lock) {
    if (!xos_smp_active) return this_cpu();
    uint64_t allowed = thread.affinity & online_mask();
    if (!allowed) allowed = online_mask();  // set_affinity keeps an online CPU in every mask
    unsigned last = thread.last_cpu, self = this_cpu();
    bool last_allowed = (allowed >> last) & 1;
    if (last_allowed && idle_and_empty(last)) return last;
    // Woken while its CPU is still switching away from it (it blocked a moment ago): back on that
    // CPU's queue when the queue is empty, where that switch finds it and resumes it at once.
    // Another CPU would have to wait until the switch is done (the on_cpu wait, on_interrupt).
    if (last_allowed && still_on_cpu(thread) && queued_hint(last) == 0) return last;
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (((allowed >> i) & 1) && idle_and_empty(i)) return i;
    auto load = [](unsigned i) { return queued_hint(i) + (g_cpu[i].current != g_cpu[i].idle ? 1 : 0); };
    unsigned best = last_allowed ? last : ((allowed >> self) & 1) ? self : unsigned(__builtin_ctzll(allowed));
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (((allowed >> i) & 1) && load(i) < load(best)) best = i;
    return best;
}

// A reschedule IPI to CPU `target` if it is idle (once per idle spell), so it runs (or steals)
// the work just queued; sent once g_sched_lock is given back (SchedLockGuard).
void kick_if_idle(unsigned target) REQUIRES(g_sched_lock) {
    CpuState& other = g_cpu[target];
    if (target == this_cpu() || !other.online || other.current != other.idle || other.wake_sent) return;
    other.wake_sent = true;
    g_kicks_pending[this_cpu()] |= uint64_t(1) << target;
}

// Queues a thread on the run queue of a CPU it may run on (choose_cpu) and, with several CPUs,
// wakes that CPU if it is idle. If it went to a busy CPU, an idle one that may steal it is
// woken instead: it takes work from the busiest queue.
void make_runnable(Thread& thread) REQUIRES(g_sched_lock) {
    thread.state = ThreadState::Runnable;
    unsigned target = choose_cpu(thread);
    enqueue(target, thread);
    if (!xos_smp_active) return;
    if (g_cpu[target].current == g_cpu[target].idle) {
        kick_if_idle(target);
        return;
    }
    if (target == thread.last_cpu && still_on_cpu(thread)) return;  // its own CPU resumes it (choose_cpu)
    uint64_t allowed = thread.affinity & online_mask();
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (((allowed >> i) & 1) && i != target && idle_and_empty(i)) {
            kick_if_idle(i);
            return;
        }
}

// Work stealing: a CPU with an empty run queue takes a thread that may run on it from the
// busiest other queue (the first such thread from the back: the one that would wait longest),
// but not one still on its old CPU (on_cpu: that CPU is switching away from it and will run it;
// the thief would only wait for that switch). One run-queue lock at a time.
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
            if (may_run_on(t, self) && !still_on_cpu(t)) taken = &t;
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
bool other_cpu_busy() REQUIRES(g_sched_lock) {
    unsigned self = this_cpu();
    for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
        if (i != self && g_cpu[i].online && g_cpu[i].current != g_cpu[i].idle) return true;
    return false;
}

// True if `process` is the active address space of some CPU.
bool active_anywhere(Process* process) REQUIRES(g_sched_lock) {
    for (const CpuState& c : g_cpu)
        if (c.online && c.active == process) return true;
    return false;
}

}  // namespace
// wake() under the scheduler's lock (a friend of WaitQueue: not in the anonymous namespace).
void wake_locked(Thread& thread, WakeReason reason) REQUIRES(g_sched_lock);
namespace {

void wake_expired_sleepers(uint64_t now) REQUIRES(g_sched_lock) {
    for (;;) {
        Thread* sleeper;
        {
            SpinLockGuard guard(g_sleepers_lock);
            sleeper = g_sleepers.front();
        }
        if (!sleeper || sleeper->deadline_ns > now) break;
        wake_locked(*sleeper, WakeReason::Timeout);
    }
}

bool no_sleepers() {
    SpinLockGuard guard(g_sleepers_lock);
    return g_sleepers.empty();
}

[[noreturn]] void report_deadlock() REQUIRES(g_sched_lock) {
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

Thread* pick_next() REQUIRES(g_sched_lock) {
    unsigned self = this_cpu();
    if (Thread* next = dequeue_front(self)) return next;
    if (Thread* next = steal(self)) return next;
    // Nothing runnable: idle until an interrupt changes that: a timer tick waking a sleeper, or
    // a device interrupt waking a thread that waits on a device. With neither, nothing ever will.
    if (no_sleepers() && g_device_waiters == 0 && !other_cpu_busy() && !queued_anywhere()) report_deadlock();
    return cpu().idle;
}

// Frees the threads that exited, once another thread runs. In thread context, at a yield point:
// not on the interrupt path, which may have interrupted libos code inside the kernel heap.
// Interrupts off, no spinlock held. A dead thread is taken off the dead list under the
// scheduler's lock once no CPU runs it any more (on_cpu clear), then freed outside it; its
// process loses a reference under the big lock (process tables are the big lock's); the last
// one frees the process's memory, which must not be the active address space of a CPU (a
// kernel thread may run on any of them): such a thread waits for a later reap.
void reap_dead_threads() {
    ASSERT(!platform::interrupts_enabled() && !in_interrupt());
    IntrusiveList<Thread, &Thread::queue_node> reaped;
    {
        SchedLockGuard guard;
        if (g_dead.empty()) return;
        g_dead.for_each([&](Thread& dead) {
            VERIFY_HELD(g_sched_lock);  // (for the analysis: a lambda)
            if (__atomic_load_n(&dead.on_cpu, __ATOMIC_ACQUIRE)) return;
            Process* process = dead.process;
            if (process && process->live_threads == 0 && active_anywhere(process)) return;  // see above
            decltype(g_dead)::remove(dead);
            reaped.push_back(dead);
        });
    }
    if (reaped.empty()) return;
    BigLockScope big_lock;
    reaped.for_each([](Thread& dead) {
        decltype(reaped)::remove(dead);
        Process* process = dead.process;
        free_thread(&dead);
        if (process) release_process(*process);
    });
}

// Resumes a thread that must not run app code again in the termination hook instead: its
// registers are dropped, it starts over on its kernel stack.
void terminate_entry(uintptr_t, uintptr_t) {
    (void)big_lock_enter();  // kept: the thread ends holding it (exit_current gives it back)
    enter_kernel();
    g_termination_hook();
    panic("the termination hook returned");
}

// The syscall entry of whichever thread runs moves to its kernel stack (entry64.S).
void set_kernel_stack(Thread& thread) {
    XosCpu& self = xos_cpus[this_cpu()];
    self.kernel_stack_top = kernel_stack_top(thread);
    self.kernel_stack_size = KERNEL_STACK_PAGES * 4096;
}

// Starts a redirected thread in the signal entry (redirect_to_signal_entry).
void signal_entry(uintptr_t, uintptr_t) {
    (void)big_lock_enter();  // signal state is the big lock's; the return to app code drops it
    g_signal_entry(user_frame(current()));
    panic("the signal entry returned");
}

// What a thread about to run resumes: a thread that must end goes to the termination path; one
// interrupted in app code with a signal to take, to the signal entry; else where it was.
void* prepare_resume(Thread& next, bool switched) {
    if (next.in_kernel || !next.process || next.kernel_thread) return next.cpu_context;
    bool in_app = in_app_code(next);
    if (g_termination_hook && (switched || in_app) && must_terminate(next)) {
        platform::cpu_context_init(next.cpu_context, terminate_entry, 0, 0,
                                   reinterpret_cast<uintptr_t>(user_frame(next)), 0);
    } else if (in_app && (next.signal_pending & ~next.signal_mask)) {
        redirect_to_signal_entry(next);
    }
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
// Interrupts off, no spinlock held.
void big_lock_acquire(unsigned index) {
    uint32_t ticket = __atomic_fetch_add(&xos_big_lock_next, 1, __ATOMIC_ACQUIRE);
    platform::big_lock_wait(index, ticket);
    xos_big_lock_owner = index + 1;
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
    {
        SchedLockGuard guard;
        CpuState& c = g_cpu[index];
        Thread* idle = c.idle;
        c.current = idle;
        idle->state = ThreadState::Running;
        idle->on_cpu = true;
        platform::cpu_context_adopt_current(idle->cpu_context);
        set_kernel_stack(*idle);
        c.active = nullptr;
        __atomic_store_n(&c.online, true, __ATOMIC_RELEASE);
        __atomic_add_fetch(&g_cpus_online, 1, __ATOMIC_RELAXED);
    }
    // Threads made runnable before this CPU was online went to the others' queues (choose_cpu
    // places on online CPUs only), and no IPI comes for them: look once, as a woken idle CPU
    // does (pick_next steals). On hosted, app threads start while the vCPU threads still come
    // up: hosted-smp-busy-cpus2 ran both of its threads on vCPU 0 in 1 of 20 runs without this.
    platform::yield();
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
        g_cpu[i].idle = *idle;
    }
    // From here on the big lock exists; the boot flow holds it until it enters the app.
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
        // Online before the app starts: it sizes itself by the online CPUs (sched_getaffinity,
        // sysconf(_SC_NPROCESSORS_ONLN)). start_cpu returns once the CPU runs libos's code (on
        // hosted, before its vCPU thread reached secondary_cpu_main: a program saw 1 CPU of 2).
        while (!__atomic_load_n(&g_cpu[i].online, __ATOMIC_ACQUIRE)) platform::cpu_relax(0);
    }
}

}  // namespace

unsigned cpus_online() { return g_cpus_online; }

BigLockStats g_big_lock_stats;
bool big_lock_fresh() { return xos_smp_active && big_lock_held() && xos_big_lock_depth == 1; }
uint64_t online_cpu_mask() { return online_mask(); }

uint64_t affinity(Thread& thread) { return thread.affinity & online_mask(); }

namespace {
void switch_away();
}  // namespace

ErrorOr<void> set_affinity(Thread& thread, uint64_t mask) {
    if (!(mask & online_mask())) return error(EINVAL);
    platform::InterruptGuard interrupts;
    if (&thread == cpu().current) {
        thread.affinity = mask;
        // Moves off this CPU now if it may no longer run here (the switch re-queues it elsewhere).
        if (!may_run_on(thread, this_cpu())) switch_away();
        return {};
    }
    SchedLockGuard guard;
    thread.affinity = mask;
    if (thread.state == ThreadState::Runnable && thread.queued_cpu >= 0 &&
        !may_run_on(thread, unsigned(thread.queued_cpu))) {
        dequeue(thread);
        make_runnable(thread);
        return {};
    }
    if (thread.state == ThreadState::Running && xos_smp_active) {
        // Running on another CPU: a reschedule IPI makes that CPU switch it out (or, in libos,
        // when it leaves).
        for (unsigned i = 0; i < XOS_MAX_CPUS; ++i)
            if (g_cpu[i].online && g_cpu[i].current == &thread && !may_run_on(thread, i))
                g_kicks_pending[this_cpu()] |= uint64_t(1) << i;
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

bool big_lock_held() { return xos_smp_active && xos_big_lock_owner == platform::cpu_index_unlocked() + 1; }

bool big_lock_enter() {
    if (!xos_smp_active) return false;
    platform::InterruptGuard guard;
    unsigned index = platform::cpu_index_unlocked();
    if (xos_big_lock_owner == index + 1) {
        ++xos_big_lock_depth;
        return false;
    }
    big_lock_acquire(index);
    return true;
}

void big_lock_leave() {
    if (!xos_smp_active) return;
    platform::InterruptGuard guard;
    VERIFY(big_lock_held() && xos_big_lock_depth > 0);
    if (--xos_big_lock_depth == 0) big_lock_release();
}

void count_interrupt_big_lock() { ++g_big_lock_stats.interrupts; }

BigLockScope::BigLockScope() {
    if (big_lock_enter()) ++g_big_lock_stats.function_entries;
}

BigLockScope::~BigLockScope() { big_lock_leave(); }

void drop_big_lock_for_app() {
    if (!xos_smp_active) return;
    platform::InterruptGuard guard;
    if (big_lock_held()) big_lock_release();
}
unsigned current_cpu() { return this_cpu(); }

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
    cpu().current->on_cpu = true;
    g_all.push_back(*cpu().current);
    g_live_threads = 1;
    platform::cpu_context_adopt_current(cpu().current->cpu_context);
    set_kernel_stack(*cpu().current);
    init_first_process(*cpu().current);
    cpu().active = cpu().current->process;

    cpu().idle = *idle;
    cpu().idle->tid = 0;
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
    return true;
}

void run_on_kernel_stack(void (*fn)(void*), void* argument) {
    // Syscalls already run on the kernel stack: only code entered otherwise needs the switch.
    auto here = uintptr_t(__builtin_frame_address(0));
    Thread& self = current();
    auto low = reinterpret_cast<uintptr_t>(self.kernel_stack);
    if (here >= low && here < kernel_stack_top(self)) {
        fn(argument);
        return;
    }
    // x86_64 (both platforms): switch %rsp, call, switch back; everything the callee may
    // clobber is declared so.
    uintptr_t stack_top = reinterpret_cast<uintptr_t>(user_frame(self)) & ~uintptr_t(15);
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

void note_active_process(Process* process) {
    SchedLockGuard guard;
    cpu().active = process;
}

// With interrupts off, so that the thread cannot move to another CPU between the CPU's index
// and the read (the answer, the thread, is then right wherever it runs).
Thread* current_or_null() {
    platform::InterruptGuard guard;
    return cpu().current;
}

Thread& current() {
    Thread* self = current_or_null();
    ASSERT(self);
    return *self;
}
bool in_interrupt() {
    platform::InterruptGuard guard;
    return cpu().interrupt_depth > 0;
}
InterruptScope::InterruptScope() {
    ASSERT(!platform::interrupts_enabled());
    ++cpu().interrupt_depth;
}
InterruptScope::~InterruptScope() { --cpu().interrupt_depth; }
int current_thread_id() {
    Thread* self = current_or_null();
    return self ? self->tid : 0;
}
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

namespace {

// Where every thread made by create_thread/create_kernel_thread starts: libos functions expect
// the big lock (docs/locking.md); the way to app code gives it back.
void thread_start(uintptr_t arg0, uintptr_t arg1) {
    (void)big_lock_enter();
    current().start_entry(arg0, arg1);
}

// Gives the CPU away through the scheduler (int $0x81), interrupts off, no spinlock held. A
// thread never keeps the big lock while it is switched out: it gives it back here entirely and
// takes it again, as deep, once it runs again (on whichever CPU).
void switch_away() {
    ASSERT(!platform::interrupts_enabled());
    uint32_t depth = 0;
    if (big_lock_held()) {
        depth = xos_big_lock_depth;
        big_lock_release();
    }
    platform::yield();
    if (depth) {
        big_lock_acquire(this_cpu());
        xos_big_lock_depth = depth;
    }
}

}  // namespace

ErrorOr<Thread*> create_thread(void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1, uintptr_t stack_top,
                               uintptr_t thread_pointer, Process* process) {
    {
        platform::InterruptGuard guard;
        reap_dead_threads();
    }
    Thread* thread = TRY(allocate_thread());
    if (!stack_top) stack_top = reinterpret_cast<uintptr_t>(user_frame(*thread));
    thread->start_entry = entry;
    platform::cpu_context_init(thread->cpu_context, thread_start, arg0, arg1, stack_top, thread_pointer);
    Thread& self = current();
    BigLockScope big_lock;  // g_all and the process's counts
    SchedLockGuard guard;
    thread->tid = g_next_tid++;
    thread->signal_mask = self.signal_mask;
    thread->affinity = self.affinity;  // inherited at clone and fork, as on Linux
    thread->last_cpu = this_cpu();
    thread->process = process ? process : self.process;
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
    thread->start_entry = entry;
    platform::cpu_context_init(thread->cpu_context, thread_start, arg0, arg1, stack_top, 0);
    BigLockScope big_lock;
    SchedLockGuard guard;
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
    VERIFY(!xos_smp_active || big_lock_held());  // g_all and the process's counts
    Thread& self = current();
    {
        SchedLockGuard guard;
        // Off its process's page tables before it stops counting as live: an exec waiting for
        // the other threads to end frees them as soon as they have (on another CPU, while this
        // one would still run on them until its switch).
        if (xos_smp_active && self.process && cpu().active) {
            platform::activate_kernel_space();
            cpu().active = nullptr;
        }
        // Its CPU time counts for its process from now on (a parent on another CPU may reap the
        // process, and read its time, before this thread is reaped: reap_dead_threads).
        uint64_t now = platform::monotonic_ns();
        self.cpu_time_ns += now - self.switched_in_ns;
        self.switched_in_ns = now;
        g_dead_cpu_time_ns += self.cpu_time_ns;
        if (self.process) self.process->dead_threads_cpu_ns += self.cpu_time_ns;
        self.state = ThreadState::Dead;
        decltype(g_all)::remove(self);
        if (!self.kernel_thread) --g_live_threads;
        if (self.process) --self.process->live_threads;
        self.in_kernel = 0;
    }
    switch_away();
    panic("a dead thread was resumed");
}

void yield_now() {
    ASSERT(!in_interrupt());
    platform::InterruptGuard guard;
    // Nothing else to run here, and this CPU may run the thread: keep going.
    if (!work_for(this_cpu()) && may_run_on(*cpu().current, this_cpu())) return;
    switch_away();  // on_interrupt puts a Running thread back on the run queue
    reap_dead_threads();
}

void wake_locked(Thread& thread, WakeReason reason) REQUIRES(g_sched_lock) {
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

void wake(Thread& thread, WakeReason reason) {
    SchedLockGuard guard;
    wake_locked(thread, reason);
}

void requeue_waiter(Thread& thread, WaitQueue& to) {
    SchedLockGuard guard;
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

int wake_where(WaitQueue& queue, int max, bool (*match)(Thread&, void*), void* context) {
    SchedLockGuard guard;
    int woken = 0;
    queue.m_waiters.for_each([&](Thread& t) {
        VERIFY_HELD(g_sched_lock);  // (for the analysis: a lambda)
        if (woken >= max || !match(t, context)) return;
        wake_locked(t, WakeReason::Woken);
        ++woken;
    });
    return woken;
}

int requeue_where(WaitQueue& from, WaitQueue& to, int max, bool (*match)(Thread&, void*), void* context) {
    SchedLockGuard guard;
    int moved = 0;
    IntrusiveList<Thread, &Thread::queue_node> taken;
    from.m_waiters.for_each([&](Thread& t) {
        if (moved >= max || !match(t, context)) return;
        ++moved;
        if (&from == &to) return;
        decltype(WaitQueue::m_waiters)::remove(t);
        taken.push_back(t);
    });
    taken.for_each([&](Thread& t) {
        VERIFY_HELD(g_sched_lock);  // (for the analysis: a lambda)
        decltype(taken)::remove(t);
        to.m_waiters.push_back(t);
        t.waiting_on = &to;
        bool device_wait = to.wake_source() == WakeSource::Device;
        if (device_wait != t.device_wait) {
            t.device_wait = device_wait;
            g_device_waiters += device_wait ? 1 : -1;
        }
    });
    return moved;
}

void WaitQueue::for_each_waiter_raw(void (*fn)(Thread&, void*), void* context) {
    SchedLockGuard guard;
    m_waiters.for_each([&](Thread& t) { fn(t, context); });
}

void WaitQueue::set_wake_source(WakeSource source) {
    VERIFY(empty());
    m_source = source;
}

bool signal_interrupts_current() {
    Thread& self = current();
    return self.signal_pending & ~self.signal_mask;
}

// The first half of a block: the thread is marked blocked and queued (interrupts off). False:
// the thread must end instead (below), and nothing was queued.
bool prepare_block(WaitQueue* queue, Deadline deadline, Interruptible interruptible) {
    ASSERT(!platform::interrupts_enabled());
    ASSERT(!in_interrupt());
    ASSERT(!g_kicks_deferred[this_cpu()]);  // no DeferredWakeIpis scope across a sleep
    SchedLockGuard guard;
    VERIFY(cpu().current && cpu().current != cpu().idle);
    Thread& self = *cpu().current;
    // A thread that must end (its process execs from another thread or exits, or a fatal signal
    // is pending) does not start an interruptible wait: whoever ended it woke only the threads
    // blocked then, and with several CPUs this one may have been running meanwhile. It leaves
    // with EINTR and ends on its way out (deliver_pending_signals).
    if (interruptible == Interruptible::Yes && self.process && g_termination_hook && must_terminate(self)) return false;
    // Nor does it with a signal it must take: a signal posted on another CPU after the caller
    // checked (which found the thread not blocked yet, and woke nothing) would be missed. The
    // poster sets the bit, then wakes under this lock: one of the two sees the other.
    if (interruptible == Interruptible::Yes && (self.signal_pending & ~self.signal_mask)) return false;
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
    Thread& self = current();
    switch_away();
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

ErrorOr<void> block_current_unlocking_and_wake_one(WaitQueue* queue, SpinLock& lock, Deadline deadline,
                                                   Interruptible interruptible, WaitQueue& wake) {
    VERIFY_HELD(lock);
    bool blocked = prepare_block(queue, deadline, interruptible);
    lock.unlock();
    // Queued on `queue` already (a waker of it that takes `lock` first finds this thread); the
    // woken thread may run on another CPU before this one has switched away.
    wake_one(wake);
    if (!blocked) return error(EINTR);
    return finish_block();
}

DeferredWakeIpis::DeferredWakeIpis() : m_were_enabled(platform::interrupts_enabled()) {
    if (m_were_enabled) platform::interrupts_disable();
    ++g_kicks_deferred[platform::cpu_index_unlocked()];
}

DeferredWakeIpis::~DeferredWakeIpis() {
    unsigned& deferred = g_kicks_deferred[platform::cpu_index_unlocked()];
    VERIFY(deferred > 0);
    if (--deferred == 0) send_pending_kicks();
    if (m_were_enabled) platform::interrupts_enable();
}

int wake_all(WaitQueue& queue) {
    SchedLockGuard guard;
    int woken = 0;
    queue.m_waiters.for_each([&](Thread& t) {
        VERIFY_HELD(g_sched_lock);  // (for the analysis: a lambda)
        wake_locked(t, WakeReason::Woken);
        ++woken;
    });
    return woken;
}

int wake_one(WaitQueue& queue) {
    SchedLockGuard guard;
    Thread* first = queue.m_waiters.front();
    if (!first) return 0;
    wake_locked(*first, WakeReason::Woken);
    return 1;
}

uint64_t thread_cpu_time_ns() {
    platform::InterruptGuard guard;
    return cpu().current->cpu_time_ns + (platform::monotonic_ns() - cpu().current->switched_in_ns);
}

uint64_t process_cpu_time_ns() {
    SchedLockGuard guard;
    uint64_t total = g_dead_cpu_time_ns;
    g_all.for_each([&](Thread& t) { total += t.cpu_time_ns; });
    return total + (cpu().current == cpu().idle ? 0 : platform::monotonic_ns() - cpu().current->switched_in_ns);
}

void enter_kernel() {
    ASSERT(!in_interrupt());
    if (Thread* self = current_or_null()) ++self->in_kernel;
}

void leave_kernel() {
    ASSERT(!in_interrupt());
    Thread* self = current_or_null();
    if (!self) return;
    VERIFY(self->in_kernel > 0);  // paired with enter_kernel() on this thread
    if (--self->in_kernel == 0) {
        bool resched;
        {
            platform::InterruptGuard guard;
            resched = cpu().need_resched;
        }
        if (resched) yield_now();
    }
}

void* on_interrupt(InterruptKind kind) {
    ASSERT(!platform::interrupts_enabled());
    unsigned self_cpu = this_cpu();
    CpuState& c = g_cpu[self_cpu];
    if (!c.current) return nullptr;
    InterruptScope scope;
    Thread* self = c.current;
    Thread* next;
    {
        SchedLockGuard guard;
        // Libos code is never preempted, nor is a thread holding the big lock (it gives the lock
        // back only by switching away itself, switch_away): it switches when it leaves.
        bool pinned = self->in_kernel || big_lock_held();
        if (xos_smp_active) {
            c.wake_sent = false;
            // The boot CPU's timer paces the others: a tick for each CPU that runs a thread (an
            // idle CPU gets none: it is woken when there is work).
            if (kind == InterruptKind::Timer && self_cpu == 0)
                for (unsigned i = 1; i < XOS_MAX_CPUS; ++i)
                    if (g_cpu[i].online && g_cpu[i].current != g_cpu[i].idle)
                        platform::send_ipi(i, platform::Ipi::Tick);
        }

        if (kind == InterruptKind::Device) {
            // Run a woken thread at once if the CPU was idle; otherwise it waits for its turn.
            // (A reschedule IPI arrives as one too: a thread moved off this CPU by its affinity.)
            bool evicted = self != c.idle && !may_run_on(*self, self_cpu);
            if (evicted && pinned) c.need_resched = true;
            if (!evicted || pinned) {
                if (self != c.idle || !work_for(self_cpu)) return prepare_resume(*self, false);
            }
        }
        if (kind == InterruptKind::Timer) {
            uint64_t now = platform::monotonic_ns();
            // The running thread's CPU time is brought up to date at each tick: with several CPUs
            // a thread may run alone on its CPU for long, never switched out, while another CPU
            // reads its time (ITIMER_VIRTUAL/PROF, times(), getrusage).
            if (self != c.idle) {
                self->cpu_time_ns += now - self->switched_in_ns;
                self->switched_in_ns = now;
            }
            wake_expired_sleepers(now);
            if (self == c.idle) {
                if (!work_for(self_cpu)) return self->cpu_context;
            } else {
                bool evicted = !may_run_on(*self, self_cpu);
                if (!evicted && (++self->slice_ticks < SLICE_TICKS || !queued_hint(self_cpu)))
                    return prepare_resume(*self, false);
                if (pinned) {  // never preempt libos code: switch when it leaves
                    c.need_resched = true;
                    return self->cpu_context;
                }
            }
        }
        VERIFY(!big_lock_held());  // a switch: the thread gave it back (switch_away)

        // Switch: put the current thread where it belongs, then run the next one. A thread that
        // blocked (or was woken meanwhile on another CPU: then Runnable, and queued or taken
        // already) is not put anywhere.
        c.need_resched = false;
        if (self->state == ThreadState::Running && self != c.idle) {
            if (may_run_on(*self, self_cpu)) {
                self->state = ThreadState::Runnable;
                enqueue(self_cpu, *self);  // not make_runnable: it stays on this CPU
            } else {
                make_runnable(*self);  // its affinity no longer has this CPU
            }
        }
        if (self->state == ThreadState::Dead) g_dead.push_back(*self);
        next = pick_next();
        if (next == self) {
            self->state = ThreadState::Running;
            return prepare_resume(*self, false);
        }
        account_switch(*self, *next, platform::monotonic_ns());
        if (next->last_cpu != self_cpu && next != c.idle) xos_count_event(xos_cpu_events[self_cpu].migrations);
        next->last_cpu = self_cpu;
        c.current = next;
        set_kernel_stack(*next);
        switch_address_space(*next);
    }
    // `next` may still be on the CPU that blocked it (between its block and its switch there):
    // it is resumed only once that CPU has switched away from it. Its state says Runnable until
    // then, so that CPU does not queue it again. Spinning answers TLB shootdowns.
    if (__atomic_load_n(&next->on_cpu, __ATOMIC_ACQUIRE)) {
        XosCpuEvents& events = xos_cpu_events[self_cpu];
        uint64_t start = platform::monotonic_ns();
        while (__atomic_load_n(&next->on_cpu, __ATOMIC_ACQUIRE)) platform::cpu_relax(self_cpu);
        xos_count_event(events.on_cpu_waits);
        __atomic_store_n(&events.on_cpu_wait_ns, events.on_cpu_wait_ns + (platform::monotonic_ns() - start),
                         __ATOMIC_RELAXED);
    }
    __atomic_store_n(&next->on_cpu, true, __ATOMIC_RELAXED);
    {
        SchedLockGuard guard;
        next->state = ThreadState::Running;
    }
    void* context = prepare_resume(*next, true);
    // This CPU is done with `self` (its registers were saved before on_interrupt): another CPU
    // may resume it, or reap it.
    __atomic_store_n(&self->on_cpu, false, __ATOMIC_RELEASE);
    return context;
}

}  // namespace xos::sched
