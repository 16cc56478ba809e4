// bench/rewrite/syscall_cost.c: what a few syscalls cost an unmodified Linux binary (built by the
// host's gcc, glibc static-pie; bench/rewrite/run.py runs the same file natively and on xos
// through xos-run --rootfs, on the VM and on hosted, with syscall-site rewriting on and off):
//   getppid                 glibc's getppid(): an inline `mov $110,%eax; syscall` site
//   clock_gettime.vdso      glibc's clock_gettime(CLOCK_MONOTONIC): the vDSO (AT_SYSINFO_EHDR)
//   clock_gettime.syscall   `mov $228,%eax; syscall` inline: the same clock without the vDSO
//   read_1_byte             glibc's read() of 1 byte from a memfd (in memory on every target)
// On xos each raw site traps (VM: MSR_LSTAR; hosted: SIGSYS) until libos rewrites it into a jump
// to a trampoline (libos/rewrite; XOS_REWRITE=0 keeps it trapped); the vDSO calls libos directly.
// Prints bench.h's JSON lines.
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../programs/bench.h"

static int g_memfd;

static long raw_clock_gettime(clockid_t clock, struct timespec* out) {
    long result;
    __asm__ volatile("mov $228, %%eax\n\tsyscall" : "=a"(result) : "D"((long)clock), "S"(out) : "rcx", "r11", "memory");
    return result;
}

static void getppid_loop(long n) {
    for (long i = 0; i < n; i++) getppid();
}

static void vdso_loop(long n) {
    struct timespec t;
    for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &t);
}

static void raw_clock_loop(long n) {
    struct timespec t;
    for (long i = 0; i < n; i++) raw_clock_gettime(CLOCK_MONOTONIC, &t);
}

static void read_loop(long n) {
    char byte;
    for (long i = 0; i < n; i++)
        if (read(g_memfd, &byte, 1) != 1) lseek(g_memfd, 0, SEEK_SET);  // at the end: start again
}

int main(void) {
    g_memfd = memfd_create("bench", 0);
    if (g_memfd < 0 || ftruncate(g_memfd, 64 << 20) != 0) {
        perror("memfd");
        return 1;
    }
    struct timespec check;
    if (raw_clock_gettime(CLOCK_MONOTONIC, &check) != 0) return 1;
    bench_timed_loop("getppid", "ns/call", getppid_loop, 200e6);
    bench_timed_loop("clock_gettime.vdso", "ns/call", vdso_loop, 200e6);
    bench_timed_loop("clock_gettime.syscall", "ns/call", raw_clock_loop, 200e6);
    bench_timed_loop("read_1_byte", "ns/call", read_loop, 200e6);
    return 0;
}
