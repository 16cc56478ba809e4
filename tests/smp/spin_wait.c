// Spinlock waits that give the host CPU back (docs/locking.md, "Lock primitives"): one thread
// holds its process's address-space lock (a SpinLock) for long stretches, mprotect over a large
// populated region back and forth (each a walk of every page-table entry and a TLB shootdown of
// the other CPU), while a second thread, on another CPU, maps, writes and unmaps a page in a
// loop (each takes the same lock). With several CPUs the second thread's waits outlast the
// bounded spin, so they halt (VM) or sleep in a host futex wait (hosted) and must be woken by the
// release, and, halted, still answer the holder's shootdowns: /proc/xos/cpus must count such
// waits (`spin_halts`), and both threads must finish with their memory intact (a lost wake-up or
// an unanswered shootdown hangs the test into its timeout). With one CPU nothing waits.
// Exit status 0 = every check passed.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../image/check.h"

#define REGION (32u << 20)
#define PAGE 4096u
#define FLIPS 40  // mprotect pairs at least; more until the faulter has done MIN_ROUNDS
#define MIN_ROUNDS 100
#define MAX_FLIPS 100000

static char* g_region;
static atomic_int g_holder_done, g_faulter_started;
static atomic_long g_faulter_rounds;
static int g_flips;
static int g_cpus;

static void pin(int cpu) {
    if (g_cpus < 2) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    CHECK(sched_setaffinity(0, sizeof set, &set) == 0);
}

static void* holder(void* unused) {
    (void)unused;
    pin(0);
    // Both threads at work at once: the faulter may start late (its vCPU thread not run by the host).
    while (!atomic_load(&g_faulter_started)) sched_yield();
    int i = 0;
    for (; i < MAX_FLIPS && (i < FLIPS || atomic_load(&g_faulter_rounds) < MIN_ROUNDS); ++i) {
        CHECK(mprotect(g_region, REGION, PROT_READ) == 0);
        CHECK(mprotect(g_region, REGION, PROT_READ | PROT_WRITE) == 0);
    }
    g_flips = i;
    atomic_store(&g_holder_done, 1);
    return NULL;
}

static void* faulter(void* unused) {
    (void)unused;
    pin(g_cpus > 1 ? 1 : 0);
    atomic_store(&g_faulter_started, 1);
    long rounds = 0;
    while (!atomic_load(&g_holder_done)) {
        char* page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(page != MAP_FAILED);
        if (page == MAP_FAILED) break;
        page[0] = (char)rounds;  // a page fault
        CHECK(page[0] == (char)rounds);
        CHECK(g_region[(size_t)(rounds % (REGION / PAGE)) * PAGE] == (char)(rounds % (REGION / PAGE)));
        CHECK(munmap(page, PAGE) == 0);
        atomic_store(&g_faulter_rounds, ++rounds);
    }
    return NULL;
}

// The sum over the CPUs of /proc/xos/cpus's `spin_halts` (-1: the file or the field is missing).
static long spin_halts(void) {
    FILE* f = fopen("/proc/xos/cpus", "r");
    if (!f) return -1;
    long total = -1;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        char* at = strstr(line, " spin_halts ");
        if (at) total = (total < 0 ? 0 : total) + atol(at + strlen(" spin_halts "));
    }
    fclose(f);
    return total;
}

int main(void) {
    g_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    g_region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(g_region != MAP_FAILED);
    if (g_region == MAP_FAILED) return 1;
    for (size_t page = 0; page < REGION / PAGE; ++page) g_region[page * PAGE] = (char)page;
    long before = spin_halts();
    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, holder, NULL) == 0);
    CHECK(pthread_create(&b, NULL, faulter, NULL) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    long after = spin_halts();
    for (size_t page = 0; page < REGION / PAGE; ++page) CHECK(g_region[page * PAGE] == (char)page);
    printf("spin_wait: %d CPU(s), %ld map-write-unmap rounds beside %d mprotect pairs, %ld spinlock waits halted\n",
           g_cpus, atomic_load(&g_faulter_rounds), g_flips, after - before);
    CHECK(atomic_load(&g_faulter_rounds) >= MIN_ROUNDS);
    if (g_cpus > 1) CHECK(before >= 0 && after > before);
    printf("spin_wait: %d failure(s)\n", check_failures);
    return check_failures ? 1 : 0;
}
