// Self-checking tests of the syscalls a C or C++ program makes at startup and in ordinary use.
// Prints one line per failed check and exits with the number of failed checks.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static volatile int handled_signal;
static void on_usr1(int sig) { handled_signal = sig; }

int main(void) {
    // Memory: malloc small and large, mmap/munmap/mremap, brk.
    char* small = malloc(100);
    CHECK(small != NULL);
    char* big = malloc(32 << 20);
    CHECK(big != NULL);
    if (big) {
        memset(big, 1, 32 << 20);
        free(big);
    }
    free(small);
    char* m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK(m[0] == 0 && m[3 * 4096 - 1] == 0);
    m[5000] = 'x';
    CHECK(munmap(m + 4096, 4096) == 0);
    CHECK(mprotect(m, 4096, PROT_READ) == 0);
    char* grown = mremap(m + 2 * 4096, 4096, 64 * 4096, MREMAP_MAYMOVE);
    CHECK(grown != MAP_FAILED);
    CHECK(munmap(m, 4096) == 0);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 42, 0) == MAP_FAILED && errno == EBADF);  // not an open descriptor
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    CHECK(munmap((void*)0x1001, 4096) == -1 && errno == EINVAL);
    long brk0 = syscall(SYS_brk, 0);
    CHECK(brk0 > 0);
    CHECK(syscall(SYS_brk, brk0 + 8192) == brk0 + 8192);
    ((char*)brk0)[8191] = 1;
    CHECK(syscall(SYS_brk, brk0) == brk0);

    // Bad pointers and bad descriptors are errors, not crashes.
    CHECK(write(1, (void*)8, 10) == -1 && errno == EFAULT);
    CHECK(write(1, (void*)-4096l, 10) == -1 && errno == EFAULT);
    CHECK(write(7, "x", 1) == -1 && errno == EBADF);
    CHECK(write(-1, "x", 1) == -1 && errno == EBADF);
    CHECK(read(0, (char[4]){0}, 4) == 0);
    CHECK(uname(NULL) == -1 && errno == EFAULT);
    // The syscall checks the pointer; musl's clock_gettime() reads the clock through libxos's
    // vDSO-like fast path first and, as with Linux's vDSO, a bad pointer would fault there.
    CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void*)16) == -1 && errno == EFAULT);
    CHECK(clock_gettime(12345, &(struct timespec){0}) == -1 && errno == EINVAL);
    struct iovec iov[2] = {{"ab", 2}, {"c\n", 2}};
    CHECK(writev(1, iov, 2) == 4);
    CHECK(writev(1, iov, -1) == -1 && errno == EINVAL);
    CHECK(lseek(1, 0, SEEK_SET) == -1 && errno == ESPIPE);
    struct stat st;
    // Run by run_image.py, stdout is a pipe: a FIFO and no terminal, as xos-run's own is.
    CHECK(fstat(1, &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK(!isatty(1) && errno == ENOTTY);

    // Identity.
    struct utsname u;
    CHECK(uname(&u) == 0 && strcmp(u.sysname, "Linux") == 0 && strcmp(u.machine, "x86_64") == 0);
    CHECK(getpid() == 1 && gettid() == 1 && getuid() == 0);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur == 8 << 20);
    CHECK(getrlimit(99, &rl) == -1 && errno == EINVAL);

    // Time: monotonic advances, sleeping sleeps, the wall clock is after 2024.
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    CHECK(nanosleep(&ten_ms, NULL) == 0);
    int64_t slept = now_ns(CLOCK_MONOTONIC) - t0;
    CHECK(slept >= 10 * 1000 * 1000);
    CHECK(slept < 5ll * 1000 * 1000 * 1000);
    CHECK(time(NULL) > 1704067200);  // 2024-01-01
    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0 && tv.tv_sec > 1704067200);
    struct timespec bad = {0, 1000000000};
    CHECK(nanosleep(&bad, NULL) == -1 && errno == EINVAL);
    struct timespec res;
    CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0);

    // Randomness: two draws differ.
    uint64_t r1 = 0, r2 = 0;
    CHECK(getrandom(&r1, sizeof r1, 0) == sizeof r1);
    CHECK(getrandom(&r2, sizeof r2, 0) == sizeof r2);
    CHECK(r1 != r2);
    CHECK(getrandom(&r1, sizeof r1, 0x80) == -1 && errno == EINVAL);

    // Signals sent to ourselves: handlers run, blocked signals wait, ignored ones vanish.
    CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR);
    CHECK(raise(SIGUSR1) == 0 && handled_signal == SIGUSR1);
    handled_signal = 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    CHECK(raise(SIGUSR1) == 0 && handled_signal == 0);
    CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0 && handled_signal == SIGUSR1);
    CHECK(signal(SIGUSR2, SIG_IGN) != SIG_ERR && raise(SIGUSR2) == 0);
    CHECK(sigaction(SIGKILL, &(struct sigaction){.sa_handler = on_usr1}, NULL) == -1 && errno == EINVAL);
    CHECK(kill(12345, SIGUSR1) == -1 && errno == ESRCH);

    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
