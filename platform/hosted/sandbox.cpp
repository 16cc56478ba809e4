// The sandbox around a hosted image, set up by the platform's own start (so `./app` run directly
// is confined as much as under xos-run), before the seccomp filter (seccomp.cpp) goes on. The
// threat model (docs/hosted.md): the app's code is hostile and controls the whole address space,
// so it can make any host syscall the filter allows, with any arguments, through the platform's
// own entry. Each layer below holds without the others' help:
//   - descriptors: the platform's own at fixed numbers, everything else inherited closed;
//   - a user namespace (no capability over anything of the host), a network namespace (no host
//     network; a NIC is an fd passed in), a mount namespace whose root is an empty read-only
//     tmpfs holding only the shares (bind mounts) and this process's /proc/self/fd (there);
//   - Landlock: file access only below the shares, no TCP, no signals or abstract UNIX sockets
//     outside the sandbox, no ptrace-like access (/proc/PID/...) to other processes;
//   - no capabilities, no_new_privs, READ_IMPLIES_EXEC cleared;
//   - syscall user dispatch: a `syscall` instruction outside the platform's entry raises SIGSYS
//     before the kernel runs anything, including the uprobe calls seccomp lets through.
// Where the host kernel lacks a layer (no unprivileged user namespaces, no Landlock), the image
// says so on stderr once and runs with the others.
#include <cstring>
#include <initializer_list>

#include "hosted/host.h"

