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

// What Linux counts against RLIMIT_DATA: private writable memory that is not a stack.
bool counts_as_data(const mm::Vma& vma) {
    return (vma.prot & PROT_WRITE) && !vma.shared && vma.kind != mm::VmaKind::Stack;
}

struct Usage {
    size_t total = 0, data = 0;
};

// The current process's mappings, without the part in [start, end) (a MAP_FIXED mapping
// replaces what is there).
Usage usage_outside(uintptr_t start, uintptr_t end) {
    Usage usage;
    mm::app_memory().for_each([&](const mm::Vma& vma) {
        uintptr_t overlap_start = vma.start > start ? vma.start : start;
        uintptr_t overlap_end = vma.end < end ? vma.end : end;
        size_t size = vma.end - vma.start - (overlap_start < overlap_end ? overlap_end - overlap_start : 0);
        usage.total += size;
        if (counts_as_data(vma)) usage.data += size;
    });
    return usage;
}

bool over(size_t used, size_t more, rlim_t limit) {
    return limit != RLIM_INFINITY && (more > limit || used > limit - more);
}

}  // namespace

ErrorOr<void> check_map_limits(uintptr_t address, size_t length, int prot, bool shared, bool fixed) {
    const rlimit* limits = sched::current_process().limits;
    rlim_t as = limits[RLIMIT_AS].rlim_cur, data = limits[RLIMIT_DATA].rlim_cur;
    if (as == RLIM_INFINITY && data == RLIM_INFINITY) return {};
    size_t size = mm::page_round_up(length);
    if (size < length) return error(ENOMEM);
    Usage usage = fixed ? usage_outside(address, address + size) : usage_outside(0, 0);
    if (over(usage.total, size, as)) return error(ENOMEM);
    if ((prot & PROT_WRITE) && !shared && over(usage.data, size, data)) return error(ENOMEM);
    return {};
}

bool break_allowed(uintptr_t current, uintptr_t requested) {
    const rlimit* limits = sched::current_process().limits;
    if (limits[RLIMIT_AS].rlim_cur == RLIM_INFINITY && limits[RLIMIT_DATA].rlim_cur == RLIM_INFINITY) return true;
    uintptr_t old_end = mm::page_round_up(current), new_end = mm::page_round_up(requested);
    if (new_end <= old_end) return true;
    Usage usage = usage_outside(0, 0);
    size_t more = new_end - old_end;
    return !over(usage.total, more, limits[RLIMIT_AS].rlim_cur) &&
        !over(usage.data, more, limits[RLIMIT_DATA].rlim_cur);
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
