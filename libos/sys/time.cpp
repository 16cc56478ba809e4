// Time syscalls, on the platform's monotonic and real-time clocks, and xos_clock_gettime: what a
// vDSO's __vdso_clock_gettime is on Linux (musl's clock_gettime calls it first; see the musl
// overlay in tools/toolchain/musl).
#include <ctime>
#include <sys/time.h>
#include <sys/timex.h>

#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/handlers.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

constexpr int64_t NS_PER_S = 1000000000;
constexpr int64_t COARSE_RESOLUTION_NS = 4000000;  // Linux with HZ=250

timespec to_timespec(int64_t ns) { return timespec{ns / NS_PER_S, ns % NS_PER_S}; }

ErrorOr<int64_t> read_clock(clockid_t clock) {
    switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM: return platform::realtime_ns();
    case CLOCK_TAI: return platform::realtime_ns() + 37 * NS_PER_S;  // TAI-UTC since 2017
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM: return int64_t(platform::monotonic_ns());
    case CLOCK_PROCESS_CPUTIME_ID: return int64_t(sched::process_cpu_time_ns());
    case CLOCK_THREAD_CPUTIME_ID: return int64_t(sched::thread_cpu_time_ns());
    default: return error(EINVAL);
    }
}

ErrorOr<int64_t> read_duration(UserPtr<const struct timespec> request) {
    timespec t = TRY(read_user(request));
    if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= NS_PER_S) return error(EINVAL);
    if (t.tv_sec > INT64_MAX / NS_PER_S - 1) return INT64_MAX;
    return t.tv_sec * NS_PER_S + t.tv_nsec;
}

// Sleeps until the monotonic clock reaches `deadline` or a signal interrupts the sleep.
ErrorOr<void> sleep_until_monotonic(uint64_t deadline) {
    platform::InterruptGuard guard;
    auto result = sched::block_current(nullptr, sched::Deadline{deadline}, sched::Interruptible::Yes);
    if (!result && result.error().code == ETIMEDOUT) return {};
    return result;
}

ErrorOr<void> write_remaining(UserPtr<struct timespec> remaining, uint64_t deadline) {
    if (remaining.is_null()) return {};
    uint64_t now = platform::monotonic_ns();
    int64_t left = deadline > now ? int64_t(deadline - now) : 0;
    return write_user(remaining, to_timespec(left));
}

}  // namespace

// Implements clock_gettime(2).
ErrorOr<long> sys_clock_gettime(clockid_t clock, UserPtr<struct timespec> out) {
    int64_t now = TRY(read_clock(clock));
    TRY(write_user(out, to_timespec(now)));
    return 0;
}

// Implements clock_getres(2).
ErrorOr<long> sys_clock_getres(clockid_t clock, UserPtr<struct timespec> out) {
    TRY(read_clock(clock));
    bool coarse = clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE;
    if (!out.is_null()) TRY(write_user(out, to_timespec(coarse ? COARSE_RESOLUTION_NS : 1)));
    return 0;
}

// Implements gettimeofday(2).
ErrorOr<long> sys_gettimeofday(UserPtr<struct timeval> tv, UserPtr<void> tz) {
    if (!tv.is_null()) {
        int64_t now = platform::realtime_ns();
        TRY(write_user(tv, timeval{now / NS_PER_S, (now % NS_PER_S) / 1000}));
    }
    if (!tz.is_null()) {
        struct Timezone {
            int minuteswest, dsttime;
        };
        TRY(copy_to_user(tz, &(const Timezone&)Timezone{0, 0}, sizeof(Timezone)));
    }
    return 0;
}

// Implements time(2).
ErrorOr<long> sys_time(UserPtr<long> out) {
    long seconds = platform::realtime_ns() / NS_PER_S;
    if (!out.is_null()) TRY(write_user(out, seconds));
    return seconds;
}

// Implements nanosleep(2).
ErrorOr<long> sys_nanosleep(UserPtr<const struct timespec> request, UserPtr<struct timespec> remaining) {
    int64_t duration = TRY(read_duration(request));
    uint64_t deadline = sched::Deadline::after_ns(uint64_t(duration)).monotonic_ns;
    auto slept = sleep_until_monotonic(deadline);
    if (!slept) {
        TRY(write_remaining(remaining, deadline));
        return std::unexpected(slept.error());
    }
    return 0;
}