namespace xos::hosted {

bool g_exec_allowed;

namespace {

using enum host::Syscall;  // the host syscall numbers (host.h)
using host::AT_FDCWD_VALUE;
constexpr long O_WRONLY_VALUE = 1, O_DIRECTORY_VALUE = 0200000, O_CLOEXEC_VALUE = 02000000, O_PATH_VALUE = 010000000;
constexpr long F_DUPFD_CLOEXEC = 1030;
constexpr long CLONE_NEWNS = 0x00020000, CLONE_NEWUSER = 0x10000000, CLONE_NEWNET = 0x40000000;
constexpr long MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32, MS_BIND = 4096,
               MS_REC = 16384, MS_PRIVATE = 1 << 18;
constexpr long MNT_DETACH = 2;
constexpr long OPEN_TREE_CLONE = 1, AT_RECURSIVE = 0x8000, MOVE_MOUNT_F_EMPTY_PATH = 4;
constexpr long AT_EMPTY_PATH_VALUE = 0x1000, MOUNT_ATTR_RDONLY = 1;
constexpr size_t MAX_TREES = 16;  // shares (hostfs.cpp)
constexpr long READ_IMPLIES_EXEC = 0x0400000;
constexpr long PR_SET_NO_NEW_PRIVS = 38, PR_SET_SYSCALL_USER_DISPATCH = 59, PR_SYS_DISPATCH_ON = 1;
// Where the new root is mounted before pivot_root (in the image's own mount namespace only).
constexpr const char* NEW_ROOT = "/tmp";

bool g_user_dispatch;

void note(const char* what, long error) {
    const char prefix[] = "xos: note: hosted sandbox: ";
    host::write_all(2, prefix, sizeof prefix - 1);
    host::write_all(2, what, strlen(what));
    char number[24];
    int n = 0;
    unsigned long e = error < 0 ? -error : error;
    do number[sizeof number - 1 - n++] = char('0' + e % 10);
    while ((e /= 10) && n < 20);
    host::write_all(2, " (errno ", 8);
    host::write_all(2, number + sizeof number - n, size_t(n));
    host::write_all(2, ")\n", 2);
}

long write_file(const char* path, const char* text) {
    long fd = host::call(OPENAT, AT_FDCWD_VALUE, long(path), O_WRONLY_VALUE | O_CLOEXEC_VALUE);
    if (fd < 0) return fd;
    long r = host::call(host::WRITE, fd, long(text), long(strlen(text)));
    host::call(CLOSE, fd);
    return r < 0 ? r : 0;
}

// "N N 1\n": the identity map of one id.
void id_map_line(char* out, unsigned id) {
    char digits[12];
    int n = 0;
    do digits[n++] = char('0' + id % 10);
    while ((id /= 10) && n < 11);
    char* p = out;
    for (int copy = 0; copy < 2; ++copy) {
        for (int i = n - 1; i >= 0; --i) *p++ = digits[i];
        *p++ = ' ';
    }
    memcpy(p, "1\n", 3);
}

// A user namespace (mapping only our own uid and gid, to themselves: files keep their owners),
// and in it new network and mount namespaces. False if the host does not allow it.
bool enter_namespaces() {
    long uid = host::call(102 /* getuid */), gid = host::call(104 /* getgid */);
    long r = host::call(UNSHARE, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS);
    if (r < 0) {
        note("no user namespace (unshare refused): no private network, mounts or root", r);
        return false;
    }
    char line[32];
    id_map_line(line, unsigned(uid));
    if ((r = write_file("/proc/self/uid_map", line)) < 0) setup_failed("cannot write the user namespace's uid_map", r);
    if ((r = write_file("/proc/self/setgroups", "deny")) < 0) setup_failed("cannot write setgroups", r);
    id_map_line(line, unsigned(gid));
    if ((r = write_file("/proc/self/gid_map", line)) < 0) setup_failed("cannot write the user namespace's gid_map", r);
    return true;
}

// "/tmp/<i>" or "/<i>": where share i is mounted before and after pivot_root.
void mount_point(char* out, const char* prefix, size_t index) {
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    out[n++] = '/';
    if (index >= 10) out[n++] = char('0' + index / 10);
    out[n++] = char('0' + index % 10);
    out[n] = 0;
}

// The image's root becomes an empty read-only tmpfs with the shares bind-mounted at /0, /1, ...
// and this process's /proc/self/fd at /proc/self/fd; the host's tree is detached. The platform's handles on
// the share roots and /proc/self/fd are reopened there, at the same numbers: `..` from a share's
// root, or from /proc/self/fd, then stops at that tmpfs. False (with a note) if the host refuses.
bool enter_private_root() {
    long r = host::call(MOUNT, 0, long("/"), 0, MS_REC | MS_PRIVATE, 0);
    if (r < 0) {
        note("cannot make the mounts private: the host's file tree stays visible", r);
        return false;
    }
    // Copies of the shares' trees and of /proc/self/fd first (by path: a mount of the host's
    // namespace, as the handles hold, cannot be copied), before the new root covers /tmp.
    size_t shares = share_root_count();
    long trees[MAX_TREES + 1];  // the shares', then /proc/self/fd's
    size_t copied = 0;
    auto give_up = [&](const char* what, long error) {
        note(what, error);
        for (size_t i = 0; i < copied; ++i) host::call(CLOSE, trees[i]);
        return false;
    };
    for (; copied < shares; ++copied) {
        trees[copied] = host::call(OPEN_TREE, AT_FDCWD_VALUE, long(share_host_dir(copied)),
                                   OPEN_TREE_CLONE | AT_RECURSIVE | O_CLOEXEC_VALUE);
        if (trees[copied] < 0) return give_up("cannot copy a share's mount (open_tree; Linux 5.2)", trees[copied]);
        if (share_read_only(copied)) {  // the host enforces it too (libos refuses first: hostfs)
            struct {
                uint64_t attr_set, attr_clr, propagation, userns_fd;
            } attributes{MOUNT_ATTR_RDONLY, 0, 0, 0};
            r = host::call(MOUNT_SETATTR, trees[copied], long(""), AT_EMPTY_PATH_VALUE | AT_RECURSIVE,
                           long(&attributes), long(sizeof attributes));
            if (r < 0) note("cannot make a read-only share's mount read-only (mount_setattr; Linux 5.12)", r);
        }
    }
    if (shares) {
        trees[copied] = host::call(OPEN_TREE, AT_FDCWD_VALUE, long("/proc/self/fd"), OPEN_TREE_CLONE | O_CLOEXEC_VALUE);
        if (trees[copied] < 0) return give_up("cannot copy /proc/self/fd's mount (open_tree)", trees[copied]);
        ++copied;
    }
    r = host::call(MOUNT, long("xos-root"), long(NEW_ROOT), long("tmpfs"), MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   long("size=16k,nr_inodes=64,mode=0555"));
    if (r < 0) return give_up("cannot mount a private root (tmpfs on /tmp): the host's file tree stays visible", r);
    char target[32];
    for (size_t i = 0; i < shares; ++i) {
        mount_point(target, NEW_ROOT, i);
        if ((r = host::call(MKDIRAT, AT_FDCWD_VALUE, long(target), 0555)) < 0)
            setup_failed("mkdir in the private root", r);
        r = host::call(MOVE_MOUNT, trees[i], long(""), AT_FDCWD_VALUE, long(target), MOVE_MOUNT_F_EMPTY_PATH);
        if (r < 0) setup_failed("cannot mount a share in the private root", r);
        host::call(CLOSE, trees[i]);
    }
    if (shares) {
        // At /proc/self/fd: hostfs.cpp names a handle's file as /proc/self/fd/N for getxattr.
        for (const char* directory : {"/tmp/proc", "/tmp/proc/self", "/tmp/proc/self/fd"})
            if ((r = host::call(MKDIRAT, AT_FDCWD_VALUE, long(directory), 0555)) < 0)
                setup_failed("mkdir in the private root", r);
        r = host::call(MOVE_MOUNT, trees[shares], long(""), AT_FDCWD_VALUE, long("/tmp/proc/self/fd"),
                       MOVE_MOUNT_F_EMPTY_PATH);
        if (r < 0) setup_failed("cannot mount /proc/self/fd in the private root", r);
        host::call(CLOSE, trees[shares]);
    }
    if ((r = host::call(CHDIR, long(NEW_ROOT))) < 0) setup_failed("chdir to the private root", r);
    if ((r = host::call(PIVOT_ROOT, long("."), long("."))) < 0) {
        // A chroot, for one: the root is no mount point. Undo nothing: the tmpfs only hides /tmp.
        note("pivot_root refused: the host's file tree stays visible", r);
        host::call(CHDIR, long("/"));
        return false;
    }
    if ((r = host::call(UMOUNT2, long("."), MNT_DETACH)) < 0) setup_failed("cannot detach the host's root", r);
    host::call(CHDIR, long("/"));
    r = host::call(MOUNT, 0, long("/"), 0, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
    if (r < 0) setup_failed("cannot make the private root read-only", r);
    for (size_t i = 0; i < shares; ++i) {
        mount_point(target, "", i);
        long fd = host::call(OPENAT, AT_FDCWD_VALUE, long(target), O_PATH_VALUE | O_DIRECTORY_VALUE | O_CLOEXEC_VALUE);
        if (fd >= 0 && !share_root_is(i, int(fd)))
            setup_failed("a share's directory changed while the image started", 0);
        place_fd(fd, share_root_fd(i), "a share in the private root");
    }
    if (shares) {
        long fd = host::call(OPENAT, AT_FDCWD_VALUE, long("/proc/self/fd"),
                             O_PATH_VALUE | O_DIRECTORY_VALUE | O_CLOEXEC_VALUE);
        place_fd(fd, host::FD_PROC, "/proc/self/fd in the private root");
    }
    return true;
}

struct LandlockRulesetAttr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};
struct [[gnu::packed]] LandlockPathBeneathAttr {
    uint64_t allowed_access;
    int32_t parent_fd;
};

// File access only below the shares (all of it there), no TCP bind/connect, no signals to and
// no abstract UNIX sockets of processes outside the sandbox; as far as the host's ABI goes.
void restrict_with_landlock() {
    long abi = host::call(LANDLOCK_CREATE_RULESET, 0, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */);
    if (abi < 1) {
        note(have_shares() ? "the host kernel has no Landlock: share confinement rests on the mount namespace"
                           : "the host kernel has no Landlock",
             abi);
        return;
    }
    LandlockRulesetAttr attr{};
    attr.handled_access_fs = (1ull << 13) - 1;  // ABI 1: execute .. make_sym
    if (abi >= 2) attr.handled_access_fs |= 1ull << 13;  // refer
    if (abi >= 3) attr.handled_access_fs |= 1ull << 14;  // truncate
    if (abi >= 5) attr.handled_access_fs |= 1ull << 15;  // ioctl_dev
    size_t size = 8;
    if (abi >= 4) attr.handled_access_net = 3, size = 16;  // bind_tcp, connect_tcp
    if (abi >= 6) attr.scoped = 3, size = 24;  // abstract UNIX sockets, signals
    long ruleset = host::call(LANDLOCK_CREATE_RULESET, long(&attr), long(size), 0);
    if (ruleset < 0) setup_failed("landlock_create_ruleset failed", ruleset);
    for (size_t i = 0; i < share_root_count(); ++i) {
        LandlockPathBeneathAttr rule{attr.handled_access_fs, share_root_fd(i)};
        long r = host::call(LANDLOCK_ADD_RULE, ruleset, 1 /* LANDLOCK_RULE_PATH_BENEATH */, long(&rule), 0);
        if (r < 0) setup_failed("landlock_add_rule for a share failed", r);
    }
    long r = host::call(LANDLOCK_RESTRICT_SELF, ruleset, 0);
    host::call(CLOSE, ruleset);
    if (r < 0) setup_failed("landlock_restrict_self failed", r);
}

}  // namespace

void adopt_inherited_fds(int& status_fd, int& nic_fd) {
    long status = -1, nic = -1;
    if (status_fd >= 0 && (status = host::call(FCNTL, status_fd, F_DUPFD_CLOEXEC, host::FD_FIRST_FREE)) < 0)
        setup_failed("XOS_STATUS_FD is not an open file descriptor", status);
    if (nic_fd >= 0 && (nic = host::call(FCNTL, nic_fd, F_DUPFD_CLOEXEC, host::FD_FIRST_FREE)) < 0)
        setup_failed("XOS_NIC_FD is not an open file descriptor", nic);
    // Everything from 3 up goes; the two kept ones come back at their numbers.
    long r = host::call(CLOSE_RANGE, 3, host::FD_FIRST_FREE - 1, 0);
    if (r < 0) setup_failed("close_range failed (the host kernel needs Linux 5.9)", r);
    status_fd = status >= 0 ? place_fd(status, host::FD_STATUS, "the status descriptor") : -1;
    nic_fd = nic >= 0 ? place_fd(nic, host::FD_NIC, "the NIC descriptor") : -1;
    host::call(CLOSE_RANGE, host::FD_FIRST_FREE, ~0u, 0);
}

int place_fd(long fd, int slot, const char* what) {
    if (fd < 0) setup_failed(what, fd);
    if (fd == slot) return slot;
    long r = host::call(DUP3, fd, slot, O_CLOEXEC_VALUE);
    if (r < 0) setup_failed(what, r);
    host::call(CLOSE, fd);
    return slot;
}

void enter_sandbox() {
    long persona = host::call(PERSONALITY, 0xffffffff);
    if (persona >= 0 && (persona & READ_IMPLIES_EXEC)) host::call(PERSONALITY, persona & ~READ_IMPLIES_EXEC);
    long r = host::call(host::PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (r < 0) setup_failed("prctl(PR_SET_NO_NEW_PRIVS) failed", r);
    if (enter_namespaces()) enter_private_root();
    restrict_with_landlock();
    // No capabilities (they would be the new user namespace's; none is needed from here on).
    struct {
        uint32_t version;
        int pid;
    } header{0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
    uint32_t none[6] = {};
    if ((r = host::call(CAPSET, long(&header), long(none))) < 0)
        setup_failed("capset (dropping capabilities) failed", r);
    auto begin = reinterpret_cast<uintptr_t>(xos_host_syscall_begin);
    auto end = reinterpret_cast<uintptr_t>(xos_host_syscall_end);
    r = host::call(host::PRCTL, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, long(begin), long(end - begin), 0);
    g_user_dispatch = r >= 0;
    if (r < 0)
        note("no syscall user dispatch: a raw uretprobe (335) is caught as SIGILL, uprobe (336) reaches the host", r);
}

bool user_dispatch_enabled() { return g_user_dispatch; }

// A vCPU thread (vcpu.cpp) turns syscall user dispatch on for itself: clone does not carry it.
// The other layers (namespaces, Landlock, no capabilities, no new privileges) are the process's
// or its credentials', which the thread inherits; the filter reaches it through TSYNC.
bool enable_user_dispatch_here() {
    if (!g_user_dispatch) return false;
    auto begin = reinterpret_cast<uintptr_t>(xos_host_syscall_begin);
    auto end = reinterpret_cast<uintptr_t>(xos_host_syscall_end);
    long r =
        host::call(host::PRCTL, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, long(begin), long(end - begin), 0);
    if (r < 0) setup_failed("syscall user dispatch on a vCPU thread failed", r);
    return true;
}

}  // namespace xos::hosted
