// Hostile code inside a hosted image (docs/hosted.md, "Threat model"): it calls the host kernel
// the way only the platform should, through xos_host_syscall (a global symbol every image links)
// or by jumping straight to the platform's `syscall` instruction, with every host syscall the
// platform is allowed and with abusive arguments, and tries a few it is not allowed.
//
//   escape-hosted list                          the attack names, one a line
//   escape-hosted ATTACK ROUTE SENTINEL_PID SECRET_PATH OUTSIDE_DIR HOST_SHARE GUEST_SHARE
//
// ROUTE is `call` (xos_host_syscall) or `site` (the instruction itself). Exit status: 0 when the
// attack came back refused (an error), 1 when it visibly worked (an escape), 159 when the
// sandbox ended the image for it (SIGSYS). The host side (run_escape_test.py) does not trust
// this: it checks the sentinel process, the secret file and the outside directory itself.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

long xos_host_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
extern char xos_host_syscall_begin[], xos_host_syscall_end[];

enum { ESCAPED = 1, REFUSED = 0 };

// Host syscall numbers (x86_64).
enum {
    H_READ = 0,
    H_WRITE = 1,
    H_CLOSE = 3,
    H_MMAP = 9,
    H_MPROTECT = 10,
    H_RT_SIGSUSPEND = 130,
    H_IOCTL = 16,
    H_PREAD64 = 17,
    H_PWRITE64 = 18,
    H_READV = 19,
    H_WRITEV = 20,
    H_SOCKET = 41,
    H_CONNECT = 42,
    H_CLONE = 56,
    H_FORK = 57,
    H_FUTEX = 202,
    H_MEMBARRIER = 324,
    H_EXECVE = 59,
    H_KILL = 62,
    H_FTRUNCATE = 77,
    H_FCHMOD = 91,
    H_PTRACE = 101,
    H_RT_SIGQUEUEINFO = 129,
    H_PERSONALITY = 135,
    H_ARCH_PRCTL = 158,
    H_SETITIMER = 38,
    H_TKILL = 200,
    H_GETDENTS64 = 217,
    H_CLOCK_GETTIME = 228,
    H_TGKILL = 234,
    H_OPENAT = 257,
    H_MKDIRAT = 258,
    H_MKNODAT = 259,
    H_FCHOWNAT = 260,
    H_NEWFSTATAT = 262,
    H_UNLINKAT = 263,
    H_RENAMEAT2 = 316,
    H_LINKAT = 265,
    H_SYMLINKAT = 266,
    H_READLINKAT = 267,
    H_FCHMODAT = 268,
    H_UTIMENSAT = 280,
    H_PROCESS_VM_WRITEV = 311,
    H_GETRANDOM = 318,
    H_MEMFD_CREATE = 319,
    H_PIDFD_SEND_SIGNAL = 424,
    H_PIDFD_OPEN = 434,
    H_UNSHARE = 272,
    H_MOUNT = 165,
    H_PRCTL = 157,
    H_FCNTL = 72,
    H_DUP3 = 292,
};
enum { FD_STATUS = 3, FD_NIC = 4, FD_RAM = 5, FD_PROC = 6, FD_FIRST_SHARE = 24 };  // platform/hosted/host.h
#define AT_FDCWD_ (-100)

static int g_site_route;
static const char* g_secret;
static const char* g_outside;
static const char* g_host_share;
static const char* g_guest_share;
static long g_sentinel;

// The platform's own `syscall` instruction (followed by `ret` in xos_host_syscall).
static uintptr_t syscall_site(void) {
    for (const unsigned char* p = (const unsigned char*)xos_host_syscall_begin;
         p + 2 < (const unsigned char*)xos_host_syscall_end; ++p)
        if (p[0] == 0x0f && p[1] == 0x05 && p[2] == 0xc3) return (uintptr_t)p;
    return 0;
}

static long site_call(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
    uintptr_t site = syscall_site();
    if (!site) {
        printf("no syscall site found\n");
        exit(2);
    }
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    // Step over the red zone: `call` pushes its return address below %rsp.
    __asm__ volatile("sub $128, %%rsp\n\tcall *%[site]\n\tadd $128, %%rsp"
                     : "=a"(ret), "+r"(r10), "+r"(r8), "+r"(r9)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), [site] "r"(site)
                     : "rcx", "r11", "memory", "cc");
    return ret;
}

