// bench/fork: the copy-on-write copy of a 64 MiB touched heap, and (xos) an address-space switch.
// Natively: fork() of a process whose 64 MiB heap is touched, timed in the parent until fork
// returns (the page-table copy), then the child's exit and the wait. On xos (until fork(2)
// exists): xos_test_fork_space, which copies the current memory (fork_copy), switches to the
// child's space and back, and destroys it; the first step's start marks the end of the copy and
// the first switch, the second step's start one switch more.
// Prints one JSON object per figure: {"figure": name, "value": ns}.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { HEAP = 64 << 20, ROUNDS = 9 };

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int compare(const void* a, const void* b) {
    long long x = *(const long long*)a, y = *(const long long*)b;
    return x < y ? -1 : x > y;
}

static long long median(long long* values, int n) {
    qsort(values, n, sizeof *values, compare);
    return values[n / 2];
}

#ifdef __xos__
long xos_test_fork_space(long (*body)(int step, void* arg), void* arg, int steps);

static long long g_step_ns[2];

static long mark(int step, void* arg) {
    (void)arg;
    g_step_ns[step] = now_ns();
    return 0;
}
#endif

int main(void) {
    char* heap = mmap(NULL, HEAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (heap == MAP_FAILED) return 1;
    memset(heap, 1, HEAP);
    long long copy[ROUNDS], whole[ROUNDS], rewrite[ROUNDS];
#ifdef __xos__
    long long swap[ROUNDS];
#endif
    for (int round = 0; round < ROUNDS; ++round) {
        long long start = now_ns();
#ifdef __xos__
        if (xos_test_fork_space(mark, NULL, 2) != 0) return 2;
        long long end = now_ns();
        copy[round] = g_step_ns[0] - start;  // fork_copy + one switch
        swap[round] = g_step_ns[1] - g_step_ns[0];  // one switch
        whole[round] = end - start;
#else
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        long long forked = now_ns();
        if (pid < 0) return 2;
        waitpid(pid, NULL, 0);
        copy[round] = forked - start;
        whole[round] = now_ns() - start;
#endif
        // The parent's first write to each page afterwards (a copy or a re-enabled page).
        long long before = now_ns();
        for (size_t i = 0; i < HEAP; i += 4096) heap[i] = 2;
        rewrite[round] = now_ns() - before;
    }
    printf("{\"figure\": \"fork_copy_64mib\", \"value\": %lld}\n", median(copy, ROUNDS));
    printf("{\"figure\": \"fork_whole_64mib\", \"value\": %lld}\n", median(whole, ROUNDS));
    printf("{\"figure\": \"rewrite_after_64mib\", \"value\": %lld}\n", median(rewrite, ROUNDS));
#ifdef __xos__
    printf("{\"figure\": \"space_switch_64mib\", \"value\": %lld}\n", median(swap, ROUNDS));
#endif
    return 0;
}
