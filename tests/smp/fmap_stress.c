// File mappings on several CPUs (docs/locking.md "Memory and futexes", branch smp-fmap): threads
// fault the same pages of one tmpfs file at once, through private mappings (read faults map the
// file's pages, write faults copy them) and shared ones (the file's own pages), while each thread
// also changes its own mappings (mprotect back and forth, munmap, mmap again) and one thread maps
// and unmaps the whole file over and over: every byte read must be the file's (or the thread's
// own write), the file must keep its data where only private mappings wrote, and see each
// thread's writes through shared mappings. Without a lock of the file cache's own, a fault on one
// CPU and an mmap, munmap or fault on another met in the cache's page list.
// Usage: fmap_stress [ROUNDS]. Exit status 0 = every check passed.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../image/check.h"

#define PAGES 16  // pages 0..7: read-only data; 8..15: each thread writes its own bytes there
#define THREADS 4
#define PAGE 4096

static int g_fd;
static int g_rounds = 40;

static char expected(int page, int offset) { return (char)('a' + (page * 7 + offset / 512) % 26); }

// Reads a few bytes of every data page through `map`, returns the mismatches.
static long check_data(const char* map) {
    long bad = 0;
    for (int p = 0; p < PAGES / 2; ++p)
        for (int offset = 0; offset < PAGE; offset += 1000)
            if (map[p * PAGE + offset] != expected(p, offset)) ++bad;
    return bad;
}

static void* worker(void* arg) {
    long id = (long)arg;
    long failures = 0;
    for (int round = 0; round < g_rounds; ++round) {
        char value = (char)('A' + (round + id) % 26);
        // Private: read faults (the file's pages), then a write into each page (copies).
        char* private_map = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, g_fd, 0);
        if (private_map == MAP_FAILED) return (void*)1000;
        failures += check_data(private_map);
        for (int p = 0; p < PAGES / 2; ++p) private_map[p * PAGE + 8 + id] = value;
        for (int p = 0; p < PAGES / 2; ++p)
            if (private_map[p * PAGE + 8 + id] != value || private_map[p * PAGE + 1000] != expected(p, 1000))
                ++failures;
        // mprotect back and forth on the private mapping while the others fault the same pages.
        if (mprotect(private_map, PAGES * PAGE, PROT_READ) != 0) ++failures;
        failures += check_data(private_map);  // read-only now: the copies and the file's pages
        if (private_map[8 + id] != value) ++failures;
        if (mprotect(private_map, PAGES * PAGE, PROT_READ | PROT_WRITE) != 0) ++failures;
        private_map[PAGE + 8 + id] = (char)(value + 1);
        if (private_map[PAGE + 8 + id] != (char)(value + 1)) ++failures;
        // Shared: this thread's bytes in pages 8..15, written through the file's own pages.
        char* shared_map = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, g_fd, 0);
        if (shared_map == MAP_FAILED) return (void*)1000;
        failures += check_data(shared_map);
        for (int p = PAGES / 2; p < PAGES; ++p) shared_map[p * PAGE + 64 * id] = value;
        if (mprotect(shared_map, PAGES * PAGE, PROT_READ) != 0) ++failures;
        for (int p = PAGES / 2; p < PAGES; ++p)
            if (shared_map[p * PAGE + 64 * id] != value) ++failures;
        munmap(shared_map, PAGES * PAGE);
        munmap(private_map, PAGES * PAGE);
        // The file: its data pages untouched by the private writes, this thread's shared bytes there.
        char byte = 0;
        for (int p = 0; p < PAGES / 2; ++p)
            if (pread(g_fd, &byte, 1, p * PAGE + 8 + id) != 1 || byte != expected(p, 8 + id)) ++failures;
        for (int p = PAGES / 2; p < PAGES; ++p)
            if (pread(g_fd, &byte, 1, p * PAGE + 64 * id) != 1 || byte != value) ++failures;
        // A fresh private mapping sees the shared writes (the same pages).
        char* again = mmap(NULL, PAGES * PAGE, PROT_READ, MAP_PRIVATE, g_fd, 0);
        if (again == MAP_FAILED) return (void*)1000;
        if (again[(PAGES - 1) * PAGE + 64 * id] != value) ++failures;
        munmap(again, PAGES * PAGE);
    }
    return (void*)failures;
}

// Maps and unmaps the whole file, shared and private, touching one page each time.
static volatile int g_stop;
static void* churner(void* arg) {
    (void)arg;
    long failures = 0;
    for (long n = 0; !g_stop; ++n) {
        int shared = n % 2;
        char* map = mmap(NULL, PAGES * PAGE, PROT_READ, shared ? MAP_SHARED : MAP_PRIVATE, g_fd, 0);
        if (map == MAP_FAILED) return (void*)1000;
        int p = (int)(n % (PAGES / 2));
        if (map[p * PAGE + 2000] != expected(p, 2000)) ++failures;
        munmap(map, PAGES * PAGE);
    }
    return (void*)failures;
}

int main(int argc, char** argv) {
    if (argc > 1) g_rounds = atoi(argv[1]);
    mkdir("/tmp", 01777);
    g_fd = open("/tmp/fmap_stress", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(g_fd >= 0);
    static char page[PAGE];
    for (int p = 0; p < PAGES; ++p) {
        for (int offset = 0; offset < PAGE; ++offset) page[offset] = p < PAGES / 2 ? expected(p, offset) : 0;
        CHECK(write(g_fd, page, PAGE) == PAGE);
    }
    pthread_t threads[THREADS], churn;
    for (long i = 0; i < THREADS; ++i) CHECK(pthread_create(&threads[i], NULL, worker, (void*)i) == 0);
    CHECK(pthread_create(&churn, NULL, churner, NULL) == 0);
    long failures = 0;
    for (int i = 0; i < THREADS; ++i) {
        void* result = NULL;
        pthread_join(threads[i], &result);
        failures += (long)result;
    }
    g_stop = 1;
    void* result = NULL;
    pthread_join(churn, &result);
    failures += (long)result;
    printf("fmap_stress: %d rounds x %d threads, %ld mismatch(es)\n", g_rounds, THREADS, failures);
    CHECK(failures == 0);
    close(g_fd);
    unlink("/tmp/fmap_stress");
    printf("fmap_stress: %d failure(s)\n", check_failures);
    return check_failures;
}