static long host(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
    long r = g_site_route ? site_call(n, a1, a2, a3, a4, a5, a6) : xos_host_syscall(n, a1, a2, a3, a4, a5, a6);
    printf("  host syscall %ld -> %ld\n", n, r);
    fflush(stdout);
    return r;
}
#define H0(n) host(n, 0, 0, 0, 0, 0, 0)
#define H1(n, a) host(n, (long)(a), 0, 0, 0, 0, 0)
#define H2(n, a, b) host(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define H3(n, a, b, c) host(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define H4(n, a, b, c, d) host(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define H5(n, a, b, c, d, e) host(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define H6(n, a, b, c, d, e, f) host(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static char g_path[4096];
static const char* outside(const char* name) {
    snprintf(g_path, sizeof g_path, "%s/%s", g_outside, name);
    return g_path;
}

// Reads from a host descriptor it obtained; an escape if that gives the secret's bytes.
static int read_secret_from(long fd) {
    if (fd < 0) return REFUSED;
    char buffer[64] = {0};
    long n = H4(H_PREAD64, fd, buffer, sizeof buffer - 1, 0);
    if (n > 0 && strstr(buffer, "SECRET")) {
        printf("ESCAPE: read the secret through host fd %ld\n", fd);
        return ESCAPED;
    }
    return REFUSED;
}

static int escaped_if(int condition, const char* what) {
    if (condition) printf("ESCAPE: %s\n", what);
    return condition ? ESCAPED : REFUSED;
}

// --- the attacks ----------------------------------------------------------------------------

static int a_tgkill_sentinel(void) { return escaped_if(H3(H_TGKILL, g_sentinel, g_sentinel, SIGKILL) == 0, "tgkill"); }
static int a_tgkill_sentinel_usr1(void) {
    return escaped_if(H3(H_TGKILL, g_sentinel, g_sentinel, SIGUSR1) == 0, "tgkill SIGUSR1");
}
static int a_tgkill_group_of_sentinel(void) {
    // tgid our own (if it is the host's pid 1 view, still not the sentinel's), tid the sentinel's.
    return escaped_if(H3(H_TGKILL, 1, g_sentinel, SIGKILL) == 0, "tgkill(1, sentinel)");
}
static int a_kill_sentinel(void) { return escaped_if(H2(H_KILL, g_sentinel, SIGKILL) == 0, "kill"); }
static int a_kill_everything(void) { return escaped_if(H2(H_KILL, -1, SIGKILL) == 0, "kill(-1)"); }
static int a_tkill_sentinel(void) { return escaped_if(H2(H_TKILL, g_sentinel, SIGKILL) == 0, "tkill"); }
static int a_sigqueue_sentinel(void) {
    char info[128] = {0};
    return escaped_if(H3(H_RT_SIGQUEUEINFO, g_sentinel, SIGKILL, info) == 0, "rt_sigqueueinfo");
}
static int a_pidfd_sentinel(void) {
    long fd = H2(H_PIDFD_OPEN, g_sentinel, 0);
    if (fd < 0) return REFUSED;
    return escaped_if(H4(H_PIDFD_SEND_SIGNAL, fd, SIGKILL, 0, 0) == 0, "pidfd_send_signal");
}
static int a_ptrace_sentinel(void) {
    return escaped_if(H4(H_PTRACE, 16 /* ATTACH */, g_sentinel, 0, 0) == 0, "ptrace");
}
static int a_process_vm_writev(void) {
    return escaped_if(H6(H_PROCESS_VM_WRITEV, g_sentinel, 0, 0, 0, 0, 0) >= 0, "process_vm_writev");
}

