// bench/programs/syscall.c: the cost of a cheap system call, measured inside the guest.
//
// getppid() has no arguments and touches almost no kernel state, so its cost is the syscall
// path itself: a function call on xos, a `syscall` trap into the kernel on Linux.
// clock_gettime() is measured too: Linux answers it from the vDSO without entering the kernel,
// xos with a (function-call) syscall. An empty loop gives each target's speed at plain code
// (under TCG, emulated code is several times slower than native).
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "bench.h"

static void getppid_loop(long n) {
    for (long i = 0; i < n; i++) syscall(SYS_getppid);  // syscall(): libc must not cache or inline the answer
}

static void clock_gettime_loop(long n) {
    struct timespec ts;
    for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
}

static void empty_loop(long n) {
    for (long i = 0; i < n; i++) __asm__ volatile("" ::: "memory");
}

int main(void) {
    const double target_ns = 400e6;  // each loop runs for about 0.4 s
    bench_timed_loop("syscall.getppid", "ns/call", getppid_loop, target_ns);
    bench_timed_loop("syscall.clock_gettime", "ns/call", clock_gettime_loop, target_ns);
    bench_timed_loop("loop.empty", "ns/iteration", empty_loop, target_ns);
    return 0;
}