// Implements clock_nanosleep(2).
ErrorOr<long> sys_clock_nanosleep(clockid_t clock, int flags, UserPtr<const struct timespec> request,
                                  UserPtr<struct timespec> remaining) {
    if (clock == CLOCK_THREAD_CPUTIME_ID || clock == CLOCK_PROCESS_CPUTIME_ID) return error(EINVAL);
    int64_t start = TRY(read_clock(clock));
    if (flags & ~TIMER_ABSTIME) return error(EINVAL);
    int64_t value = TRY(read_duration(request));
    int64_t wait = (flags & TIMER_ABSTIME) ? value - start : value;
    if (wait <= 0) return 0;
    uint64_t deadline = sched::Deadline::after_ns(uint64_t(wait)).monotonic_ns;
    auto slept = sleep_until_monotonic(deadline);
    if (!slept) {
        if (!(flags & TIMER_ABSTIME)) TRY(write_remaining(remaining, deadline));
        return std::unexpected(slept.error());
    }
    return 0;
}

// Setting the clocks: an app here is like a process in a container without CAP_SYS_TIME (the
// clock belongs to the host or the hypervisor), so every change is EPERM after Linux's own
// argument checks (EFAULT, EINVAL for a clock that cannot be set or a bad value), and
// adjtimex/clock_adjtime may only read the clock's state.

// Implements clock_settime(2).
ErrorOr<long> sys_clock_settime(clockid_t clock, UserPtr<const struct timespec> value) {
    timespec t = TRY(read_user(value));
    TRY(read_clock(clock));
    if (clock != CLOCK_REALTIME) return error(EINVAL);  // only CLOCK_REALTIME is settable
    if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= NS_PER_S) return error(EINVAL);
    return error(EPERM);
}

// Implements settimeofday(2).
ErrorOr<long> sys_settimeofday(UserPtr<const struct timeval> tv, UserPtr<const void> tz) {
    if (!tv.is_null()) {
        timeval t = TRY(read_user(tv));
        if (t.tv_usec < 0 || t.tv_usec >= 1000000) return error(EINVAL);
    }
    if (!tz.is_null()) {
        struct Timezone {
            int minuteswest, dsttime;
        };
        TRY(read_user(UserPtr<const Timezone>(tz.address())));
    }
    return error(EPERM);
}

namespace {

// adjtimex's read-only answer: nobody disciplines the clock (STA_UNSYNC, so TIME_ERROR).
ErrorOr<long> read_clock_state(UserPtr<struct timex> buffer) {
    struct timex state = TRY(read_user(UserPtr<const struct timex>(buffer.address())));
    if (state.modes) return error(EPERM);
    int64_t now = platform::realtime_ns();
    struct timex out{};
    out.status = STA_UNSYNC;
    out.maxerror = 16000000;  // NTP_PHASE_LIMIT, as an unsynchronized Linux reports
    out.esterror = 16000000;
    out.constant = 2;
    out.precision = 1;
    out.tolerance = 32768000;  // MAXFREQ_SCALED / 1000
    out.tick = 10000;  // USER_HZ 100
    out.time.tv_sec = now / NS_PER_S;
    out.time.tv_usec = (now % NS_PER_S) / 1000;
    out.tai = 37;
    TRY(write_user(buffer, out));
    return TIME_ERROR;
}

}  // namespace

// Implements adjtimex(2).
ErrorOr<long> sys_adjtimex(UserPtr<struct timex> buffer) { return read_clock_state(buffer); }

// Implements clock_adjtime(2): CLOCK_REALTIME as adjtimex; other known clocks cannot be adjusted.
ErrorOr<long> sys_clock_adjtime(clockid_t clock, UserPtr<struct timex> buffer) {
    TRY(read_clock(clock));
    if (clock != CLOCK_REALTIME) return error(EOPNOTSUPP);
    return read_clock_state(buffer);
}

}  // namespace xos::sys

// The vDSO's role: musl's clock_gettime calls this plain function first (no syscall dispatch,
// no pointer check: a bad pointer faults, as it does through Linux's vDSO) and makes the
// clock_gettime syscall only when it returns -ENOSYS (clocks left to the syscall: CPU-time
// clocks, unknown ids). Runs in the app's context and may be preempted: it only reads the
// platform's clocks. Under TCG: 302 ns a call through the syscall, about a third as fast path.
extern "C" int xos_clock_gettime(clockid_t clock, struct timespec* out) {
    using namespace xos;
    int64_t now;
    switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE: now = platform::realtime_ns(); break;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME: now = int64_t(platform::monotonic_ns()); break;
    default: return -ENOSYS;
    }
    out->tv_sec = now / 1000000000;
    out->tv_nsec = now % 1000000000;
    return 0;
}