static int a_open_secret(void) { return read_secret_from(H3(H_OPENAT, AT_FDCWD_, g_secret, O_RDONLY)); }
static int a_open_secret_from_share(void) {
    // A share's root handle as the directory, and a path that climbs out of it.
    snprintf(g_path, sizeof g_path, "../../../../../../../../..%s", g_secret);
    return read_secret_from(H3(H_OPENAT, FD_FIRST_SHARE, g_path, O_RDONLY));
}
static int a_open_secret_via_proc(void) {
    long handle = H3(H_OPENAT, AT_FDCWD_, g_secret, O_PATH);
    char name[16];
    snprintf(name, sizeof name, "%ld", handle < 0 ? 0 : handle);
    int result = read_secret_from(H3(H_OPENAT, FD_PROC, name, O_RDONLY));
    return result == ESCAPED
        ? ESCAPED
        : escaped_if(handle >= 0 && H4(H_NEWFSTATAT, handle, "", (char[256]){0}, AT_EMPTY_PATH) == 0,
                     "an O_PATH handle on the secret");
}
static int a_proc_climb(void) {
    // /proc/self/fd/../../<sentinel>/root/<secret>: another process's root.
    snprintf(g_path, sizeof g_path, "../../%ld/root%s", g_sentinel, g_secret);
    int result = read_secret_from(H3(H_OPENAT, FD_PROC, g_path, O_RDONLY));
    snprintf(g_path, sizeof g_path, "/proc/%ld/root%s", g_sentinel, g_secret);
    return result | read_secret_from(H3(H_OPENAT, AT_FDCWD_, g_path, O_RDONLY));
}
static int a_proc_mem(void) {
    snprintf(g_path, sizeof g_path, "/proc/%ld/mem", g_sentinel);
    return escaped_if(H3(H_OPENAT, AT_FDCWD_, g_path, O_RDWR) >= 0, "opened the sentinel's /proc/PID/mem");
}
static int a_write_secret(void) {
    long fd = H3(H_OPENAT, AT_FDCWD_, g_secret, O_WRONLY);
    if (fd < 0) return REFUSED;
    return escaped_if(H4(H_PWRITE64, fd, "pwned", 5, 0) == 5, "overwrote the secret");
}
static int a_truncate_secret(void) {
    return escaped_if(H3(H_OPENAT, AT_FDCWD_, g_secret, O_WRONLY | O_TRUNC) >= 0, "truncated the secret");
}
static int a_chmod_secret(void) { return escaped_if(H4(H_FCHMODAT, AT_FDCWD_, g_secret, 0777, 0) == 0, "chmod"); }
static int a_chown_secret(void) {
    return escaped_if(H5(H_FCHOWNAT, AT_FDCWD_, g_secret, -1, -1, 0) == 0, "chown reached the secret");
}
static int a_utimes_secret(void) {
    struct timespec times[2] = {{0, 0}, {0, 0}};
    return escaped_if(H4(H_UTIMENSAT, AT_FDCWD_, g_secret, times, 0) == 0, "utimes");
}
static int a_stat_secret(void) {
    char st[256];
    return escaped_if(H4(H_NEWFSTATAT, AT_FDCWD_, g_secret, st, 0) == 0, "stat of a host file outside the share");
}
static int a_readlink_host(void) {
    char buffer[256];
    return escaped_if(H4(H_READLINKAT, AT_FDCWD_, "/proc/self/exe", buffer, sizeof buffer) > 0,
                      "readlink of a host path");
}
static int a_setxattr_secret(void) {
    return escaped_if(H5(188 /* setxattr */, g_secret, "user.virtfs.mode", "\0\0\0\0", 4, 0) == 0,
                      "setxattr on a host file outside the share");
}
static int a_getxattr_secret(void) {
    char buffer[64];
    long r = H4(191 /* getxattr */, g_secret, "user.xos-escape", buffer, sizeof buffer);
    return escaped_if(r != -2 /* ENOENT */ && r != -13 /* EACCES */, "getxattr reached a host file outside the share");
}
static int a_unlink_secret(void) { return escaped_if(H3(H_UNLINKAT, AT_FDCWD_, g_secret, 0) == 0, "unlink"); }
static int a_rename_secret(void) {
    snprintf(g_path, sizeof g_path, "%s/stolen", g_host_share);
    return escaped_if(H5(H_RENAMEAT2, AT_FDCWD_, g_secret, AT_FDCWD_, g_path, 0) == 0, "rename into the share");
}
static int a_link_secret(void) {
    snprintf(g_path, sizeof g_path, "%s/linked", g_host_share);
    return escaped_if(H5(H_LINKAT, AT_FDCWD_, g_secret, AT_FDCWD_, g_path, 0) == 0, "hard link into the share");
}
static int a_symlink_outside(void) {
    return escaped_if(H3(H_SYMLINKAT, "/etc/passwd", AT_FDCWD_, outside("planted-link")) == 0, "symlink outside");
}
static int a_mkdir_outside(void) {
    return escaped_if(H3(H_MKDIRAT, AT_FDCWD_, outside("planted-dir"), 0755) == 0, "mkdir");
}
static int a_mknod_outside(void) {
    return escaped_if(H4(H_MKNODAT, AT_FDCWD_, outside("planted-fifo"), S_IFIFO | 0666, 0) == 0, "mknod");
}
static int a_create_outside(void) {
    return escaped_if(H4(H_OPENAT, AT_FDCWD_, outside("planted-file"), O_CREAT | O_WRONLY, 0666) >= 0, "create");
}
static int a_inherited_fds(void) {
    // Every descriptor number but the platform's own: anything inherited that reads the secret.
    int result = REFUSED;
    for (long fd = 7; fd < 1024 && result == REFUSED; ++fd)
        if (fd < FD_FIRST_SHARE || fd > FD_FIRST_SHARE + 16) result = read_secret_from(fd);
    return result;
}
static int a_console_abuse(void) {
    // The console descriptors are the user's terminal or files: no positional I/O, truncation, ioctl.
    int result = escaped_if(H2(H_FTRUNCATE, 1, 0) == 0, "ftruncate of stdout");
    char c = 'x';
    result |= escaped_if(H3(H_IOCTL, 0, 0x5412 /* TIOCSTI */, &c) == 0, "TIOCSTI");
    return result | read_secret_from(0);
}
static int a_write_other_fd(void) {
    // write(2) is for the console and the status pipe: not the RAM memfd, not a share's handle.
    int result = escaped_if(H3(H_WRITE, FD_RAM, "x", 1) == 1, "write(2) to the RAM memfd");
    return result | escaped_if(H3(H_WRITE, FD_FIRST_SHARE, "x", 1) == 1, "write(2) to a share's handle");
}
// The shares' descriptor calls on the console's descriptors (a terminal or the user's files; the
// offset of 0 is shared with the shell): refused, whatever a share allows on its own handles.
static int a_lseek_console(void) {
    return escaped_if(H3(8 /* lseek */, 0, 0, 2 /* SEEK_END */) >= 0, "lseek of stdin");
}
static int a_sync_console(void) { return escaped_if(H1(75 /* fdatasync */, 1) == 0, "fdatasync of stdout"); }
static int a_close_console(void) { return escaped_if(H1(H_CLOSE, 2) == 0, "close of stderr"); }
static int a_fstatfs_console(void) {
    char buffer[256];
    return escaped_if(H2(138 /* fstatfs */, 1, buffer) == 0, "fstatfs of stdout");
}
static int a_fallocate_console(void) {
    return escaped_if(H4(285 /* fallocate */, 1, 0, 0, 1 << 20) == 0, "fallocate of stdout");
}
static int a_getdents_proc(void) {
    char buffer[1024];
    return escaped_if(H3(H_GETDENTS64, FD_PROC, buffer, sizeof buffer) > 0, "listing /proc/self/fd's handle");
}
static int a_writev_console(void) {
    struct {
        const void* base;
        size_t length;
    } iov = {"x\n", 2};
    return escaped_if(H3(H_WRITEV, 1, &iov, 1) == 2, "writev (the NIC's call) to stdout");
}
static int a_sigsuspend(void) {
    // The idle wait with no signal blocked: back with EINTR at the next tick.
    unsigned long none = 0;
    return escaped_if(H2(H_RT_SIGSUSPEND, &none, 8) != -EINTR, "rt_sigsuspend did not end with EINTR");
}
static int a_readv_console(void) {
    char buffer[16];
    struct {
        void* base;
        size_t length;
    } iov = {buffer, sizeof buffer};
    return escaped_if(H3(H_READV, 0, &iov, 1) >= 0, "readv of stdin");
}
static int a_mmap_rwx(void) {
    long r = H6(H_MMAP, 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return escaped_if(r > 0 || r < -4096, "an RWX mapping");
}
static int a_mmap_exec(void) {
    long r = H6(H_MMAP, 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return escaped_if(r > 0 || r < -4096, "a new executable mapping");
}
static int a_mmap_ram_exec(void) {
    // The RAM memfd again, executable (its frames are writable through the RAM view).
    long r = H6(H_MMAP, 0, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, FD_RAM, 0);
    return escaped_if(r > 0 || r < -4096, "the RAM memfd mapped executable");
}
static int a_mmap_other_fd(void) {
    long r = H6(H_MMAP, 0, 4096, PROT_READ, MAP_SHARED, 0, 0);
    return escaped_if(r > 0 || r < -4096, "stdin mapped");
}

// A page of code of its own, to rewrite.
__attribute__((naked, aligned(4096))) static void victim(void) { __asm__ volatile("ret\n\t.skip 4095, 0xcc"); }

static int a_mprotect_text_rwx(void) {
    return escaped_if(H3(H_MPROTECT, (uintptr_t)victim, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0,
                      "the image's text made RWX");
}
static int a_rewrite_text(void) {
    // Writable (allowed: it is then not executable), patched, and executable again (refused).
    if (H3(H_MPROTECT, (uintptr_t)victim, 4096, PROT_READ | PROT_WRITE) != 0) return REFUSED;
    *(volatile unsigned char*)victim = 0xc3;
    return escaped_if(H3(H_MPROTECT, (uintptr_t)victim, 4096, PROT_READ | PROT_EXEC) == 0,
                      "the image's text rewritten");
}
static int a_personality(void) {
    return escaped_if(H1(H_PERSONALITY, 0x0400000 /* READ_IMPLIES_EXEC */) >= 0, "personality(READ_IMPLIES_EXEC)");
}
static int a_setitimer_other(void) {
    long timer[4] = {0, 1000, 0, 1000};
    return escaped_if(H3(H_SETITIMER, 2 /* ITIMER_PROF */, timer, 0) == 0, "setitimer(ITIMER_PROF)");
}
static int a_arch_prctl_other(void) { return escaped_if(H2(H_ARCH_PRCTL, 0x1001 /* SET_GS */, 0) == 0, "ARCH_SET_GS"); }
static int a_process_creation(void) {
    int result = escaped_if(H0(H_FORK) >= 0, "fork");
    char* argv[] = {"/bin/sh", 0};
    return result | escaped_if(H3(H_EXECVE, "/bin/sh", argv, 0) == 0, "execve");
}
static int a_network(void) {
    long fd = H3(H_SOCKET, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
    return escaped_if(fd >= 0, "a host socket");
}
static int a_reconfigure(void) {
    int result = escaped_if(H1(H_UNSHARE, 0x10000000) == 0, "unshare");
    result |= escaped_if(H5(H_MOUNT, "none", "/", 0, 0, 0) == 0, "mount");
    result |= escaped_if(H2(H_MEMFD_CREATE, "x", 0) >= 0, "memfd_create");
    result |= escaped_if(H5(H_PRCTL, 59, 0, 0, 0, 0) == 0, "prctl(syscall user dispatch off)");
    return result | escaped_if(H3(H_DUP3, FD_PROC, 100, 0) >= 0, "dup3");
}
// With several vCPUs (XOS_CPUS=2, platform/hosted/vcpu.cpp) the filter allows the private futex
// wait and wake and tgkill to the image's own vCPU threads: nothing more. The host pid is the
// platform's (xos::hosted::g_pid): hostile code can read anything in the image.
extern long _ZN3xos6hosted5g_pidE;
static int g_futex_word;
static int a_futex_shared_wait(void) {
    H4(H_FUTEX, &g_futex_word, 0 /* FUTEX_WAIT */, 1, 0);
    return escaped_if(1, "a shared futex wait reached the host");
}
static int a_futex_shared_wake(void) {
    return escaped_if(H3(H_FUTEX, &g_futex_word, 1 /* FUTEX_WAKE */, 1) >= 0, "a shared futex wake");
}
static int a_futex_requeue(void) {
    H6(H_FUTEX, &g_futex_word, 4 | 128 /* FUTEX_CMP_REQUEUE_PRIVATE */, 1, 1, &g_futex_word, 0);
    return escaped_if(1, "a futex requeue reached the host");
}
static int a_futex_lock_pi(void) {
    H4(H_FUTEX, &g_futex_word, 6 | 128 /* FUTEX_LOCK_PI_PRIVATE */, 0, 0);
    return escaped_if(1, "a PI futex lock reached the host");
}
// membarrier: only the private core-serializing barrier (the rewriter's); the global barrier
// reaches every process of the host (an IPI to each CPU), a registration changes the process.
static int a_membarrier_global(void) {
    H2(H_MEMBARRIER, 1 /* MEMBARRIER_CMD_GLOBAL */, 0);
    return escaped_if(1, "a global membarrier reached the host");
}
static int a_membarrier_register(void) {
    H2(H_MEMBARRIER, 16 /* MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED */, 0);
    return escaped_if(1, "a membarrier registration reached the host");
}
static int a_tgkill_own_group_sentinel(void) {
    // Its own tgid with a tid outside it (the sentinel).
    long pid = _ZN3xos6hosted5g_pidE;
    return escaped_if(H3(H_TGKILL, pid, g_sentinel, SIGKILL) == 0, "tgkill(own pid, sentinel)");
}
static int a_tgkill_own_group_stranger(void) {
    // Its own tgid with a tid that is no vCPU thread of it.
    long pid = _ZN3xos6hosted5g_pidE;
    H3(H_TGKILL, pid, pid + 4000000, SIGUSR1);
    return escaped_if(1, "tgkill to a tid that is no vCPU thread reached the host");
}
static int a_tgkill_own_sigkill(void) {
    long pid = _ZN3xos6hosted5g_pidE;
    H3(H_TGKILL, pid, pid, SIGKILL);
    return escaped_if(1, "tgkill(SIGKILL) of its own thread reached the host");
}
static int a_clone_thread(void) {
    // A host thread of its own (the vCPUs' are made before the filter): clone stays refused.
    long r = H2(H_CLONE, 0x100 | 0x800 | 0x10000 /* VM SIGHAND THREAD */, 0);
    return escaped_if(r >= 0, "clone");
}
static int a_harmless_allowed(void) {
    // The unconditionally allowed calls with bad pointers: errors, not crashes or host effects.
    int result = escaped_if(H3(H_GETRANDOM, (uintptr_t)victim, 16, 0) > 0, "getrandom wrote the image's text");
    result |= escaped_if(H2(H_CLOCK_GETTIME, 0, (uintptr_t)victim) == 0, "clock_gettime wrote the image's text");
    return result;
}
static int a_raw_uprobe_syscalls(void) {
    // Not hostile: raw 335/336 from app code (not the platform's site) must give ENOSYS, as any
    // number libos does not implement; the host kernel must not see them.
    int result = REFUSED;
    for (long n = 335; n <= 336; ++n) {
        long r;
        __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
        printf("  raw syscall %ld -> %ld\n", n, r);
        if (r != -ENOSYS) {
            printf("FAIL: raw syscall %ld returned %ld, not -ENOSYS\n", n, r);
            result = ESCAPED;
        }
    }
    return result;
}
static int a_rwx_through_libos(void) {
    // Ordinary mmap (libos): RWX and R-X app memory, touched so the platform maps it on the host,
    // then a pause while the host reads /proc/PID/maps (run_escape_test.py), ended by a file
    // the host creates in the share.
    unsigned char* rwx = mmap(0, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char* rx = mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rwx == MAP_FAILED || rx == MAP_FAILED) return REFUSED;
    rwx[0] = 0xc3;
    rwx[4096] = 0xc3;
    volatile unsigned char touched = rx[0];
    (void)touched;
    if (mprotect(rwx + 4096, 4096, PROT_READ | PROT_EXEC) != 0) printf("mprotect failed: %d\n", errno);
    printf("checkpoint\n");
    fflush(stdout);
    snprintf(g_path, sizeof g_path, "%s/continue", g_guest_share);
    for (int i = 0; i < 3000; ++i) {
        struct stat st;
        if (stat(g_path, &st) == 0) return REFUSED;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, 0);
    }
    printf("the host never said continue\n");
    return 2;
}

struct Attack {
    const char* name;
    int (*run)(void);
};
static const struct Attack ATTACKS[] = {
    {"tgkill-sentinel", a_tgkill_sentinel},
    {"tgkill-sentinel-usr1", a_tgkill_sentinel_usr1},
    {"tgkill-tid-of-sentinel", a_tgkill_group_of_sentinel},
    {"kill-sentinel", a_kill_sentinel},
    {"kill-everything", a_kill_everything},
    {"tkill-sentinel", a_tkill_sentinel},
    {"sigqueue-sentinel", a_sigqueue_sentinel},
    {"pidfd-sentinel", a_pidfd_sentinel},
    {"ptrace-sentinel", a_ptrace_sentinel},
    {"process-vm-writev", a_process_vm_writev},
    {"open-secret", a_open_secret},
    {"open-secret-from-share", a_open_secret_from_share},
    {"open-secret-via-proc", a_open_secret_via_proc},
    {"proc-climb", a_proc_climb},
    {"proc-mem", a_proc_mem},
    {"write-secret", a_write_secret},
    {"truncate-secret", a_truncate_secret},
    {"chmod-secret", a_chmod_secret},
    {"chown-secret", a_chown_secret},
    {"utimes-secret", a_utimes_secret},
    {"stat-secret", a_stat_secret},
    {"readlink-host", a_readlink_host},
    {"setxattr-secret", a_setxattr_secret},
    {"getxattr-secret", a_getxattr_secret},
    {"unlink-secret", a_unlink_secret},
    {"rename-secret", a_rename_secret},
    {"link-secret", a_link_secret},
    {"symlink-outside", a_symlink_outside},
    {"mkdir-outside", a_mkdir_outside},
    {"mknod-outside", a_mknod_outside},
    {"create-outside", a_create_outside},
    {"inherited-fds", a_inherited_fds},
    {"console-abuse", a_console_abuse},
    {"write-other-fd", a_write_other_fd},
    {"readv-console", a_readv_console},
    {"lseek-console", a_lseek_console},
    {"sync-console", a_sync_console},
    {"close-console", a_close_console},
    {"fstatfs-console", a_fstatfs_console},
    {"fallocate-console", a_fallocate_console},
    {"getdents-proc", a_getdents_proc},
    {"writev-console", a_writev_console},
    {"sigsuspend", a_sigsuspend},
    {"mmap-rwx", a_mmap_rwx},
    {"mmap-exec", a_mmap_exec},
    {"mmap-ram-exec", a_mmap_ram_exec},
    {"mmap-other-fd", a_mmap_other_fd},
    {"mprotect-text-rwx", a_mprotect_text_rwx},
    {"rewrite-text", a_rewrite_text},
    {"personality", a_personality},
    {"setitimer-other", a_setitimer_other},
    {"arch-prctl-other", a_arch_prctl_other},
    {"process-creation", a_process_creation},
    {"network", a_network},
    {"reconfigure", a_reconfigure},
    {"harmless-allowed", a_harmless_allowed},
    {"futex-shared-wait", a_futex_shared_wait},
    {"futex-shared-wake", a_futex_shared_wake},
    {"futex-requeue", a_futex_requeue},
    {"futex-lock-pi", a_futex_lock_pi},
    {"membarrier-global", a_membarrier_global},
    {"membarrier-register", a_membarrier_register},
    {"tgkill-own-group-sentinel", a_tgkill_own_group_sentinel},
    {"tgkill-own-group-stranger", a_tgkill_own_group_stranger},
    {"tgkill-own-sigkill", a_tgkill_own_sigkill},
    {"clone-thread", a_clone_thread},
};

int main(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < sizeof ATTACKS / sizeof ATTACKS[0]; ++i) printf("%s\n", ATTACKS[i].name);
        return 0;
    }
    if (argc != 8) {
        fprintf(stderr, "usage: %s ATTACK call|site SENTINEL_PID SECRET OUTSIDE_DIR HOST_SHARE GUEST_SHARE\n", argv[0]);
        return 2;
    }
    g_site_route = strcmp(argv[2], "site") == 0;
    g_sentinel = atol(argv[3]);
    g_secret = argv[4];
    g_outside = argv[5];
    g_host_share = argv[6];
    g_guest_share = argv[7];
    setvbuf(stdout, 0, _IONBF, 0);
    if (strcmp(argv[1], "raw-uprobe-syscalls") == 0) return a_raw_uprobe_syscalls();
    if (strcmp(argv[1], "rwx-through-libos") == 0) return a_rwx_through_libos();
    for (size_t i = 0; i < sizeof ATTACKS / sizeof ATTACKS[0]; ++i) {
        if (strcmp(argv[1], ATTACKS[i].name) == 0) {
            printf("attack %s through %s\n", argv[1],
                   g_site_route ? "the platform's syscall site" : "xos_host_syscall");
            return ATTACKS[i].run();
        }
    }
    fprintf(stderr, "unknown attack %s\n", argv[1]);
    return 2;
}
