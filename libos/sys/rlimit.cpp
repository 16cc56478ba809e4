// Resource limits: getrlimit, setrlimit and prlimit64, per process (sched::Process::limits;
// a child inherits its parent's). Everything runs as root, so the hard limit may be raised too,
// but not past what libos was built with: the descriptor table's size for RLIMIT_NOFILE (EPERM,
// as Linux says past nr_open). Enforced: RLIMIT_NPROC (fork); the rest are stored and reported.
#include <sys/resource.h>

#include "sched/process.h"
#include "sys/handlers.h"
#include "vfs/fd_table.h"

namespace xos::sys {

namespace {

// What no setting can go past: the sizes libos was built with.
rlim_t ceiling(int resource) { return resource == RLIMIT_NOFILE ? rlim_t(vfs::FdTable::MAX_FDS) : RLIM_INFINITY; }

// Reads and/or replaces one limit of `process`, as prlimit64 does.
ErrorOr<rlimit> exchange(sched::Process& process, int resource, const rlimit* wanted) {
    if (resource < 0 || resource >= RLIM_NLIMITS) return error(EINVAL);
    if (wanted && wanted->rlim_cur > wanted->rlim_max) return error(EINVAL);
    if (wanted && wanted->rlim_max > ceiling(resource)) return error(EPERM);
    rlimit old = process.limits[resource];
    if (wanted) process.limits[resource] = *wanted;  // root (CAP_SYS_RESOURCE) may raise the hard limit
    return old;
}

}  // namespace

// Implements getrlimit(2).
ErrorOr<long> sys_getrlimit(int resource, UserPtr<struct rlimit> out) {
    TRY(write_user(out, TRY(exchange(sched::current_process(), resource, nullptr))));
    return 0;
}

// Implements setrlimit(2).
ErrorOr<long> sys_setrlimit(int resource, UserPtr<const struct rlimit> limit) {
    rlimit wanted = TRY(read_user(limit));
    TRY(exchange(sched::current_process(), resource, &wanted));
    return 0;
}

// Implements prlimit64(2): pid 0 is the caller.
ErrorOr<long> sys_prlimit64(pid_t pid, int resource, UserPtr<const struct rlimit> new_limit,
                            UserPtr<struct rlimit> old_limit) {
    sched::Process* process = pid == 0 ? &sched::current_process() : sched::find_process(pid);
    if (!process || process->state != sched::ProcessState::Alive) return error(ESRCH);
    rlimit wanted{};
    if (!new_limit.is_null()) wanted = TRY(read_user(new_limit));
    rlimit old = TRY(exchange(*process, resource, new_limit.is_null() ? nullptr : &wanted));
    if (!old_limit.is_null()) TRY(write_user(old_limit, old));
    return 0;
}

}  // namespace xos::sys
