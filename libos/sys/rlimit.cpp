// Resource limits: getrlimit, setrlimit and prlimit64, per process (sched::Process::limits;
// a child inherits its parent's). Everything runs as root, so the hard limit may be raised too,
// but not past what libos was built with: the descriptor table's size for RLIMIT_NOFILE (EPERM,
// as Linux says past nr_open). Enforced: RLIMIT_NOFILE (the descriptor table's limit, so every
// call that makes a descriptor), RLIMIT_AS and RLIMIT_DATA (mmap, brk: ENOMEM), RLIMIT_NPROC
// (fork, for users other than root, as Linux exempts root); the rest are stored and reported.
#include "sys/rlimit.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include "mm/memory.h"
#include "mm/vm.h"
#include "sched/process.h"
#include "sys/handlers.h"
#include "vfs/fd_table.h"
#include "vfs/process.h"

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
    if (wanted && resource == RLIMIT_NOFILE && process.files) process.files->fds.set_limit(int(wanted->rlim_cur));
    return old;
}

}  // namespace

mm::MapLimits map_limits() {
    const rlimit* limits = sched::current_process().limits;
    auto limit = [](rlim_t value) { return value == RLIM_INFINITY ? SIZE_MAX : size_t(value); };
    return {.address_space = limit(limits[RLIMIT_AS].rlim_cur), .data = limit(limits[RLIMIT_DATA].rlim_cur)};
}

bool may_create_process(const sched::Process& parent) {
    uint32_t uid = parent.credentials.uid;
    if (uid == 0) return true;  // Linux exempts root (and CAP_SYS_RESOURCE/CAP_SYS_ADMIN)
    long count = 0;
    sched::for_each_process([&](sched::Process& p) {
        if (p.state != sched::ProcessState::Reaped && p.credentials.uid == uid) ++count;
    });
    return count < long(parent.limits[RLIMIT_NPROC].rlim_cur);
}

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
