// User and group ids (sched::Credentials): per process, as Linux's are per thread group once
// libc has broadcast a change to every thread. Privilege is an effective uid of 0 (CAP_SETUID
// and CAP_SETGID); nothing checks the ids on file access (docs/processes.md).
#include "sched/process.h"
#include "sys/handlers.h"

namespace xos::sys {

namespace {

constexpr uint32_t UNCHANGED = 0xffffffffu;  // (uid_t)-1

sched::Credentials& credentials() { return sched::current_process().credentials; }

bool privileged(const sched::Credentials& c) { return c.euid == 0; }

bool one_of(uint32_t id, uint32_t a, uint32_t b, uint32_t c) { return id == a || id == b || id == c; }

// setresuid/setresgid: each id either unchanged or, unprivileged, one of the current three.
ErrorOr<long> set_ids(uint32_t& real, uint32_t& effective, uint32_t& saved, uint32_t& fs, uint32_t new_real,
                      uint32_t new_effective, uint32_t new_saved, bool is_privileged) {
    if (!is_privileged) {
        for (uint32_t id : {new_real, new_effective, new_saved})
            if (id != UNCHANGED && !one_of(id, real, effective, saved)) return error(EPERM);
    }
    if (new_real != UNCHANGED) real = new_real;
    if (new_effective != UNCHANGED) effective = new_effective;
    if (new_saved != UNCHANGED) saved = new_saved;
    fs = effective;
    return 0;
}

// setreuid/setregid: the real id may become the effective one, the effective any of the three;
// the saved id follows the effective one when the real id is set or the effective one moves
// away from the real id.
ErrorOr<long> set_real_effective(uint32_t& real, uint32_t& effective, uint32_t& saved, uint32_t& fs, uint32_t new_real,
                                 uint32_t new_effective, bool is_privileged) {
    if (!is_privileged) {
        if (new_real != UNCHANGED && new_real != real && new_real != effective) return error(EPERM);
        if (new_effective != UNCHANGED && !one_of(new_effective, real, effective, saved)) return error(EPERM);
    }
    uint32_t old_real = real;
    if (new_real != UNCHANGED) real = new_real;
    if (new_effective != UNCHANGED) effective = new_effective;
    if (new_real != UNCHANGED || (new_effective != UNCHANGED && new_effective != old_real)) saved = effective;
    fs = effective;
    return 0;
}

}  // namespace

// Implements getuid(2), geteuid(2), getgid(2), getegid(2). Without the big lock: one aligned
// 32-bit id each, which the set*id syscalls (under the big lock) store whole; a set*id by
// another thread meanwhile is seen before or after, as on Linux.
ErrorOr<long> sys_getuid() { return __atomic_load_n(&credentials().uid, __ATOMIC_RELAXED); }
ErrorOr<long> sys_geteuid() { return __atomic_load_n(&credentials().euid, __ATOMIC_RELAXED); }
ErrorOr<long> sys_getgid() { return __atomic_load_n(&credentials().gid, __ATOMIC_RELAXED); }
ErrorOr<long> sys_getegid() { return __atomic_load_n(&credentials().egid, __ATOMIC_RELAXED); }

// Implements setuid(2): privileged, all three ids; otherwise only the effective one, to the
// real or saved id.
ErrorOr<long> sys_setuid(uid_t uid) {
    auto& c = credentials();
    if (uid == UNCHANGED) return error(EINVAL);
    if (privileged(c)) return set_ids(c.uid, c.euid, c.suid, c.fsuid, uid, uid, uid, true);
    if (uid != c.uid && uid != c.suid) return error(EPERM);
    c.euid = c.fsuid = uid;
    return 0;
}

// Implements setgid(2).
ErrorOr<long> sys_setgid(gid_t gid) {
    auto& c = credentials();
    if (gid == UNCHANGED) return error(EINVAL);
    if (privileged(c)) return set_ids(c.gid, c.egid, c.sgid, c.fsgid, gid, gid, gid, true);
    if (gid != c.gid && gid != c.sgid) return error(EPERM);
    c.egid = c.fsgid = gid;
    return 0;
}

// Implements setreuid(2).
ErrorOr<long> sys_setreuid(uid_t ruid, uid_t euid) {
    auto& c = credentials();
    return set_real_effective(c.uid, c.euid, c.suid, c.fsuid, ruid, euid, privileged(c));
}

// Implements setregid(2).
ErrorOr<long> sys_setregid(gid_t rgid, gid_t egid) {
    auto& c = credentials();
    return set_real_effective(c.gid, c.egid, c.sgid, c.fsgid, rgid, egid, privileged(c));
}

// Implements setresuid(2).
ErrorOr<long> sys_setresuid(uid_t ruid, uid_t euid, uid_t suid) {
    auto& c = credentials();
    return set_ids(c.uid, c.euid, c.suid, c.fsuid, ruid, euid, suid, privileged(c));
}

// Implements setresgid(2).
ErrorOr<long> sys_setresgid(gid_t rgid, gid_t egid, gid_t sgid) {
    auto& c = credentials();
    return set_ids(c.gid, c.egid, c.sgid, c.fsgid, rgid, egid, sgid, privileged(c));
}

// Implements getresuid(2).
ErrorOr<long> sys_getresuid(UserPtr<uid_t> ruid, UserPtr<uid_t> euid, UserPtr<uid_t> suid) {
    const auto c = credentials();
    TRY(write_user(ruid, uid_t(c.uid)));
    TRY(write_user(euid, uid_t(c.euid)));
    TRY(write_user(suid, uid_t(c.suid)));
    return 0;
}

// Implements getresgid(2).
ErrorOr<long> sys_getresgid(UserPtr<gid_t> rgid, UserPtr<gid_t> egid, UserPtr<gid_t> sgid) {
    const auto c = credentials();
    TRY(write_user(rgid, gid_t(c.gid)));
    TRY(write_user(egid, gid_t(c.egid)));
    TRY(write_user(sgid, gid_t(c.sgid)));
    return 0;
}

// Implements getgroups(2): size 0 asks for the count.
ErrorOr<long> sys_getgroups(int size, UserPtr<gid_t> list) {
    const auto& c = credentials();
    if (size < 0) return error(EINVAL);
    if (size == 0) return c.group_count;
    if (size < c.group_count) return error(EINVAL);
    TRY(copy_to_user(UserPtr<void>(list.address()), c.groups, sizeof(gid_t) * size_t(c.group_count)));
    return c.group_count;
}

// Implements setgroups(2) (privileged).
ErrorOr<long> sys_setgroups(size_t size, UserPtr<const gid_t> list) {
    auto& c = credentials();
    if (!privileged(c)) return error(EPERM);
    if (size > size_t(sched::Credentials::MAX_GROUPS)) return error(EINVAL);
    uint32_t groups[sched::Credentials::MAX_GROUPS];
    if (size > 0) TRY(copy_from_user(groups, UserPtr<const void>(list.address()), sizeof(gid_t) * size));
    for (size_t i = 0; i < size; ++i) c.groups[i] = groups[i];
    c.group_count = int(size);
    return 0;
}

// Implements setfsuid(2): returns the previous fsuid whether or not it changed.
ErrorOr<long> sys_setfsuid(uid_t uid) {
    auto& c = credentials();
    uint32_t old = c.fsuid;
    if (uid != UNCHANGED && (privileged(c) || uid == c.uid || uid == c.euid || uid == c.suid || uid == c.fsuid))
        c.fsuid = uid;
    return old;
}

// Implements setfsgid(2).
ErrorOr<long> sys_setfsgid(gid_t gid) {
    auto& c = credentials();
    uint32_t old = c.fsgid;
    if (gid != UNCHANGED && (privileged(c) || gid == c.gid || gid == c.egid || gid == c.sgid || gid == c.fsgid))
        c.fsgid = gid;
    return old;
}

}  // namespace xos::sys
