// User-pointer fuzz test: syscalls given pointers that are not the app's to give.
//
// Targets: the image's text and read-only data, page 0 and 0x1000, an unmapped page, a PROT_NONE
// page, a non-canonical address, and libos's own memory (its data and bss, the RAM after the
// image where the heap, page tables and frames live, and on the VM the page-table root). On
// Linux, where this program also runs (natively, built with Debian's musl), "libos memory" is
// the kernel's: the verdict there is EFAULT too.
//
// Two builds (compare.py passes no arguments):
//   default        the differential table: about 80 calls whose outcome Linux defines, each
//                  against every target, printed one line each; compare.py requires the same
//                  output (and status) natively and on xos.
//   -DFUZZ_SWEEP   every syscall libos implements with a pointer argument (the table generated
//                  from libos/sys/syscall_list.h), called with each pointer argument aimed at
//                  each target: the verdict is that the image survives (exit status 0, no
//                  crash, no hang), whatever the errno. Linux survives the same sweep.
// Plus, in both modes, the race that needs the copy fixup on top of the permission check: a
// thread blocked in read() whose buffer another thread unmaps gets EFAULT.
// All calls go through syscall(2), so that no libc wrapper (or vDSO) touches the pointers first.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#define FUTEX_WAIT_PRIVATE 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG (no linux/ headers natively) */
#include "../conformance/show.h"

// libos symbols, present only in an xos image (weak: null natively and where a platform lacks one).
extern char __xos_libos_data_start[] __attribute__((weak));
extern char __xos_libos_data_end[] __attribute__((weak));
extern char __xos_image_end[] __attribute__((weak));
extern char xos_boot_pml4[] __attribute__((weak));  // the VM's page-table root

struct Target {
    const char* name;
    uintptr_t address;
    int readable;  // the app may read it (text, rodata): Linux reads it too, so only writes fail
};

static const char rodata_bytes[8192] = {1};  // read-only data, a page or more of it
static struct Target targets[16];
static int target_count;

static void add_target(const char* name, uintptr_t address, int readable) {
    targets[target_count++] = (struct Target){name, address, readable};
}

static void setup_targets(void) {
    add_target("text", (uintptr_t)&setup_targets, 1);
    add_target("rodata", (uintptr_t)rodata_bytes, 1);
    add_target("page0", 0x10, 0);
    add_target("0x1000", 0x1000, 0);
    char* unmapped = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(unmapped, 2 * 4096);
    add_target("unmapped", (uintptr_t)unmapped, 0);
    char* none = mmap(NULL, 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    add_target("prot-none", (uintptr_t)none, 0);
    add_target("non-canonical", 0x8000000000000000ull, 0);
    // libos's own memory; natively, the kernel's (text, and the direct map).
    uintptr_t libos_data = (uintptr_t)__xos_libos_data_start;
    add_target("libos-data", libos_data ? libos_data : 0xffffffff81000000ull, 0);
    uintptr_t libos_bss_end = (uintptr_t)__xos_libos_data_end;
    add_target("libos-data-end", libos_bss_end ? libos_bss_end - 256 : 0xffffffff81100000ull, 0);
    uintptr_t ram = (uintptr_t)__xos_image_end;
    add_target("libos-ram", ram ? ((ram + 4095) & ~4095ul) + 64 * 1024 : 0xffff888000100000ull, 0);
    uintptr_t root = (uintptr_t)xos_boot_pml4;
    add_target("page-tables", root ? root : (libos_data ? libos_data + 64 : 0xffff888000000000ull), 0);
}

// --- Fixtures: descriptors the calls use ---------------------------------------------------

static int file_fd, dir_fd, pipe_r, pipe_w, sock_a, sock_b, udp_fd, event_fd, epoll_fd;
// Per process: natively the two builds of this test may run at the same time.
static char file_path[64], link_path[64], renamed_path[64];
static char scratch[4096];  // a good buffer, for the arguments not under test

static void setup_fixtures(void) {
    if (chdir("/") != 0) exit(2);
    snprintf(file_path, sizeof file_path, "/tmp/xos-fuzz-%d-file", (int)getpid());
    snprintf(link_path, sizeof link_path, "/tmp/xos-fuzz-%d-link", (int)getpid());
    snprintf(renamed_path, sizeof renamed_path, "/tmp/xos-fuzz-%d-renamed", (int)getpid());
    unlink(file_path);
    unlink(link_path);
    file_fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    memset(scratch, 'x', sizeof scratch);
    if (file_fd < 0 || write(file_fd, scratch, sizeof scratch) != sizeof scratch) exit(3);
    if (symlink("target", link_path) != 0) exit(4);
    dir_fd = open("/", O_RDONLY | O_DIRECTORY);
    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0) exit(5);
    pipe_r = p[0];
    pipe_w = p[1];
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) != 0) exit(6);
    sock_a = s[0];
    sock_b = s[1];
    udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
    event_fd = eventfd(1, EFD_NONBLOCK);
    epoll_fd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
    if (udp_fd < 0 || event_fd < 0 || epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event_fd, &ev) != 0) exit(7);
    memset(scratch, 0, sizeof scratch);
}

