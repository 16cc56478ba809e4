// bench/harness/tsc_khz.c: the host's TSC frequency in kHz, measured against CLOCK_MONOTONIC.
// Under TCG a guest's RDTSC reads the host's TSC, so this is the frequency the Linux microVM is
// told with tsc_early_khz= (its own PIT calibration fails now and then under TCG, and the
// kernel then falls back to a jiffies clock with 4 ms resolution).
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void) {
    double best = 0;
    for (int i = 0; i < 3; i++) {
        double t0 = now_ns();
        uint64_t c0 = __rdtsc();
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
        uint64_t c1 = __rdtsc();
        double t1 = now_ns();
        double khz = (c1 - c0) / (t1 - t0) * 1e6;
        if (i == 0 || khz < best) best = khz;
    }
    printf("%.0f\n", best);
    return 0;
}
