// CPU affinity, differential (tests/conformance/compare.py: the same output natively and on xos,
// with 1 and 2 vCPUs and hosted): sched_setaffinity/sched_getaffinity per thread with Linux's
// errors (EINVAL for a bad size, an empty or offline-only mask; ESRCH; EFAULT), getcpu on the
// CPU the mask allows, the mask inherited by a new thread and a forked child, and one thread
// setting another's. Prints only what does not depend on how many CPUs there are.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../conformance/show.h"

#define NO_SUCH_PID 0x7ffffff0

static long raw_get(long pid, size_t size, void* mask) { return syscall(SYS_sched_getaffinity, pid, size, mask); }
static long raw_set(long pid, size_t size, const void* mask) { return syscall(SYS_sched_setaffinity, pid, size, mask); }

static int g_first, g_last;  // the lowest and highest CPU of the initial mask

static int only(int cpu) {  // the calling thread's mask is exactly {cpu}
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set) == 1 && CPU_ISSET(cpu, &set);
}

static int pin(long tid, int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(tid, sizeof set, &set);
}

static void* inherits(void* unused) {
    (void)unused;
    printf("thread: inherits {last}: %d, on it: %d\n", only(g_last), sched_getcpu() == g_last);
    // Its own mask changes, the creator's does not (per thread).
    int pinned = pin(0, g_first);  // before the check (argument order is unspecified)
    printf("thread: pin to first: %d, on it: %d\n", pinned, sched_getcpu() == g_first);
    return NULL;
}

static atomic_int g_tid, g_go;
static void* pinned_by_other(void* unused) {
    (void)unused;
    atomic_store(&g_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&g_go)) {}
    printf("other: mask {first}: %d, on it: %d\n", only(g_first), sched_getcpu() == g_first);
    return NULL;
}

int main(void) {
    cpu_set_t all;
    CPU_ZERO(&all);
    SHOW("sched_getaffinity(0)", sched_getaffinity(0, sizeof all, &all));
    printf("at least one CPU: %d\n", CPU_COUNT(&all) >= 1);
    g_first = -1;
    for (int i = 0; i < CPU_SETSIZE; ++i)
        if (CPU_ISSET(i, &all)) {
            if (g_first < 0) g_first = i;
            g_last = i;
        }
    uint64_t buf[16];
    long bytes = raw_get(0, sizeof buf, buf);
    printf("raw getaffinity returns whole longs: %d\n", bytes > 0 && bytes % 8 == 0);
    SHOW("getaffinity size 4", raw_get(0, 4, buf));
    SHOW("getaffinity size 0", raw_get(0, 0, buf));
    SHOW("getaffinity size 12", raw_get(0, 12, buf));
    SHOW("getaffinity no such pid", raw_get(NO_SUCH_PID, 8, buf));
    SHOW("getaffinity bad pointer", raw_get(0, 8, (void*)8));

    uint64_t empty = 0, offline = UINT64_C(1) << 63;
    SHOW("setaffinity empty mask", raw_set(0, 8, &empty));
    SHOW("setaffinity offline CPU only", raw_set(0, 8, &offline));
    SHOW("setaffinity size 0", raw_set(0, 0, &all));
    SHOW("setaffinity bad pointer", raw_set(0, 8, (void*)8));
    SHOW("setaffinity no such pid", raw_set(NO_SUCH_PID, 8, &all));
    uint32_t first_only = 1u << g_first;  // a 4-byte mask: zero-extended
    SHOW("setaffinity size 4", raw_set(0, 4, &first_only));
    printf("mask is {first}: %d, on it: %d\n", only(g_first), sched_getcpu() == g_first);
    uint64_t with_offline = (UINT64_C(1) << g_last) | offline;  // offline bits are ignored
    SHOW("setaffinity last + offline", raw_set(0, 8, &with_offline));
    printf("on last: %d\n", sched_getcpu() == g_last);
    unsigned cpu = 99, node = 99;
    SHOW("getcpu", (long)syscall(SYS_getcpu, &cpu, &node, NULL));
    printf("getcpu: on last: %d, node 0: %d\n", (int)cpu == g_last, node == 0);

    pthread_t thread;
    if (pthread_create(&thread, NULL, inherits, NULL) != 0) return 1;
    pthread_join(thread, NULL);
    printf("main: still {last} only: %d\n", only(g_last));

    pid_t child = fork();
    if (child == 0) _exit(only(g_last) && sched_getcpu() == g_last ? 7 : 1);
    int status = 0;
    waitpid(child, &status, 0);
    printf("fork: child inherits {last} (7): %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    // One thread sets another's mask (by its thread id) while it runs.
    SHOW("setaffinity all", (long)sched_setaffinity(0, sizeof all, &all));
    if (pthread_create(&thread, NULL, pinned_by_other, NULL) != 0) return 1;
    while (!atomic_load(&g_tid)) sched_yield();
    SHOW("setaffinity other thread", (long)pin(atomic_load(&g_tid), g_first));
    atomic_store(&g_go, 1);
    pthread_join(thread, NULL);
    printf("main: mask all again: %d\n", ({
               cpu_set_t now;
               sched_getaffinity(0, sizeof now, &now) == 0 && CPU_EQUAL(&now, &all);
           }));
    printf("affinity: done\n");
    return 0;
}