// Keeps the data the read-side calls need available, so that none of them can block.
static void refill(void) {
    char drain[256];
    while (read(pipe_r, drain, sizeof drain) > 0) {}
    while (recv(sock_b, drain, sizeof drain, MSG_DONTWAIT) > 0) {}
    uint64_t v;
    while (read(event_fd, &v, sizeof v) > 0) {}
    if (write(pipe_w, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64) != 64) exit(8);
    if (send(sock_a, "0123456789abcdef", 16, 0) != 16) exit(9);
    v = 1;
    if (write(event_fd, &v, sizeof v) != sizeof v) exit(10);
    lseek(file_fd, 0, SEEK_SET);
    lseek(dir_fd, 0, SEEK_SET);
}

// --- The differential table ---------------------------------------------------------------

enum Direction { OUT, IN };  // OUT: the call writes through the pointer; IN: reads it

struct Case {
    const char* name;
    enum Direction direction;
    int valid_ok;  // the result with a good buffer is the same on Linux and xos (printed too)
};

static struct iovec iov_of(void* p, size_t n) { return (struct iovec){p, n}; }
static socklen_t addr_len;
static struct timespec zero_ts;
static struct msghdr msg_with(struct iovec* iov) { return (struct msghdr){.msg_iov = iov, .msg_iovlen = 1}; }

static long c_readv(void* p) {
    struct iovec v = iov_of(p, 64);
    return syscall(SYS_readv, file_fd, &v, 1);
}
static long c_writev(void* p) {
    struct iovec v = iov_of(p, 64);
    return syscall(SYS_writev, file_fd, &v, 1);
}
static long c_preadv(void* p) {
    struct iovec v = iov_of(p, 64);
    return syscall(SYS_preadv, file_fd, &v, 1, 0, 0);
}
static long c_recvmsg_buffer(void* p) {
    struct iovec v = iov_of(p, 16);
    struct msghdr m = msg_with(&v);
    return syscall(SYS_recvmsg, sock_b, &m, MSG_DONTWAIT);
}
static long c_sendmsg_buffer(void* p) {
    struct iovec v = iov_of(p, 16);
    struct msghdr m = msg_with(&v);
    return syscall(SYS_sendmsg, sock_a, &m, MSG_DONTWAIT);
}
static long c_getsockname(void* p) {
    addr_len = sizeof(struct sockaddr_in);
    return syscall(SYS_getsockname, udp_fd, p, &addr_len);
}
static long c_getsockopt(void* p) {
    addr_len = sizeof(int);
    return syscall(SYS_getsockopt, udp_fd, SOL_SOCKET, SO_TYPE, p, &addr_len);
}
static long c_sendto_address(void* p) {
    return syscall(SYS_sendto, udp_fd, "x", 1, MSG_DONTWAIT, p, sizeof(struct sockaddr_in));
}
static long c_epoll_ctl(void* p) { return syscall(SYS_epoll_ctl, epoll_fd, EPOLL_CTL_ADD, pipe_r, p); }
static long c_select(void* p) {
    struct timeval tv = {0, 0};
    return syscall(SYS_select, 1, p, NULL, NULL, &tv);
}
static long c_pipe(void* p) {
    long r = syscall(SYS_pipe, p);
    if (r == 0) {
        close(((int*)p)[0]);
        close(((int*)p)[1]);
    }
    return r;
}
static long c_pipe2(void* p) {
    long r = syscall(SYS_pipe2, p, O_CLOEXEC);
    if (r == 0) {
        close(((int*)p)[0]);
        close(((int*)p)[1]);
    }
    return r;
}
static long c_socketpair(void* p) {
    long r = syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, p);
    if (r == 0) {
        close(((int*)p)[0]);
        close(((int*)p)[1]);
    }
    return r;
}

