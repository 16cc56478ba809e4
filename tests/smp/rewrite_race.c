// The syscall rewriter patching sites that other CPUs run at the same time (libos/rewrite,
// "poke"): threads on every CPU call the same fresh `mov $39,%eax; syscall; ret` and `mov
// $39,%rax; syscall; ret` sites (getpid) in the same order at the same time, so a site's first
// trap patches it while the other threads run it. Patched in one go, a thread could fetch the
// jump's displacement with the old `mov` opcode: `mov $DISPLACEMENT,%eax; syscall`, a syscall
// with the wrong number (ENOSYS, not the pid). With the int3 steps every call returns the pid:
// the others run the old bytes, meet the int3 (continued in the trampoline: /proc/xos/rewrite's
// poke_traps) or take the jump. Every site must end patched. Exit status 0 = every check passed.
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

#define PAGE 4096u
#define PAGES 8
#define SITE_SIZE 16  // one site per 16 bytes: 256 a page
#define SITES (PAGES * PAGE / SITE_SIZE)
#define THREADS 4
#define PASSES 3

static uint8_t* g_code;
static atomic_int g_arrived, g_go;
static atomic_long g_wrong;
static long g_pid;
static int g_cpus;

typedef long (*Site)(void);

static void* run(void* arg) {
    long index = (long)arg;
    if (g_cpus > 1) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)(index % g_cpus), &set);
        CHECK(sched_setaffinity(0, sizeof set, &set) == 0);
    }
    atomic_fetch_add(&g_arrived, 1);
    while (!atomic_load(&g_go)) {}
    for (int pass = 0; pass < PASSES; ++pass) {
        for (int i = 0; i < SITES; ++i) {
            long got = ((Site)(g_code + i * SITE_SIZE))();
            if (got != g_pid) {
                if (atomic_fetch_add(&g_wrong, 1) < 10)
                    printf("FAIL thread %ld pass %d site %d: %ld instead of the pid %ld\n", index, pass, i, got, g_pid);
            }
        }
    }
    return NULL;
}

static long proc_counter(const char* name) {
    FILE* file = fopen("/proc/xos/rewrite", "r");
    if (!file) return -1;
    char key[64];
    unsigned long value;
    long found = -1;
    while (fscanf(file, "%63s %lu%*[^\n]", key, &value) == 2)
        if (strcmp(key, name) == 0) found = (long)value;
    fclose(file);
    return found;
}

int main(void) {
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    g_cpus = CPU_COUNT(&set);
    g_pid = getpid();
    g_code = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(g_code != MAP_FAILED);
    if (g_code == MAP_FAILED) return 1;
    memset(g_code, 0xcc, PAGES * PAGE);
    static const uint8_t mov_eax[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};  // mov $39,%eax; syscall; ret
    static const uint8_t mov_rax[] = {0x48, 0xc7, 0xc0, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};  // mov $39,%rax; ...
    for (int i = 0; i < SITES; ++i) {
        const uint8_t* shape = i % 2 ? mov_rax : mov_eax;
        memcpy(g_code + i * SITE_SIZE, shape, i % 2 ? sizeof mov_rax : sizeof mov_eax);
    }
    CHECK(mprotect(g_code, PAGES * PAGE, PROT_READ | PROT_EXEC) == 0);
    long patched_before = proc_counter("patched");
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; ++i) CHECK(pthread_create(&threads[i], NULL, run, (void*)i) == 0);
    while (atomic_load(&g_arrived) < THREADS) sched_yield();
    atomic_store(&g_go, 1);
    for (int i = 0; i < THREADS; ++i) CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(atomic_load(&g_wrong) == 0);
    long patched = proc_counter("patched") - patched_before, poke_traps = proc_counter("poke_traps");
    // Each site patched once (a thread that trapped at a site another one was patching finds it
    // patched and is not counted again).
    CHECK(patched == SITES);
    CHECK(poke_traps >= 0);
    if (g_cpus == 1) CHECK(poke_traps == 0);  // one CPU: no int3 steps
    // Every site is a jump now: mov $39,%eax is gone.
    int still_mov = 0;
    for (int i = 0; i < SITES; ++i) still_mov += g_code[i * SITE_SIZE] != 0xe9;
    CHECK(still_mov == 0);
    printf("rewrite_race: cpus %d sites %d patched %ld poke_traps %ld wrong %ld\n", g_cpus, SITES, patched, poke_traps,
           atomic_load(&g_wrong));
    printf("rewrite_race: %d failure(s)\n", check_failures);
    return check_failures != 0;
}
