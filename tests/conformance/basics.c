// Differential conformance: this program is built twice, as a static Linux binary with
// Debian's musl and as an xos image, and both runs must print exactly the same lines.
// Only behaviour that is deterministic on Linux is printed (no pids, addresses or times).
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static jmp_buf jump;
static int order[8], order_count;
static void at_exit_a(void) { printf("atexit a\n"); }
static void at_exit_b(void) { printf("atexit b\n"); }
static void on_signal(int sig) { order[order_count++] = sig; }

static int compare(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);  // same buffering on a pipe (Linux) and the console (xos)
    atexit(at_exit_a);
    atexit(at_exit_b);

    // Error paths.
    SHOW("write(99, buf, 1)", write(99, "x", 1));
    SHOW("write(-1, buf, 1)", write(-1, "x", 1));
    SHOW("write(1, (void*)8, 10)", write(1, (void*)8, 10));
    SHOW("writev(1, iov, -1)", writev(1, &(struct iovec){"x", 1}, -1));
    SHOW("close(99)", close(99));
    SHOW("uname(NULL)", uname(NULL));
    SHOW("clock_gettime(bad clock)", clock_gettime(12345, &(struct timespec){0}));
    SHOW("nanosleep(tv_nsec = 1e9)", nanosleep(&(struct timespec){0, 1000000000}, NULL));
    SHOW("nanosleep(tv_sec = -1)", nanosleep(&(struct timespec){-1, 0}, NULL));
    SHOW("getrandom(flags = 0x80)", getrandom((char[8]){0}, 8, 0x80));
    SHOW("getrlimit(99)", getrlimit(99, &(struct rlimit){0}));
    SHOW("sigaction(SIGKILL)", sigaction(SIGKILL, &(struct sigaction){.sa_handler = on_signal}, NULL));
    SHOW("sigprocmask(how = 99)", sigprocmask(99, &(sigset_t){0}, NULL));
    SHOW("kill(1 << 22, 0)", kill(1 << 22, 0));
    SHOW("tgkill(0, 0, SIGUSR1)", syscall(SYS_tgkill, 0, 0, SIGUSR1));
    SHOW("syscall(9999)", syscall(9999));

    // Memory.
    SHOW("mmap(len 0)", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
    SHOW("mmap(no MAP_PRIVATE/SHARED)", mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
    SHOW("mmap(offset 1)", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1) == MAP_FAILED ? -1 : 0);
    char* m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW("mmap(4 pages) zero-filled", m != MAP_FAILED && m[0] == 0 && m[4 * 4096 - 1] == 0);
    SHOW("munmap(unaligned)", munmap(m + 1, 4096));
    SHOW("munmap(len 0)", munmap(m, 0));
    SHOW("munmap(middle page)", munmap(m + 4096, 4096));
    SHOW("mmap(MAP_FIXED_NOREPLACE on mapped)",
         mmap(m, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED ? -1 : 0);
    char* fixed = mmap(m + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    SHOW("mmap(MAP_FIXED into the hole)", fixed == m + 4096);
    m[0] = 1;
    char* r = mremap(m, 4096, 8 * 4096, MREMAP_MAYMOVE);
    SHOW("mremap(grow, MAYMOVE) keeps contents", r != MAP_FAILED && r[0] == 1);
    SHOW("mremap(bad flags)", mremap(r, 4096, 4096, 0x100) == MAP_FAILED ? -1 : 0);
    SHOW("madvise(DONTNEED) zero-fills", madvise(r, 4096, MADV_DONTNEED) == 0 && r[0] == 0);
    long brk0 = syscall(SYS_brk, 0);
    SHOW("brk(+8192) moves the break", syscall(SYS_brk, brk0 + 8192) == brk0 + 8192);
    ((char*)brk0)[8191] = 1;
    SHOW("brk(+100) shrinks", syscall(SYS_brk, brk0 + 100) == brk0 + 100);
    SHOW("brk(below start) leaves it", syscall(SYS_brk, brk0 - (64l << 20)) == brk0 + 100);

    // Identity.
    struct utsname u;
    uname(&u);
    printf("uname: %s %s\n", u.sysname, u.machine);

    // Signals sent to oneself.
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, on_signal);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR2);
    raise(SIGUSR1);
    printf("handled while blocked: %d\n", order_count);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("handled after unblocking: %d (%d then %d)\n", order_count, order[0], order[1]);
    signal(SIGUSR1, SIG_IGN);
    SHOW("raise(ignored SIGUSR1)", raise(SIGUSR1));
    SHOW("raise(SIGCHLD, default ignore)", raise(SIGCHLD));

    // libc on top: formatting, parsing, sorting, non-local jumps.
    printf("%.3f %e %g %#x %+d %5.2s|\n", 3.14159, 12345.678, 0.0001, 255, 7, "abc");
    printf("strtod: %.17g\n", strtod("2.718281828459045", NULL));
    int values[] = {5, 3, 9, 1, 7};
    qsort(values, 5, sizeof values[0], compare);
    printf("sorted: %d %d %d %d %d\n", values[0], values[1], values[2], values[3], values[4]);
    if (setjmp(jump) == 0) longjmp(jump, 42);
    printf("longjmp came back\n");
    printf("strerror(ENOENT): %s\n", strerror(ENOENT));
    return 3;
}