// X(label, direction, valid_ok, call with the pointer under test `p`)
#define CASES(X)                                                                                                       \
    /* Calls that write through the pointer: every target but a good buffer is EFAULT. */                              \
    X("read(file)", OUT, 1, syscall(SYS_read, file_fd, p, 64))                                                         \
    X("read(pipe)", OUT, 1, syscall(SYS_read, pipe_r, p, 64))                                                          \
    X("read(socket)", OUT, 1, syscall(SYS_read, sock_b, p, 16))                                                        \
    X("read(eventfd)", OUT, 1, syscall(SYS_read, event_fd, p, 8))                                                      \
    X("pread64", OUT, 1, syscall(SYS_pread64, file_fd, p, 64, 0))                                                      \
    X("readv buffer", OUT, 1, c_readv(p))                                                                              \
    X("preadv buffer", OUT, 1, c_preadv(p))                                                                            \
    X("recvfrom buffer", OUT, 1, syscall(SYS_recvfrom, sock_b, p, 16, MSG_DONTWAIT, NULL, NULL))                       \
    X("recvmsg buffer", OUT, 1, c_recvmsg_buffer(p))                                                                   \
    X("stat", OUT, 1, syscall(SYS_stat, "/", p))                                                                       \
    X("lstat", OUT, 1, syscall(SYS_lstat, "/", p))                                                                     \
    X("fstat", OUT, 1, syscall(SYS_fstat, file_fd, p))                                                                 \
    X("newfstatat", OUT, 1, syscall(SYS_newfstatat, AT_FDCWD, "/", p, 0))                                              \
    X("statx", OUT, 1, syscall(SYS_statx, AT_FDCWD, "/", 0, 0x7ff, p))                                                 \
    X("fstatfs", OUT, 0, syscall(SYS_fstatfs, file_fd, p))                                                             \
    X("getcwd", OUT, 1, syscall(SYS_getcwd, p, 64))                                                                    \
    X("uname", OUT, 1, syscall(SYS_uname, p))                                                                          \
    X("clock_gettime", OUT, 1, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p))                                         \
    X("clock_getres", OUT, 1, syscall(SYS_clock_getres, CLOCK_MONOTONIC, p))                                           \
    X("gettimeofday", OUT, 1, syscall(SYS_gettimeofday, p, NULL))                                                      \
    X("time", OUT, 0, syscall(SYS_time, p))                                                                            \
    X("pipe", OUT, 1, c_pipe(p))                                                                                       \
    X("pipe2", OUT, 1, c_pipe2(p))                                                                                     \
    X("socketpair", OUT, 1, c_socketpair(p))                                                                           \
    X("getrandom", OUT, 1, syscall(SYS_getrandom, p, 16, 0))                                                           \
    X("getrlimit", OUT, 1, syscall(SYS_getrlimit, RLIMIT_NOFILE, p))                                                   \
    X("prlimit64 old", OUT, 1, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, p))                                      \
    X("rt_sigprocmask old", OUT, 1, syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, p, 8))                                \
    X("rt_sigaction old", OUT, 1, syscall(SYS_rt_sigaction, SIGUSR1, NULL, p, 8))                                      \
    X("sigaltstack old", OUT, 1, syscall(SYS_sigaltstack, NULL, p))                                                    \
    X("getsockname", OUT, 1, c_getsockname(p))                                                                         \
    X("getsockopt", OUT, 1, c_getsockopt(p))                                                                           \
    X("epoll_wait", OUT, 1, syscall(SYS_epoll_wait, epoll_fd, p, 4, 0))                                                \
    X("getdents64", OUT, 0, syscall(SYS_getdents64, dir_fd, p, 4096))                                                  \
    X("readlink", OUT, 1, syscall(SYS_readlink, link_path, p, 64))                                                     \
    X("ioctl FIONREAD", OUT, 1, syscall(SYS_ioctl, sock_b, FIONREAD, p))                                               \
    X("sched_getaffinity", OUT, 0, syscall(SYS_sched_getaffinity, 0, 128, p))                                          \
    /* Calls that read through the pointer: readable targets would be read (not tried). */                             \
    X("write(file)", IN, 1, syscall(SYS_write, file_fd, p, 64))                                                        \
    X("write(pipe)", IN, 1, syscall(SYS_write, pipe_w, p, 64))                                                         \
    X("write(socket)", IN, 1, syscall(SYS_write, sock_a, p, 16))                                                       \
    X("write(eventfd)", IN, 0, syscall(SYS_write, event_fd, p, 8))                                                     \
    X("pwrite64", IN, 1, syscall(SYS_pwrite64, file_fd, p, 64, 0))                                                     \
    X("writev buffer", IN, 1, c_writev(p))                                                                             \
    X("readv iovec array", IN, 0, syscall(SYS_readv, file_fd, p, 1))                                                   \
    X("writev iovec array", IN, 0, syscall(SYS_writev, file_fd, p, 1))                                                 \
    X("sendto buffer", IN, 1, syscall(SYS_sendto, sock_a, p, 16, MSG_DONTWAIT, NULL, 0))                               \
    X("sendto address", IN, 0, c_sendto_address(p))                                                                    \
    X("sendmsg buffer", IN, 1, c_sendmsg_buffer(p))                                                                    \
    X("sendmsg header", IN, 0, syscall(SYS_sendmsg, sock_a, p, MSG_DONTWAIT))                                          \
    X("recvmsg header", IN, 0, syscall(SYS_recvmsg, sock_b, p, MSG_DONTWAIT))                                          \
    X("bind", IN, 0, syscall(SYS_bind, udp_fd, p, sizeof(struct sockaddr_in)))                                         \
    X("connect", IN, 0, syscall(SYS_connect, udp_fd, p, sizeof(struct sockaddr_in)))                                   \
    X("setsockopt", IN, 0, syscall(SYS_setsockopt, udp_fd, SOL_SOCKET, SO_RCVBUF, p, sizeof(int)))                     \
    X("open", IN, 0, syscall(SYS_open, p, O_RDONLY))                                                                   \
    X("openat", IN, 0, syscall(SYS_openat, AT_FDCWD, p, O_RDONLY))                                                     \
    X("stat path", IN, 0, syscall(SYS_stat, p, scratch))                                                               \
    X("access", IN, 0, syscall(SYS_access, p, F_OK))                                                                   \
    X("mkdir", IN, 0, syscall(SYS_mkdir, p, 0700))                                                                     \
    X("unlink", IN, 0, syscall(SYS_unlink, p))                                                                         \
    X("chdir", IN, 0, syscall(SYS_chdir, p))                                                                           \
    X("rename", IN, 0, syscall(SYS_rename, p, renamed_path))                                                           \
    X("truncate", IN, 0, syscall(SYS_truncate, p, 0))                                                                  \
    X("readlink path", IN, 0, syscall(SYS_readlink, p, scratch, 64))                                                   \
    X("utimensat times", IN, 0, syscall(SYS_utimensat, AT_FDCWD, file_path, p, 0))                                     \
    X("nanosleep", IN, 0, syscall(SYS_nanosleep, p, NULL))                                                             \
    X("clock_nanosleep", IN, 0, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, p, NULL))                             \
    X("futex wait", IN, 0, syscall(SYS_futex, p, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0))                                \
    X("poll", IN, 0, syscall(SYS_poll, p, 1, 0))                                                                       \
    X("ppoll", IN, 0, syscall(SYS_ppoll, p, 1, &zero_ts, NULL, 8))                                                     \
    X("select", IN, 0, c_select(p))                                                                                    \
    X("rt_sigaction new", IN, 0, syscall(SYS_rt_sigaction, SIGUSR1, p, NULL, 8))                                       \
    X("rt_sigprocmask new", IN, 0, syscall(SYS_rt_sigprocmask, SIG_BLOCK, p, NULL, 8))                                 \
    X("sigaltstack new", IN, 0, syscall(SYS_sigaltstack, p, NULL))                                                     \
    X("prlimit64 new", IN, 0, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, p, NULL))                                       \
    X("epoll_ctl event", IN, 0, c_epoll_ctl(p))                                                                        \
    X("getsockname length", IN, 0, syscall(SYS_getsockname, udp_fd, scratch, p))                                       \
    X("getsockopt length", IN, 0, syscall(SYS_getsockopt, udp_fd, SOL_SOCKET, SO_TYPE, scratch, p))                    \
    X("sendfile offset", IN, 0, syscall(SYS_sendfile, pipe_w, file_fd, p, 16))                                         \
    /* end */

