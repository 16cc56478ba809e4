// Interval timers: setitimer, getitimer and alarm, per process (sched::Process::itimer_*).
// ITIMER_REAL runs on the monotonic clock; ITIMER_VIRTUAL and ITIMER_PROF on the process's CPU
// time, which libos does not split into user and system time, so both count all of it. One
// libos thread (started by the first timer armed) sleeps until the earliest ITIMER_REAL expiry,
// or one timer tick while a CPU-time timer is armed, and sends SIGALRM/SIGVTALRM/SIGPROF to the
// process (si_code SI_KERNEL, as Linux); an interval re-arms the timer from its last expiry.
#include <sys/time.h>

#include <csignal>

#include "mm/heap.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/handlers.h"
#include "sys/signal.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

constexpr uint64_t NS_PER_US = 1000;
constexpr uint64_t NS_PER_S = 1000000000;
constexpr uint64_t CPU_POLL_NS = 4000000;  // one timer tick (HZ=250)
constexpr int SIGNAL_OF[3] = {SIGALRM, SIGVTALRM, SIGPROF};

sched::WaitQueue g_timer_wait;
bool g_timers_changed;
bool g_thread_started;

uint64_t clock_of(sched::Process& process, int which) {
    return which == ITIMER_REAL ? platform::monotonic_ns() : cpu_time_of(process);
}

// Fires the expired timers of every process; returns the monotonic time to look again.
uint64_t fire_expired() {
    uint64_t now = platform::monotonic_ns();
    uint64_t next = UINT64_MAX;
    bool cpu_timers = false;
    sched::for_each_process([&](sched::Process& process) {
        if (process.state != sched::ProcessState::Alive || process.exiting) return;
        for (int which = 0; which < 3; ++which) {
            uint64_t& expiry = process.itimer_expiry[which];
            if (!expiry) continue;
            uint64_t clock = clock_of(process, which);
            if (clock >= expiry) {
                uint64_t interval = process.itimer_interval[which];
                // Late by more than an interval (a loaded host): the next one is an interval
                // from now; one signal either way, as Linux coalesces a pending one.
                expiry = !interval ? 0 : expiry + interval > clock ? expiry + interval : clock + interval;
                send_signal_to_process(process, SIGNAL_OF[which], SI_KERNEL);
            }
            if (!expiry) continue;
            if (which == ITIMER_REAL) {
                if (expiry < next) next = expiry;
            } else {
                cpu_timers = true;
            }
        }
    });
    if (cpu_timers && now + CPU_POLL_NS < next) next = now + CPU_POLL_NS;
    return next;
}

void timer_thread(uintptr_t, uintptr_t) {
    for (;;) {
        uint64_t next = fire_expired();
        g_timers_changed = false;
        (void)sched::wait_event(
            g_timer_wait, [] { return g_timers_changed; }, sched::Deadline{next}, sched::Interruptible::No);
    }
}

// The timer thread recomputes its deadline (a timer was armed or changed).
ErrorOr<void> timers_changed() {
    if (!g_thread_started) {
        void* stack = mm::alloc_pages(sched::KERNEL_STACK_PAGES);
        if (!stack) return error(EAGAIN);
        uintptr_t top = reinterpret_cast<uintptr_t>(stack) + sched::KERNEL_STACK_PAGES * 4096;
        if (!sched::create_kernel_thread(timer_thread, 0, 0, top)) {
            mm::free_pages(stack, sched::KERNEL_STACK_PAGES);
            return error(EAGAIN);
        }
        g_thread_started = true;
    }
    platform::InterruptGuard guard;
    g_timers_changed = true;
    sched::wake_all(g_timer_wait);
    return {};
}

ErrorOr<void> check_timer(int which) {
    if (which != ITIMER_REAL && which != ITIMER_VIRTUAL && which != ITIMER_PROF) return error(EINVAL);
    return {};
}

// Past about 290 years the value is clamped there (no overflow; Linux also clamps huge values).
uint64_t to_ns(const timeval& t) {
    constexpr uint64_t MAX_SECONDS = 9000000000;
    uint64_t seconds = uint64_t(t.tv_sec) < MAX_SECONDS ? uint64_t(t.tv_sec) : MAX_SECONDS;
    return seconds * NS_PER_S + uint64_t(t.tv_usec) * NS_PER_US;
}

// Rounds up to whole microseconds, as Linux reports.
timeval to_timeval(uint64_t ns) {
    ns = (ns + NS_PER_US - 1) / NS_PER_US * NS_PER_US;
    return timeval{time_t(ns / NS_PER_S), suseconds_t(ns % NS_PER_S / NS_PER_US)};
}

itimerval read_timer(sched::Process& process, int which) {
    itimerval value{};
    uint64_t expiry = process.itimer_expiry[which];
    if (expiry) {
        uint64_t clock = clock_of(process, which);
        // A timer due but not yet fired reads as about to fire (Linux shows 1 us then).
        value.it_value = expiry > clock ? to_timeval(expiry - clock) : timeval{0, 1};
    }
    value.it_interval = to_timeval(process.itimer_interval[which]);
    return value;
}

ErrorOr<itimerval> arm(int which, const itimerval& wanted) {
    if (wanted.it_value.tv_sec < 0 || wanted.it_value.tv_usec < 0 || wanted.it_value.tv_usec >= 1000000 ||
        wanted.it_interval.tv_sec < 0 || wanted.it_interval.tv_usec < 0 || wanted.it_interval.tv_usec >= 1000000)
        return error(EINVAL);
    sched::Process& process = sched::current_process();
    itimerval old = read_timer(process, which);
    uint64_t value = to_ns(wanted.it_value);
    process.itimer_interval[which] = value ? to_ns(wanted.it_interval) : 0;
    process.itimer_expiry[which] = value ? clock_of(process, which) + value : 0;
    if (value) TRY(timers_changed());
    return old;
}

}  // namespace

// Implements getitimer(2).
ErrorOr<long> sys_getitimer(int which, UserPtr<struct itimerval> value) {
    TRY(check_timer(which));
    TRY(write_user(value, read_timer(sched::current_process(), which)));
    return 0;
}

// Implements setitimer(2). A null new value disarms (Linux accepts it, with a warning).
ErrorOr<long> sys_setitimer(int which, UserPtr<const struct itimerval> new_value, UserPtr<struct itimerval> old_value) {
    TRY(check_timer(which));
    itimerval wanted{};
    if (!new_value.is_null()) wanted = TRY(read_user(new_value));
    itimerval old = TRY(arm(which, wanted));
    if (!old_value.is_null()) TRY(write_user(old_value, old));
    return 0;
}

// Implements alarm(2): ITIMER_REAL in whole seconds; returns the seconds the previous alarm had
// left, rounded to the nearest (at least 1 while one was armed), as Linux.
ErrorOr<long> sys_alarm(unsigned seconds) {
    itimerval wanted{{0, 0}, {time_t(seconds), 0}};
    itimerval old = TRY(arm(ITIMER_REAL, wanted));
    long left = long(old.it_value.tv_sec);
    if ((!left && old.it_value.tv_usec) || old.it_value.tv_usec >= 500000) ++left;
    return left;
}

}  // namespace xos::sys
