// Resource limits: getrlimit, setrlimit and prlimit64 on one table for the image (one process,
// running as root). Limits are stored and reported as set; what bounds the image is libos's own
// sizes (the descriptor table, the main thread's stack), so those hard limits cannot be raised
// past them (EPERM, as Linux says past nr_open), and a lower soft limit is not enforced.
#include <sys/resource.h>

#include "sys/handlers.h"
#include "vfs/fd_table.h"

namespace xos::sys {

namespace {

constexpr pid_t IMAGE_PID = 1;
constexpr rlim_t MAIN_STACK_LIMIT = 8 << 20;  // what kernel_main gives the main thread
constexpr rlim_t DESCRIPTOR_LIMIT = vfs::FdTable::MAX_FDS;

struct Limits {
    rlimit values[RLIM_NLIMITS];
};

constexpr Limits initial_limits() {
    Limits limits{};
    for (rlimit& limit : limits.values) limit = {RLIM_INFINITY, RLIM_INFINITY};
    limits.values[RLIMIT_STACK] = {MAIN_STACK_LIMIT, RLIM_INFINITY};
    limits.values[RLIMIT_NOFILE] = {DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT};
    limits.values[RLIMIT_CORE] = {0, RLIM_INFINITY};
    limits.values[RLIMIT_NPROC] = {1, 1};
    limits.values[RLIMIT_SIGPENDING] = {64, 64};
    limits.values[RLIMIT_MSGQUEUE] = {819200, 819200};
    limits.values[RLIMIT_RTPRIO] = {0, 0};
    limits.values[RLIMIT_NICE] = {0, 0};
    return limits;
}

// Handlers run without preemption (libos code is never preempted), so no lock.
constinit Limits g_limits = initial_limits();

// What no setting can go past: the sizes libos was built with.
rlim_t ceiling(int resource) { return resource == RLIMIT_NOFILE ? DESCRIPTOR_LIMIT : RLIM_INFINITY; }

// Reads and/or replaces one limit, as prlimit64 does.
ErrorOr<rlimit> exchange(int resource, const rlimit* wanted) {
    if (resource < 0 || resource >= RLIM_NLIMITS) return error(EINVAL);
    if (wanted && wanted->rlim_cur > wanted->rlim_max) return error(EINVAL);
    if (wanted && wanted->rlim_max > ceiling(resource)) return error(EPERM);
    rlimit old = g_limits.values[resource];
    if (wanted) g_limits.values[resource] = *wanted;  // root (CAP_SYS_RESOURCE) may raise the hard limit
    return old;
}

}  // namespace

// Implements getrlimit(2).
ErrorOr<long> sys_getrlimit(int resource, UserPtr<struct rlimit> out) {
    TRY(write_user(out, TRY(exchange(resource, nullptr))));
    return 0;
}

// Implements setrlimit(2).
ErrorOr<long> sys_setrlimit(int resource, UserPtr<const struct rlimit> limit) {
    rlimit wanted = TRY(read_user(limit));
    TRY(exchange(resource, &wanted));
    return 0;
}

// Implements prlimit64(2) for the image itself (pid 0 or 1).
ErrorOr<long> sys_prlimit64(pid_t pid, int resource, UserPtr<const struct rlimit> new_limit,
                            UserPtr<struct rlimit> old_limit) {
    if (pid != 0 && pid != IMAGE_PID) return error(ESRCH);
    rlimit wanted{};
    if (!new_limit.is_null()) wanted = TRY(read_user(new_limit));
    rlimit old = TRY(exchange(resource, new_limit.is_null() ? nullptr : &wanted));
    if (!old_limit.is_null()) TRY(write_user(old_limit, old));
    return 0;
}

}  // namespace xos::sys
