// Reading /proc/xos/big_lock in the SMP tests (big_lock.c, overlay_root.c): a count, and a case
// that runs a loop and requires, with several CPUs, 0 big-lock entries at entry for the syscalls
// it names and none inside beyond what reading the counters costs (measured by the first case
// run, which is the empty loop) plus `extra_inside`. Include after ../image/check.h.
#ifndef XOS_TESTS_SMP_BIG_LOCK_COUNTS_H
#define XOS_TESTS_SMP_BIG_LOCK_COUNTS_H

#include <stdio.h>
#include <string.h>

// A count from /proc/xos/big_lock: "syscall NAME N" for a syscall name, else "NAME N".
static long big_lock_count(const char* key, int is_syscall) {
    FILE* f = fopen("/proc/xos/big_lock", "r");
    CHECK(f != NULL);
    if (!f) return 0;
    char line[128], name[64];
    long value, found = 0;
    while (fgets(line, sizeof line, f)) {
        if (is_syscall && sscanf(line, "syscall %63s %ld", name, &value) == 2 && !strcmp(name, key)) found = value;
        if (!is_syscall && sscanf(line, "%63s %ld", name, &value) == 2 && !strcmp(name, key)) found = value;
    }
    fclose(f);
    return found;
}

static long g_reading_cost = -1;  // function_entries that reading the counters itself costs

// Runs `loop` `rounds` times (at most 8 syscalls named); the first call (an empty loop) measures
// g_reading_cost instead of checking.
static void counted_case(const char* what, const char* const* syscalls, void (*loop)(int round), int rounds,
                         long extra_inside) {
    long cpus = big_lock_count("cpus", 0);
    long before[8] = {0};
    int count = 0;
    for (; syscalls[count]; ++count) before[count] = big_lock_count(syscalls[count], 1);
    long functions = big_lock_count("function_entries", 0);
    for (int i = 0; i < rounds; ++i) loop(i);
    functions = big_lock_count("function_entries", 0) - functions;
    long total = 0;
    printf("big lock taken by %d rounds of %s:", rounds, what);
    for (int i = 0; i < count; ++i) {
        long taken = big_lock_count(syscalls[i], 1) - before[i];
        printf(" %s %ld", syscalls[i], taken);
        total += taken;
    }
    printf(" (inside: %ld)\n", functions);
    if (g_reading_cost < 0) {
        g_reading_cost = functions;
        return;
    }
    if (cpus > 1) {
        CHECK(total == 0);
        CHECK(functions <= g_reading_cost + extra_inside);
    }
}

#endif