static const struct Case cases[] = {
#define X(label, direction, valid_ok, expr) {label, direction, valid_ok},
    CASES(X)
#undef X
};

static long call_case(size_t index, void* p) {
    size_t n = 0;
#define X(label, direction, valid_ok, expr)                                                                            \
    if (index == n++) return (expr);
    CASES(X)
#undef X
    return 0;
}

static void run_table(void) {
    char label[96];
    char* good = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const struct Case* k = &cases[c];
        if (k->valid_ok) {
            refill();
            memset(good, 0, 4096);
            snprintf(label, sizeof label, "%s good-buffer", k->name);
            SHOW(label, call_case(c, good));
        }
        for (int t = 0; t < target_count; ++t) {
            if (targets[t].readable && k->direction == IN) continue;
            refill();
            snprintf(label, sizeof label, "%s %s", k->name, targets[t].name);
            SHOW(label, call_case(c, (void*)targets[t].address));
        }
    }
    munmap(good, 4096);
}

// --- The sweep ----------------------------------------------------------------------------

static int sweep(void) {
    long calls = 0;
    for (int t = 0; t < target_count; ++t) {
        for (int s = 0; s < fuzz_syscall_count; ++s) {
            const struct FuzzSyscall* sc = &fuzz_syscalls[s];
            int writes_only = 1;
            for (int a = 0; a < 6; ++a) writes_only &= sc->args[a] != ARG_PTR_IN;
            // A readable target is only aimed at calls that write through every pointer (a
            // read would take its bytes as arguments: a sleep of a garbage length...). recvmsg
            // reads its header, and select its timeout, before writing them.
            int reads_first = sc->number == SYS_recvmsg || sc->number == SYS_select;
            if (targets[t].readable && (!writes_only || reads_first)) continue;
            for (int fd_kind = 0; fd_kind < 2; ++fd_kind) {
                long args[6];
                for (int a = 0; a < 6; ++a) {
                    switch (sc->args[a]) {
                    case ARG_FD: args[a] = fd_kind ? sock_b : file_fd; break;
                    case ARG_SIZE: args[a] = 64; break;
                    case ARG_PTR_IN:
                    case ARG_PTR_OUT: args[a] = (long)targets[t].address; break;
                    default: args[a] = 0;
                    }
                }
                refill();
                syscall(sc->number, args[0], args[1], args[2], args[3], args[4], args[5]);
                ++calls;
            }
        }
    }
    printf("sweep: %ld calls over %d syscalls and %d targets survived\n", calls, fuzz_syscall_count, target_count);
    return 0;
}

