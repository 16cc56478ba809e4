// A thread wakes a sleeper that runs on another CPU (issue 17): the waker wakes the sleeper
// through a futex, ROUNDS times, and waits for each answer spinning (then with sched_yield, so
// that one CPU still gets on): with several CPUs the waker keeps its CPU, so the woken sleeper runs on
// another (an idle CPU woken by an IPI). Then round trips through a condition variable and a
// pipe. Exit status 0 = every round trip completed, and with more than one CPU the two threads
// were seen on different CPUs.
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../image/check.h"

#define ROUNDS 200

static atomic_int g_word, g_answer;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_turn;  // under g_mutex
static int g_ping[2], g_pong[2];
static atomic_int g_sleeper_cpu_mask, g_waker_cpu_mask;

static void note(atomic_int* mask) {
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < 31) atomic_fetch_or(mask, 1 << cpu);
}

static void* sleeper(void* unused) {
    (void)unused;
    for (int i = 1; i <= ROUNDS; ++i) {  // futex
        while (atomic_load(&g_word) != i) syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, i - 1, NULL, NULL, 0);
        note(&g_sleeper_cpu_mask);
        atomic_store(&g_answer, i);
    }
    for (int i = 1; i <= ROUNDS; ++i) {  // condition variable
        pthread_mutex_lock(&g_mutex);
        while (g_turn != 2 * i - 1) pthread_cond_wait(&g_cond, &g_mutex);
        g_turn = 2 * i;
        pthread_cond_broadcast(&g_cond);
        pthread_mutex_unlock(&g_mutex);
    }
    for (int i = 0; i < ROUNDS; ++i) {  // pipe
        char byte;
        CHECK(read(g_ping[0], &byte, 1) == 1);
        CHECK(write(g_pong[1], &byte, 1) == 1);
    }
    note(&g_sleeper_cpu_mask);
    return NULL;
}

int main(void) {
    CHECK(pipe(g_ping) == 0 && pipe(g_pong) == 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, sleeper, NULL) == 0);
    for (int i = 1; i <= ROUNDS; ++i) {
        for (volatile int spin = 0; spin < 2000; ++spin) {}  // let the sleeper block
        note(&g_waker_cpu_mask);
        atomic_store(&g_word, i);
        syscall(SYS_futex, &g_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        for (long spins = 0; atomic_load(&g_answer) != i; ++spins)
            if (spins > 100000) sched_yield();  // one CPU: let the sleeper run
    }
    for (int i = 1; i <= ROUNDS; ++i) {
        pthread_mutex_lock(&g_mutex);
        g_turn = 2 * i - 1;
        pthread_cond_broadcast(&g_cond);
        while (g_turn != 2 * i) pthread_cond_wait(&g_cond, &g_mutex);
        pthread_mutex_unlock(&g_mutex);
    }
    for (int i = 0; i < ROUNDS; ++i) {
        char byte = (char)i, back = 0;
        CHECK(write(g_ping[1], &byte, 1) == 1);
        CHECK(read(g_pong[0], &back, 1) == 1);
        CHECK(back == byte);
    }
    CHECK(pthread_join(thread, NULL) == 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int sleeper_mask = atomic_load(&g_sleeper_cpu_mask), waker_mask = atomic_load(&g_waker_cpu_mask);
    printf("wake: %d round trips x 3 on %ld CPU(s); sleeper ran on CPUs %#x, waker on %#x\n", ROUNDS, cpus,
           sleeper_mask, waker_mask);
    CHECK(sleeper_mask != 0 && waker_mask != 0);
    if (cpus > 1) CHECK(__builtin_popcount(sleeper_mask | waker_mask) >= 2);
    printf("wake: %d failure(s)\n", check_failures);
    return check_failures ? 1 : 0;
}
