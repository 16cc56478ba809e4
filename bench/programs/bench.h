// bench/programs/bench.h: the output protocol shared by the benchmark programs.
//
// A program prints one JSON line per result on stdout. For a timed loop it prints a "begin"
// line, runs the loop, and prints an "end" line with the number of iterations and the time the
// guest's own clock measured; stdout is flushed after each. The harness notes when each line
// reaches the host (over the serial console for a VM, a pipe for a process), so every figure is
// also timed with the host's clock, which a guest cannot get wrong; comparing the two shows how
// far each target's clock can be trusted.
//
//   {"mark":"begin","figure":"syscall.getppid"}
//   {"mark":"end","figure":"syscall.getppid","unit":"ns/call","count":N,"guest_ns":T}
//   {"figure":"NAME","unit":"UNIT","value":V[,"better":"higher"]}     a result not timed by the host
#ifndef XOS_BENCH_H
#define XOS_BENCH_H

#include <stdio.h>
#include <time.h>

static inline double bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// How many iterations of body take about target_ns by the guest's clock (at least 1000).
static inline long bench_calibrate(void (*body)(long), double target_ns) {
    long n = 1000;
    for (;;) {
        double start = bench_now_ns();
        body(n);
        double ns = bench_now_ns() - start;
        if (ns >= target_ns / 8 || n >= (1L << 40)) return ns > 0 ? (long)(n * (target_ns / ns)) : n * 8;
        n *= 4;
    }
}

// Times body(count) between a begin and an end line; count is chosen for about target_ns.
static inline void bench_timed_loop(const char* figure, const char* unit, void (*body)(long), double target_ns) {
    body(1000);  // warm-up (under TCG: translate the code once)
    long count = bench_calibrate(body, target_ns);
    printf("{\"mark\":\"begin\",\"figure\":\"%s\"}\n", figure);
    fflush(stdout);
    double start = bench_now_ns();
    body(count);
    double guest_ns = bench_now_ns() - start;
    printf("{\"mark\":\"end\",\"figure\":\"%s\",\"unit\":\"%s\",\"count\":%ld,\"guest_ns\":%.0f}\n", figure, unit,
           count, guest_ns);
    fflush(stdout);
}

#endif