// --- Good copies of every short size (libos's copy routine has a path per size class) -----

static void copies_of_every_size(void) {
    static unsigned char pattern[600], back[600];
    for (size_t i = 0; i < sizeof pattern; ++i) pattern[i] = (unsigned char)(i * 7 + 3);
    const char* verdict = "ok";
    for (size_t n = 1; n <= 520 && verdict[0] == 'o'; ++n) {
        for (size_t shift = 0; shift < 3; ++shift) {
            memset(back, 0xee, sizeof back);
            if (pwrite(file_fd, pattern + shift, n, 0) != (ssize_t)n ||
                pread(file_fd, back + shift, n, 0) != (ssize_t)n || memcmp(back + shift, pattern + shift, n) != 0 ||
                back[shift + n] != 0xee || (shift && back[shift - 1] != 0xee)) {
                verdict = "MISMATCH";
                printf("copy of %zu bytes (shift %zu) differs\n", n, shift);
                break;
            }
        }
    }
    printf("pwrite+pread of 1..520 bytes: %s\n", verdict);
}

// --- The race: the buffer goes away while the reader is blocked ---------------------------

static int race_pipe[2];
static char* race_buffer;

static void* unmapper(void* unused) {
    (void)unused;
    // Whether or not the reader is already blocked, the read's outcome is the same (EFAULT):
    // before it blocks, the permission check says so; after, the copy's fault fixup does.
    sched_yield();
    munmap(race_buffer, 4096);
    if (write(race_pipe[1], "data", 4) != 4) exit(11);
    return NULL;
}

static void race(void) {
    if (pipe(race_pipe) != 0) exit(12);
    race_buffer = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_t thread;
    if (pthread_create(&thread, NULL, unmapper, NULL) != 0) exit(13);
    SHOW("read(pipe) into a buffer unmapped while blocked", syscall(SYS_read, race_pipe[0], race_buffer, 64));
    pthread_join(thread, NULL);
    char rest[8];
    SHOW("the data is still in the pipe", read(race_pipe[0], rest, sizeof rest));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    setup_targets();
    setup_fixtures();
    int status = 0;
#ifdef FUZZ_SWEEP
    status = sweep();
#else
    run_table();
    copies_of_every_size();
#endif
    race();
    unlink(file_path);
    unlink(link_path);
    return status;
}
