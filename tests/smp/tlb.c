// TLB shootdown (issue 17): one thread reads a page in a loop (its CPU caches the translation)
// while another unmaps it, or makes it PROT_NONE, or maps a different page over it; once the
// changer has said so, the reader must fault (SIGSEGV) or see the new page, never the old one.
// With several CPUs the two threads run on different CPUs; repeated ROUNDS times per kind.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../image/check.h"

#define ROUNDS 10

static volatile uint64_t* volatile g_page;
static atomic_int g_round, g_changed, g_reader_ready, g_done_round;
static sigjmp_buf g_jump;
static long g_faults, g_stale, g_new_seen;
static atomic_int g_reader_cpus, g_changer_cpus;

static void on_segv(int signal) {
    (void)signal;
    siglongjmp(g_jump, 1);
}

static void note(atomic_int* mask) {
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < 31) atomic_fetch_or(mask, 1 << cpu);
}

static void* reader(void* unused) {
    (void)unused;
    for (int round = 1; round <= ROUNDS * 3; ++round) {
        while (atomic_load(&g_round) != round) {}
        note(&g_reader_cpus);
        if (sigsetjmp(g_jump, 1) == 0) {
            uint64_t old_value = (uint64_t)round;
            atomic_store(&g_reader_ready, round);
            for (;;) {
                int changed = atomic_load(&g_changed) == round;
                uint64_t value = *g_page;  // faults once the page is gone
                if (changed) {
                    if (value == old_value)
                        ++g_stale;  // a stale translation
                    else
                        ++g_new_seen;
                    break;
                }
            }
        } else {
            ++g_faults;
        }
        atomic_store(&g_done_round, round);
    }
    return NULL;
}

int main(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_segv;
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGSEGV, &action, NULL) == 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, reader, NULL) == 0);
    int expect_faults = 0, expect_new = 0;
    for (int round = 1; round <= ROUNDS * 3; ++round) {
        uint64_t* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(page != MAP_FAILED);
        *page = (uint64_t)round;
        g_page = page;
        atomic_store(&g_round, round);
        while (atomic_load(&g_reader_ready) != round) {}
        for (volatile int spin = 0; spin < 20000; ++spin) {}  // the reader keeps reading meanwhile
        note(&g_changer_cpus);
        int kind = round % 3;
        if (kind == 0) {
            CHECK(munmap(page, 4096) == 0);
            ++expect_faults;
        } else if (kind == 1) {
            CHECK(mprotect(page, 4096, PROT_NONE) == 0);
            ++expect_faults;
        } else {  // a new page over the old one
            void* again = mmap(page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            CHECK(again == page);
            ++expect_new;
        }
        atomic_store(&g_changed, round);
        while (atomic_load(&g_done_round) != round) {}
        if (kind != 0) munmap(page, 4096);
    }
    CHECK(pthread_join(thread, NULL) == 0);
    printf("tlb: %d rounds: %ld fault(s) (expected %d), %ld new page(s) seen (expected %d), %ld stale read(s); "
           "reader on CPUs %#x, changer on %#x\n",
           ROUNDS * 3, g_faults, expect_faults, g_new_seen, expect_new, g_stale, atomic_load(&g_reader_cpus),
           atomic_load(&g_changer_cpus));
    CHECK(g_stale == 0);
    CHECK(g_faults == expect_faults);
    CHECK(g_new_seen == expect_new);
    printf("tlb: %d failure(s)\n", check_failures);
    return check_failures ? 1 : 0;
}
